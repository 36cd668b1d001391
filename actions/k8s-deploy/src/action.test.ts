// Outputs and the job summary of a finished deployment (pure rendering, no cluster).
import { describe, expect, it } from 'vitest';
import { k8sDeploy } from './action.ts';
import type { DeployOutcome } from './run.ts';

const base: DeployOutcome = {
  dryRun: false,
  server: 'https://127.0.0.1:6443',
  context: 'ci',
  namespace: 'shop',
  resources: [
    { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'shop', name: 'cfg', uid: 'u1', generation: null, action: 'unchanged' },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      namespace: 'shop',
      name: 'web',
      uid: 'u2',
      generation: 4,
      action: 'configured',
      revision: { before: '3', after: '4' },
      source: 'k8s/web.yaml:1',
    },
  ],
  pruned: [{ apiVersion: 'v1', kind: 'Service', namespace: 'shop', name: 'old', uid: 'u3', generation: null, action: 'pruned' }],
  images: [{ object: 'Deployment shop/web', container: 'web', from: 'reg:5000/web:1', to: 'reg:5000/web@sha256:abc' }],
  failure: undefined,
  durationMs: 1234,
};

describe('k8s-deploy outputs and summary', () => {
  it('outputs resources without internal fields, pruned, namespace and changed', () => {
    const out = k8sDeploy.outputs(base);
    expect(JSON.parse(out.resources as string)).toEqual([
      { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'shop', name: 'cfg', uid: 'u1', generation: null, action: 'unchanged' },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        namespace: 'shop',
        name: 'web',
        uid: 'u2',
        generation: 4,
        action: 'configured',
        revision: { before: '3', after: '4' },
      },
    ]);
    expect(JSON.parse(out.pruned as string)).toHaveLength(1);
    expect(out).toMatchObject({ namespace: 'shop', changed: 'true' });
    expect(k8sDeploy.outputs({ ...base, resources: [base.resources[0]!], pruned: [] }).changed).toBe('false');
  });

  it('renders one table row per object, with revisions and images', () => {
    const md = k8sDeploy.summary?.(base).toMarkdown() ?? '';
    expect(md).toContain('### k8s-deploy applied ✅');
    expect(md).toContain('| Deployment | shop | web | configured | 3 → 4 |');
    expect(md).toContain('| ConfigMap | shop | cfg | unchanged |  |');
    expect(md).toContain('| Service | shop | old | pruned |  |');
    expect(md).toContain('| Deployment shop/web | web | reg:5000/web:1 | reg:5000/web@sha256:abc |');
    expect(k8sDeploy.failure?.(base)).toBeUndefined();
  });

  it('says "would be" in a dry-run and shows the diffs', () => {
    const dry = { ...base, dryRun: true, resources: [{ ...base.resources[1]!, diff: '- a\n+ b', revision: { before: '3', after: null } }], pruned: [] };
    const md = k8sDeploy.summary?.(dry).toMarkdown() ?? '';
    expect(md).toContain('dry-run (nothing changed)');
    expect(md).toContain('| Deployment | shop | web | would be configured | 3 → ? |');
    expect(md).toContain('<details><summary>Diff of 1 object(s)</summary>');
  });

  it('lists every refused object and fails with the message', () => {
    const failed = {
      ...base,
      resources: [],
      pruned: [],
      failure: {
        message: '2 object(s) refused',
        phase: 'dry-run',
        failures: [
          { object: 'Service shop/a (a.yaml:1)', reason: 'Invalid', message: 'bad port' },
          { object: 'ConfigMap shop/b (a.yaml:9)', reason: 'Forbidden', message: 'no' },
        ],
        applied: [],
      },
    };
    const md = k8sDeploy.summary?.(failed).toMarkdown() ?? '';
    expect(md).toContain('Refused in dry-run; nothing was applied.');
    expect(md).toContain('| Service shop/a (a.yaml:1) | Invalid | bad port |');
    expect(k8sDeploy.failure?.(failed)).toBe('2 object(s) refused');
  });
});
