import { describe, expect, it } from 'vitest';
import { ImageRefError } from './errors.ts';
import { parseImageName, planImages, podSpecOf, substituteImages } from './images.ts';
import type { KubeObject } from './object.ts';

const D1 = `sha256:${'a'.repeat(64)}`;
const D2 = `sha256:${'b'.repeat(64)}`;

describe('parseImageName', () => {
  it.each([
    ['nginx', 'docker.io/library/nginx', undefined, undefined],
    ['nginx:1.27', 'docker.io/library/nginx', '1.27', undefined],
    ['team/app', 'docker.io/team/app', undefined, undefined],
    ['index.docker.io/library/nginx', 'docker.io/library/nginx', undefined, undefined],
    ['reg:5000/app', 'reg:5000/app', undefined, undefined],
    ['reg:5000/app:v1', 'reg:5000/app', 'v1', undefined],
    [`reg:5000/app@${D1}`, 'reg:5000/app', undefined, D1],
    [`reg:5000/app:v1@${D1}`, 'reg:5000/app', 'v1', D1],
    ['127.0.0.1:5000/shop/orders:1.0', '127.0.0.1:5000/shop/orders', '1.0', undefined],
    ['localhost/app', 'localhost/app', undefined, undefined],
    ['REG.example.com/app', 'reg.example.com/app', undefined, undefined],
    ['ghcr.io/org/app-worker:2', 'ghcr.io/org/app-worker', '2', undefined],
  ])('%s', (image, repository, tag, digest) => {
    expect(parseImageName(image)).toEqual({ repository, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) });
  });
  it.each(['', 'a b', 'http://reg/app', 'reg:5000/App', 'reg:5000/app@sha256:123', 'reg:5000/app:-bad', 'reg:5000/', 'reg:5000//x'])(
    '%j is refused',
    (image) => {
      expect(parseImageName(image)).toHaveProperty('error');
    },
  );
});

function deployment(name: string, images: Record<string, string[]>): KubeObject {
  const list = (k: string) => (images[k] ?? []).map((image, i) => ({ name: `${k}-${i}`, image }));
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'shop' },
    spec: { template: { spec: { containers: list('containers'), initContainers: list('initContainers'), ephemeralContainers: list('ephemeralContainers') } } },
  };
}

const images = (o: KubeObject) => {
  const spec = podSpecOf(o) as { containers?: { image: string }[]; initContainers?: { image: string }[]; ephemeralContainers?: { image: string }[] };
  return [...(spec.initContainers ?? []), ...(spec.containers ?? []), ...(spec.ephemeralContainers ?? [])].map((c) => c.image);
};

describe('substituteImages', () => {
  // [why, refs, images in the manifest, images after]
  const table: [string, string[], string[], string[]][] = [
    [
      'the anchor bug: app must not touch app-worker or other',
      [`reg:5000/app:v2@${D1}`],
      ['reg:5000/app:v1', 'reg:5000/app-worker:v1', 'reg:5000/other:v1'],
      [`reg:5000/app:v2@${D1}`, 'reg:5000/app-worker:v1', 'reg:5000/other:v1'],
    ],
    [
      'a longer name is not a prefix match either way',
      ['reg:5000/app-worker:v9'],
      ['reg:5000/app:v1', 'reg:5000/app-worker:v1'],
      ['reg:5000/app:v1', 'reg:5000/app-worker:v9'],
    ],
    [
      'sub-paths are other repositories',
      ['reg:5000/app:v2'],
      ['reg:5000/app/sub:v1', 'reg:5000/apps:v1', 'reg:5000/app'],
      ['reg:5000/app/sub:v1', 'reg:5000/apps:v1', 'reg:5000/app:v2'],
    ],
    [
      'another port is another registry',
      ['reg:5000/app:v2'],
      ['reg:5001/app:v1', 'reg/app:v1', 'reg:5000/app:v1'],
      ['reg:5001/app:v1', 'reg/app:v1', 'reg:5000/app:v2'],
    ],
    [
      'digest refs pin by digest, replacing tag and old digest',
      [`127.0.0.1:5000/shop/orders@${D2}`],
      [`127.0.0.1:5000/shop/orders:1.0@${D1}`],
      [`127.0.0.1:5000/shop/orders@${D2}`],
    ],
    [
      'docker hub short names match their long form',
      [`docker.io/library/nginx@${D1}`],
      ['nginx', 'nginx:1.27', 'library/nginx:1', 'nginxinc/nginx'],
      [`docker.io/library/nginx@${D1}`, `docker.io/library/nginx@${D1}`, `docker.io/library/nginx@${D1}`, 'nginxinc/nginx'],
    ],
    ['registry host is case-insensitive', ['reg.example.com/app:2'], ['REG.example.com/app:1'], ['reg.example.com/app:2']],
    [
      'two refs, two repositories',
      ['reg:5000/app:2', 'reg:5000/app-worker:3'],
      ['reg:5000/app:1', 'reg:5000/app-worker:1'],
      ['reg:5000/app:2', 'reg:5000/app-worker:3'],
    ],
    ['no refs change nothing', [], ['reg:5000/app:1'], ['reg:5000/app:1']],
  ];
  it.each(table)('%s', (_why, refs, before, after) => {
    const d = deployment('web', { containers: before });
    substituteImages([d], planImages(refs));
    expect(images(d)).toEqual(after);
  });

  it('reaches initContainers and ephemeralContainers, and CronJob, Pod, Job, StatefulSet, DaemonSet, ReplicaSet', () => {
    const pod = (spec: object) => ({ containers: [{ name: 'c', image: 'reg:5000/app:1' }], ...spec });
    const objs: KubeObject[] = [
      deployment('d', { initContainers: ['reg:5000/app:1'], containers: ['reg:5000/app-worker:1'], ephemeralContainers: ['reg:5000/app:1'] }),
      { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'cj' }, spec: { jobTemplate: { spec: { template: { spec: pod({}) } } } } },
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: pod({ initContainers: [{ name: 'i', image: 'reg:5000/app' }] }) },
      ...['StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job'].map((kind) => ({
        apiVersion: 'apps/v1',
        kind,
        metadata: { name: kind.toLowerCase() },
        spec: { template: { spec: pod({}) } },
      })),
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' }, data: { image: 'reg:5000/app:1' } },
    ];
    const { changes, unused } = substituteImages(objs, planImages([`reg:5000/app@${D1}`]));
    expect(images(objs[0] as KubeObject)).toEqual([`reg:5000/app@${D1}`, 'reg:5000/app-worker:1', `reg:5000/app@${D1}`]);
    for (const o of objs.slice(1, -1)) expect(images(o).every((i) => i === `reg:5000/app@${D1}`)).toBe(true);
    expect((objs.at(-1)?.data as { image: string } | undefined)?.image).toBe('reg:5000/app:1');
    expect(changes.map((c) => `${c.object} ${c.container}`)).toEqual([
      'Deployment shop/d initContainers/initContainers-0',
      'Deployment shop/d ephemeralContainers/ephemeralContainers-0',
      'CronJob cj c',
      'Pod p initContainers/i',
      'Pod p c',
      'StatefulSet statefulset c',
      'DaemonSet daemonset c',
      'ReplicaSet replicaset c',
      'Job job c',
    ]);
    expect(unused).toEqual([]);
  });

  it('reports refs that matched no container', () => {
    const { unused } = substituteImages([deployment('d', { containers: ['reg:5000/app:1'] })], planImages(['reg:5000/app:2', 'reg:5000/gone:1']));
    expect(unused).toEqual(['reg:5000/gone:1']);
  });

  it('skips containers whose image it cannot parse', () => {
    const d = deployment('d', { containers: ['${IMAGE}', 'reg:5000/app:1'] });
    substituteImages([d], planImages(['reg:5000/app:2']));
    expect(images(d)).toEqual(['${IMAGE}', 'reg:5000/app:2']);
  });
});

describe('planImages', () => {
  it('accepts several tags of one digest (registry-push refs)', () => {
    const pins = planImages([`reg:5000/app:1.2.3@${D1}`, `reg:5000/app:latest@${D1}`]);
    expect([...pins.values()]).toEqual([{ repository: 'reg:5000/app', image: `reg:5000/app:1.2.3@${D1}`, digest: D1 }]);
  });
  it('refuses two digests for one repository', () => {
    expect(() => planImages([`reg:5000/app@${D1}`, `reg:5000/app@${D2}`])).toThrow(/also given as/);
  });
  it('refuses a bad ref with a typed error', () => {
    expect(() => planImages(['reg:5000/App'])).toThrow(ImageRefError);
  });
});
