import { describe, expect, test } from 'vitest';
import type { KubeObject } from '../object.ts';
import {
  A,
  baseSelector,
  blueGreenState,
  type CanaryReplicas,
  canaryObject,
  canaryReplicaCount,
  colorObject,
  colorSelector,
  mapPatch,
  nextColor,
  ownedFields,
  ProgressiveError,
  previewService,
  promotedStable,
  promotedTemplate,
  RELEASE_LABEL,
  releaseId,
  releaseOfTemplate,
  scaledWorkload,
  selects,
  TRACK_LABEL,
} from './objects.ts';
import { splitManifests } from './prepare.ts';

const manifest = (): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'shop', labels: { app: 'web' }, annotations: { 'shipline.dev/commit': 'c2' } },
  spec: {
    replicas: 4,
    selector: { matchLabels: { app: 'web' } },
    template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: 'r/web@sha256:new' }] } },
  },
});

const stable = (over: Partial<KubeObject['metadata']> = {}, replicas = 10): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'shop', uid: 's1', generation: 7, annotations: { 'deployment.kubernetes.io/revision': '3' }, ...over },
  spec: {
    replicas,
    selector: { matchLabels: { app: 'web' } },
    template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: 'r/web@sha256:old' }] } },
  },
});

describe('canary replicas', () => {
  test.each<[CanaryReplicas, number, number]>([
    [{ count: 1 }, 10, 1],
    [{ count: 3 }, 1, 3],
    [{ percent: 20 }, 10, 2],
    [{ percent: 20 }, 4, 1], // 0.8 rounds up
    [{ percent: 25 }, 3, 1],
    [{ percent: 34 }, 3, 2], // 1.02 rounds up
    [{ percent: 10 }, 0, 1], // never below one pod
    [{ percent: 100 }, 5, 5],
    [{ percent: 33.3 }, 3, 1], // float noise does not add a pod
  ])('%o of %i stable replicas → %i', (spec, stableReplicas, want) => {
    expect(canaryReplicaCount(spec, stableReplicas)).toBe(want);
  });
});

describe('canaryObject', () => {
  const c = canaryObject({ manifest: manifest(), stable: stable(), replicas: { percent: 20 }, runUrl: 'https://ci/run/1' });
  test.each<[string, (o: KubeObject) => unknown, unknown]>([
    ['name', (o) => o.metadata.name, 'web-canary'],
    ['namespace', (o) => o.metadata.namespace, 'shop'],
    ['replicas: 20% of the live stable (10), not of the manifest', (o) => (o.spec as { replicas: number }).replicas, 2],
    [
      'selector: the stable selector plus the track',
      (o) => (o.spec as { selector: unknown }).selector,
      { matchLabels: { app: 'web', [TRACK_LABEL]: 'canary' } },
    ],
    [
      'pod labels keep the Service-selected ones',
      (o) => (o.spec as { template: { metadata: { labels: unknown } } }).template.metadata.labels,
      { app: 'web', [TRACK_LABEL]: 'canary', [RELEASE_LABEL]: expect.stringMatching(/^[0-9a-f]{10}$/) },
    ],
    [
      'image as substituted',
      (o) => (o.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0]?.image,
      'r/web@sha256:new',
    ],
    ['canary-of', (o) => o.metadata.annotations?.[A.canaryOf], 'web'],
    ['strategy', (o) => o.metadata.annotations?.[A.strategy], 'canary'],
    ['stable revision', (o) => o.metadata.annotations?.[A.stableRevision], '3'],
    ['stable generation', (o) => o.metadata.annotations?.[A.stableGeneration], '7'],
    ['run URL', (o) => o.metadata.annotations?.[A.runUrl], 'https://ci/run/1'],
    ['provenance kept', (o) => o.metadata.annotations?.['shipline.dev/commit'], 'c2'],
    ['labelled as a canary (found by list)', (o) => o.metadata.labels?.[TRACK_LABEL], 'canary'],
  ])('%s', (_, get, want) => {
    expect(get(c)).toEqual(want);
  });

  test('the manifest is not changed', () => {
    const m = manifest();
    canaryObject({ manifest: m, stable: stable(), replicas: { count: 1 } });
    expect(m).toEqual(manifest());
  });
});

describe('promote', () => {
  const canary = canaryObject({ manifest: manifest(), stable: stable(), replicas: { count: 1 } });
  (canary.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels['pod-template-hash'] = 'abc';
  test('the template loses the track label (and any template hash) and keeps the pinned image', () => {
    expect(promotedTemplate(canary)).toEqual({ metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: 'r/web@sha256:new' }] } });
  });

  const managed = [
    {
      manager: 'shipline',
      operation: 'Apply',
      fieldsV1: {
        'f:metadata': { 'f:labels': { 'f:app': {} }, 'f:annotations': { 'f:shipline.dev/commit': {} } },
        'f:spec': { 'f:replicas': {}, 'f:selector': {}, 'f:template': {}, 'f:minReadySeconds': {} },
      },
    },
    { manager: 'kube-controller-manager', operation: 'Update', fieldsV1: { 'f:metadata': { 'f:annotations': { 'f:deployment.kubernetes.io/revision': {} } } } },
  ];
  const live = stable({
    labels: { app: 'web', team: 'x' },
    managedFields: managed,
    annotations: { 'deployment.kubernetes.io/revision': '3', 'shipline.dev/commit': 'c1' },
  });
  (live.spec as Record<string, unknown>).minReadySeconds = 5;
  (live.spec as Record<string, unknown>).progressDeadlineSeconds = 600;

  test('ownedFields reads one manager’s applied fields', () => {
    const o = ownedFields(live, 'shipline');
    expect([...o.spec].sort()).toEqual(['minReadySeconds', 'replicas', 'selector', 'template']);
    expect([...o.labels]).toEqual(['app']);
    expect([...o.annotations]).toEqual(['shipline.dev/commit']);
  });

  test.each<[string, (o: KubeObject) => unknown, unknown]>([
    [
      'keeps the fields Shipline owns (nothing is dropped by the apply)',
      (o) => Object.keys(o.spec as object).sort(),
      ['minReadySeconds', 'replicas', 'selector', 'template'],
    ],
    ['replicas stay the stable’s', (o) => (o.spec as { replicas: number }).replicas, 10],
    ['the canary’s template', (o) => (o.spec as { template: unknown }).template, promotedTemplate(canary)],
    ['labels: only those Shipline owns', (o) => o.metadata.labels, { app: 'web' }],
    ['provenance of the canary', (o) => o.metadata.annotations, { 'shipline.dev/commit': 'c2' }],
    ['same object', (o) => [o.metadata.name, o.metadata.namespace], ['web', 'shop']],
  ])('promotedStable %s', (_, get, want) => {
    expect(get(promotedStable(live, canary, 'shipline'))).toEqual(want);
  });

  test.each<[number, number | null, Record<string, string>]>([
    [0, 10, { 'shipline.dev/commit': 'c1', [A.replicasBefore]: '10' }],
    [3, null, { 'shipline.dev/commit': 'c1' }],
  ])('scaledWorkload to %i (before %s): same owned fields and template, replicas changed', (n, before, annotations) => {
    const s = scaledWorkload(live, 'shipline', n, before);
    const spec = live.spec as Record<string, unknown>;
    expect(s.spec).toEqual({ replicas: n, selector: spec.selector, template: spec.template, minReadySeconds: 5 });
    expect(s.metadata.annotations).toEqual(annotations);
  });
});

describe('blue-green', () => {
  test.each([
    [undefined, 'blue'],
    ['blue', 'green'],
    ['green', 'blue'],
  ] as const)('live %s → next %s', (live, want) => {
    expect(nextColor(live)).toBe(want);
  });

  const g = colorObject(manifest(), 'green', 2);
  test.each<[string, (o: KubeObject) => unknown, unknown]>([
    ['name', (o) => o.metadata.name, 'web-green'],
    ['selector', (o) => (o.spec as { selector: unknown }).selector, { matchLabels: { app: 'web', 'shipline.dev/color': 'green' } }],
    [
      'pod labels',
      (o) => (o.spec as { template: { metadata: { labels: unknown } } }).template.metadata.labels,
      { app: 'web', 'shipline.dev/color': 'green', [RELEASE_LABEL]: expect.stringMatching(/^[0-9a-f]{10}$/) },
    ],
    ['replicas of the manifest win', (o) => (o.spec as { replicas: number }).replicas, 4],
    ['color-of', (o) => o.metadata.annotations?.[A.colorOf], 'web'],
  ])('colorObject %s', (_, get, want) => {
    expect(get(g)).toEqual(want);
  });

  test('colorObject takes the live replicas when the manifest sets none', () => {
    const m = manifest();
    delete (m.spec as Record<string, unknown>).replicas;
    expect((colorObject(m, 'blue', 3).spec as { replicas: number }).replicas).toBe(3);
  });

  test.each<[Record<string, string>, Record<string, string>]>([
    [{ app: 'web' }, { app: 'web' }],
    [{ app: 'web', 'pod-template-hash': '5d9f' }, { app: 'web' }],
    [{ app: 'web', 'shipline.dev/color': 'blue' }, { app: 'web' }],
  ])('baseSelector(%o) = %o', (sel, want) => {
    expect(baseSelector(sel)).toEqual(want);
    expect(colorSelector(sel, 'green')).toEqual({ ...want, 'shipline.dev/color': 'green' });
  });

  test('previewService: same ports (no nodePort), selects the new colour only', () => {
    const main: KubeObject = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'shop' },
      spec: { type: 'NodePort', selector: { app: 'web', 'pod-template-hash': 'h' }, ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080 }] },
    };
    expect(previewService(main, 'blue')).toMatchObject({
      metadata: { name: 'web-preview', namespace: 'shop', annotations: { [A.previewOf]: 'web' } },
      spec: { type: 'ClusterIP', selector: { app: 'web', 'shipline.dev/color': 'blue' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    });
  });

  test.each<[Record<string, string>, Record<string, string>, boolean]>([
    [{ app: 'web' }, { app: 'web', 'shipline.dev/color': 'blue' }, true],
    [{ app: 'web', 'shipline.dev/color': 'green' }, { app: 'web', 'shipline.dev/color': 'blue' }, false],
    [{}, { app: 'web' }, false],
  ])('selects(%o, %o) = %s', (sel, labels, want) => {
    expect(selects(sel, labels)).toBe(want);
  });

  test.each<[Record<string, string>, Record<string, string>, Record<string, string | null>]>([
    [
      { app: 'web', 'pod-template-hash': 'h' },
      { app: 'web', 'shipline.dev/color': 'blue' },
      { app: 'web', 'shipline.dev/color': 'blue', 'pod-template-hash': null },
    ],
    [
      { app: 'web', 'shipline.dev/color': 'blue' },
      { app: 'web', 'shipline.dev/color': 'green' },
      { app: 'web', 'shipline.dev/color': 'green' },
    ],
  ])('mapPatch(%o → %o)', (from, to, want) => {
    expect(mapPatch(from, to)).toEqual(want);
  });

  test('blueGreenState reads what promote wrote', () => {
    const svc: KubeObject = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'web',
        annotations: {
          [A.liveWorkload]: 'web-blue',
          [A.liveColor]: 'blue',
          [A.previousWorkload]: 'web',
          [A.previousSelector]: '{"app":"web","pod-template-hash":"h"}',
        },
      },
    };
    expect(blueGreenState(svc)).toEqual({
      liveWorkload: 'web-blue',
      liveColor: 'blue',
      newColor: undefined,
      previousWorkload: 'web',
      previousColor: undefined,
      previousSelector: { app: 'web', 'pod-template-hash': 'h' },
    });
    expect(blueGreenState({ ...svc, metadata: { name: 'web' } }).liveWorkload).toBe('web');
    expect(() => blueGreenState({ ...svc, metadata: { name: 'web', annotations: { [A.previousSelector]: '[1]' } } })).toThrow(ProgressiveError);
  });
});

describe('splitManifests', () => {
  const m = (kind: string, name: string, apiVersion = 'v1') => ({ source: `k8s/${name}.yaml:1`, object: { apiVersion, kind, metadata: { name } } });
  test('Deployments become the releases (namespace filled in), the rest is kept apart', () => {
    const p = splitManifests([m('Deployment', 'web', 'apps/v1'), m('ConfigMap', 'cfg'), m('Service', 'web')], 'shop', 'canary');
    expect(p.deployments.map((d) => `${d.metadata.namespace}/${d.metadata.name}`)).toEqual(['shop/web']);
    expect(p.others.map((o) => o.object.kind)).toEqual(['ConfigMap', 'Service']);
  });
  test.each([
    [[m('Deployment', 'web', 'apps/v1'), m('StatefulSet', 'db', 'apps/v1')], /Deployments only.*StatefulSet db/],
    [[m('ConfigMap', 'cfg')], /at least one Deployment/],
  ])('refuses %#', (manifests, msg) => {
    expect(() => splitManifests(manifests, 'shop', 'blue-green')).toThrow(msg);
  });
});

describe('release ids', () => {
  test('one per pod template: the same template gives the same id, another image another one', () => {
    const a = canaryObject({ manifest: manifest(), stable: stable(), replicas: { count: 1 } });
    const b = canaryObject({ manifest: manifest(), stable: stable(), replicas: { count: 2 } });
    const other = manifest();
    const container = (other.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0] as { image: string };
    container.image = 'r/web@sha256:other';
    const c = canaryObject({ manifest: other, stable: stable(), replicas: { count: 1 } });
    expect(releaseOfTemplate(a)).toBe(releaseOfTemplate(b));
    expect(releaseOfTemplate(a)).not.toBe(releaseOfTemplate(c));
    expect(releaseId({ x: 1 })).toMatch(/^[0-9a-f]{10}$/);
  });
  test('a promote does not carry the release label onto the stable pods', () => {
    const canary = canaryObject({ manifest: manifest(), stable: stable(), replicas: { count: 1 } });
    const labels = (promotedTemplate(canary).metadata as { labels: Record<string, string> }).labels;
    expect(labels[RELEASE_LABEL]).toBeUndefined();
  });
});
