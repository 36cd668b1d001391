// Outputs and the job summary of a finished deployment (pure rendering, no cluster).
import { parseInputs, UserError } from '@shipline/kit';
import * as kube from '@shipline/kube';
import { describe, expect, it } from 'vitest';
import { failureText, k8sDeploy, toUserError } from './action.ts';
import { schema } from './inputs.ts';
import type { DeployOutcome } from './run.ts';

const base: DeployOutcome = {
  strategy: 'rolling',
  action: 'deploy',
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

describe('k8s-deploy maps the kube package onto its inputs', () => {
  const inputs = (raw: Record<string, string>) => parseInputs(schema, (n) => ({ manifests: 'k8s', ...raw })[n]);

  it('names the input a kubeconfig fault is about, by its field', () => {
    const ctx = new kube.KubeconfigError('context', 'unknown-context', 'context "prod" is not in the kubeconfig', 'use one of: ci');
    expect(toUserError(ctx, inputs({ kubeconfig: 'x', context: 'prod' }), kube)).toMatchObject({
      input: 'context',
      message: ctx.message,
      hint: 'use one of: ci',
    });
    const server = new kube.KubeconfigError('cluster', 'invalid', 'cluster "c" has no valid server URL', 'set clusters[].cluster.server');
    expect(toUserError(server, inputs({ kubeconfig: 'x', context: 'prod' }), kube)).toMatchObject({ input: 'kubeconfig' });
    const none = new kube.KubeconfigError('source', 'unconfigured', 'no cluster access configured', 'give a kubeconfig');
    expect(toUserError(none, inputs({}), kube)).toMatchObject({
      input: undefined,
      hint: 'set the kubeconfig input (content, from a secret), kubeconfig-path, or KUBECONFIG',
    });
  });

  it('sends manifest and image errors to their inputs, other kube errors to none, anything else through', () => {
    expect(toUserError(new kube.ManifestError('a.yaml:3', 'kind is missing'), inputs({}), kube)).toMatchObject({
      input: 'manifests',
      message: 'a.yaml:3: kind is missing',
    });
    expect(toUserError(new kube.ImageRefError('x', 'bad'), inputs({}), kube)).toMatchObject({ input: 'images' });
    const unreachable = toUserError(new kube.UnreachableError('https://h', 'connection refused'), inputs({}), kube);
    expect(unreachable).toBeInstanceOf(UserError);
    expect(unreachable).toMatchObject({ input: undefined });
    const other = new TypeError('bug');
    expect(toUserError(other, inputs({}), kube)).toBe(other);
  });

  it("words the refusals its users fix with an input in that input's terms", () => {
    const conflict = new kube.ApplyError('dry-run', [
      { object: 'ConfigMap shop/shared', reason: 'Conflict', message: 'conflict', conflicts: [{ manager: 'someone-else', field: '.data.owner' }] },
    ]);
    expect(conflict.conflicts).toEqual([{ manager: 'someone-else', field: '.data.owner' }]);
    const f = (e: kube.ApplyError) =>
      failureText({ message: e.message, hint: e.hint, remedy: e.remedy, phase: e.phase, failures: e.failures, applied: e.applied });
    expect(f(conflict)).toBe(`${conflict.message} — another field manager owns these fields; set \`force-conflicts: true\` to take them over`);
    const ns = new kube.NamespaceMissingError([{ object: 'Namespace shop', reason: 'NotFound', message: 'namespace shop does not exist', namespace: 'shop' }]);
    expect(ns.namespaces).toEqual(['shop']);
    expect(f(ns)).toBe(`${ns.message} — create the namespace first or set \`create-namespace: true\``);
    const rbac = new kube.ApplyError('apply', [{ object: 'Secret shop/s', reason: 'Forbidden', message: 'no' }]);
    expect(f(rbac)).toBe(`${rbac.message} — ${rbac.hint}`);
    // The library's own hints name no input.
    expect(`${conflict.hint} ${ns.hint}`).not.toMatch(/force-conflicts|create-namespace/);
  });
});
