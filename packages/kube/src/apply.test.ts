// The deployment's steps over an in-memory API server (discovery, get, list, apply, delete): what
// each step sends, in which order, and which typed error a refusal is. The real server's answers
// (dry-run results, managed fields, revisions) are covered by k8s-deploy's stack tests.
import { describe, expect, it } from 'vitest';
import { applyPlan, type DeployOptions, deploy, dryRunPlan, planDeploy, prunePlan, SET_LABEL } from './apply.ts';
import type { KubeClient, Resource } from './client.ts';
import { ApiError, ApplyError, KubeError, NamespaceMissingError } from './errors.ts';
import type { Manifest } from './manifests.ts';
import type { KubeObject } from './object.ts';

const RESOURCES: Resource[] = [
  { apiVersion: 'v1', kind: 'Namespace', name: 'namespaces', namespaced: false, verbs: ['get', 'list', 'delete'] },
  { apiVersion: 'v1', kind: 'ConfigMap', name: 'configmaps', namespaced: true, verbs: ['get', 'list', 'delete'] },
  { apiVersion: 'apps/v1', kind: 'Deployment', name: 'deployments', namespaced: true, verbs: ['get', 'list', 'delete'] },
];

/** An API server in memory: objects by `apiVersion|kind|namespace|name`; `refuse` answers an apply with an ApiError. */
class FakeCluster {
  readonly objects = new Map<string, KubeObject>();
  readonly calls: string[] = [];
  refuse: ((o: KubeObject, dryRun: boolean, force: boolean) => ApiError | undefined) | undefined;

  private key(r: Resource, ns: string | undefined, name: string) {
    return `${r.apiVersion}|${r.kind}|${ns ?? ''}|${name}`;
  }
  put(o: KubeObject) {
    const r = RESOURCES.find((x) => x.kind === o.kind) as Resource;
    this.objects.set(this.key(r, o.metadata.namespace, o.metadata.name as string), o);
  }
  client(): KubeClient {
    const c = {
      resources: async (v: string) => RESOURCES.filter((r) => r.apiVersion === v),
      resourceFor: async (v: string, k: string) => RESOURCES.find((r) => r.apiVersion === v && r.kind === k),
      forget: () => {},
      get: async (r: Resource, ns: string | undefined, name: string) => this.objects.get(this.key(r, ns, name)),
      list: async (r: Resource, ns: string | undefined, selector: string) => {
        this.calls.push(`list ${r.kind} ${ns ?? ''} ${selector}`);
        const [k, v] = selector.split('=');
        return [...this.objects.values()].filter(
          (o) => o.kind === r.kind && (ns === undefined || o.metadata.namespace === ns) && (!k || o.metadata.labels?.[k] === v),
        );
      },
      apply: async (r: Resource, o: KubeObject, opts: { dryRun: boolean; force: boolean }) => {
        this.calls.push(`${opts.dryRun ? 'dry-run' : 'apply'} ${o.kind} ${o.metadata.name}${opts.force ? ' (force)' : ''}`);
        const refused = this.refuse?.(o, opts.dryRun, opts.force);
        if (refused) throw refused;
        const live = this.objects.get(this.key(r, o.metadata.namespace, o.metadata.name as string));
        const next: KubeObject = {
          ...structuredClone(o),
          metadata: { ...structuredClone(o.metadata), uid: live?.metadata.uid ?? `uid-${o.metadata.name}`, generation: 1 },
        };
        if (!opts.dryRun) this.put(next);
        return next;
      },
      delete: async (r: Resource, ns: string | undefined, name: string) => {
        this.calls.push(`delete ${r.kind} ${name}`);
        this.objects.delete(this.key(r, ns, name));
      },
    };
    return c as unknown as KubeClient;
  }
}

const cm = (name: string, namespace?: string): Manifest => ({
  source: `k8s/${name}.yaml:1`,
  object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, ...(namespace ? { namespace } : {}) }, data: { a: '1' } },
});
const ns = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
const logs: string[] = [];
const opts = (o: Partial<DeployOptions> = {}): DeployOptions => ({
  force: false,
  defaultNamespace: 'shop',
  createNamespace: false,
  dryRun: false,
  prune: false,
  log: { info: (m) => logs.push(m), warning: (m) => logs.push(m) },
  sleep: async () => {},
  ...o,
});

describe('planDeploy', () => {
  it('puts namespaced objects in the default namespace and labels the set, sending nothing', async () => {
    const f = new FakeCluster();
    f.put(ns('shop'));
    const plan = await planDeploy(f.client(), [cm('a'), cm('b', 'shop')], opts({ set: 'web' }));
    expect(plan.items.map((i) => [i.object.metadata.namespace, i.object.metadata.labels?.[SET_LABEL]])).toEqual([
      ['shop', 'web'],
      ['shop', 'web'],
    ]);
    expect(f.calls).toEqual([]);
  });

  it('refuses kinds the cluster does not serve, and objects given twice', async () => {
    const f = new FakeCluster();
    f.put(ns('shop'));
    const unknown = { source: 'x.yaml:1', object: { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } } };
    await expect(planDeploy(f.client(), [unknown], opts())).rejects.toMatchObject({ phase: 'dry-run', failures: [{ reason: 'UnknownKind' }] });
    const dup = await planDeploy(f.client(), [cm('a'), cm('a')], opts()).catch((e: unknown) => e);
    expect(dup).toBeInstanceOf(ApplyError);
    expect((dup as ApplyError).failures).toEqual([
      { object: 'ConfigMap shop/a (k8s/a.yaml:1)', reason: 'Duplicate', message: 'the same object is also defined at k8s/a.yaml:1' },
    ]);
  });

  it('names a missing namespace in a NamespaceMissingError, or plans to create it when asked', async () => {
    const f = new FakeCluster();
    const err = await planDeploy(f.client(), [cm('a', 'orders')], opts()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NamespaceMissingError);
    expect(err).toMatchObject({ namespaces: ['orders'], remedy: 'missing-namespace' });
    const plan = await planDeploy(f.client(), [cm('a', 'orders')], opts({ createNamespace: true }));
    expect(plan.items.map((i) => `${i.object.kind} ${i.object.metadata.name} ${i.waitsFor ?? ''}`)).toEqual(['ConfigMap a namespace', 'Namespace orders ']);
  });

  it('will not prune without a set name, in its own terms', async () => {
    const err = await planDeploy(new FakeCluster().client(), [cm('a')], opts({ prune: true })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeError);
    expect((err as KubeError).hint).not.toMatch(/`set`/);
  });
});

describe('dryRunPlan, applyPlan, prunePlan', () => {
  it('dry-runs every object the server can check, then applies namespaces first, then the rest', async () => {
    const f = new FakeCluster();
    const plan = await planDeploy(f.client(), [cm('a', 'orders')], opts({ createNamespace: true }));
    await dryRunPlan(f.client(), plan, opts());
    // The ConfigMap waits for its namespace: it is checked after the namespace is applied.
    expect(f.calls).toEqual(['dry-run Namespace orders']);
    const resources = await applyPlan(f.client(), plan, opts());
    expect(f.calls).toEqual(['dry-run Namespace orders', 'apply Namespace orders', 'dry-run ConfigMap a', 'apply ConfigMap a']);
    expect(resources.map((r) => `${r.kind} ${r.name} ${r.action}`)).toEqual(['Namespace orders created', 'ConfigMap a created']);
    expect(plan.applied).toEqual(['Namespace orders', 'ConfigMap orders/a (k8s/a.yaml:1)']);
  });

  it("reports a conflict's fields and managers, with nothing applied", async () => {
    const f = new FakeCluster();
    f.put(ns('shop'));
    f.refuse = (o) =>
      o.metadata.name === 'shared'
        ? new ApiError({
            status: 409,
            reason: 'Conflict',
            message: 'Apply failed with 1 conflict: conflict with "someone-else": .data.owner',
            method: 'PATCH',
            path: '/api/v1/namespaces/shop/configmaps/shared',
            details: [{ reason: 'FieldManagerConflict', message: 'conflict with "someone-else"', field: '.data.owner' }],
          })
        : undefined;
    const plan = await planDeploy(f.client(), [cm('a'), cm('shared')], opts());
    const err = await dryRunPlan(f.client(), plan, opts()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplyError);
    expect(err).toMatchObject({ phase: 'dry-run', remedy: 'force', applied: [], conflicts: [{ manager: 'someone-else', field: '.data.owner' }] });
    expect(f.calls.filter((c) => c.startsWith('apply'))).toEqual([]);
  });

  const conflict = (...managers: string[]) =>
    new ApiError({
      status: 409,
      reason: 'Conflict',
      message: `Apply failed with ${managers.length} conflicts`,
      method: 'PATCH',
      path: '/apis/apps/v1/namespaces/shop/deployments/web',
      details: managers.map((m, i) => ({ reason: 'FieldManagerConflict', message: `conflict with "${m}" using apps/v1`, field: `.spec.template.f${i}` })),
    });

  it('takes back, with force, the fields a rollback took over — and only those', async () => {
    const f = new FakeCluster();
    f.put(ns('shop'));
    f.refuse = (o, _dry, force) => (o.metadata.name === 'web' && !force ? conflict('shipline-rollback', 'shipline-rollback') : undefined);
    const plan = await planDeploy(f.client(), [cm('web')], opts());
    await dryRunPlan(f.client(), plan, opts());
    await applyPlan(f.client(), plan, opts());
    expect(f.calls.filter((c) => c.includes('web'))).toEqual(['dry-run ConfigMap web', 'dry-run ConfigMap web (force)', 'apply ConfigMap web (force)']);
  });

  it('still refuses when another manager shares the conflict with the rollback', async () => {
    const f = new FakeCluster();
    f.put(ns('shop'));
    f.refuse = (o, _dry, force) => (o.metadata.name === 'web' && !force ? conflict('shipline-rollback', 'hpa-controller') : undefined);
    const plan = await planDeploy(f.client(), [cm('web')], opts());
    const err = await dryRunPlan(f.client(), plan, opts()).catch((e: unknown) => e);
    expect(err).toMatchObject({ phase: 'dry-run', remedy: 'force' });
    expect(f.calls.some((c) => c.includes('(force)'))).toBe(false);
  });

  it('prunes what an earlier run of the set left behind, and nothing of another set', async () => {
    const f = new FakeCluster();
    f.put(ns('shop'));
    f.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'old', namespace: 'shop', labels: { [SET_LABEL]: 'web' } } });
    f.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'theirs', namespace: 'shop', labels: { [SET_LABEL]: 'api' } } });
    const o = opts({ set: 'web', prune: true });
    const plan = await planDeploy(f.client(), [cm('a')], o);
    await dryRunPlan(f.client(), plan, o);
    await applyPlan(f.client(), plan, o);
    const pruned = await prunePlan(f.client(), plan, o);
    expect(pruned.map((p) => `${p.kind} ${p.name} ${p.action}`)).toEqual(['ConfigMap old pruned']);
    expect([...f.objects.keys()].sort()).toEqual(['v1|ConfigMap|shop|a', 'v1|ConfigMap|shop|theirs', 'v1|Namespace||shop']);
  });

  it('deploy runs the steps in order; a dry-run deployment applies nothing', async () => {
    const f = new FakeCluster();
    f.put(ns('shop'));
    const dry = await deploy(f.client(), [cm('a')], opts({ dryRun: true }));
    expect(dry).toMatchObject({ dryRun: true, resources: [{ kind: 'ConfigMap', name: 'a', action: 'created', validated: true }], namespaces: ['shop'] });
    expect(f.calls).toEqual(['dry-run ConfigMap a']);
    const real = await deploy(f.client(), [cm('a')], opts());
    expect(real).toMatchObject({ dryRun: false, resources: [{ kind: 'ConfigMap', name: 'a', action: 'created' }], pruned: [] });
    expect(f.calls).toEqual(['dry-run ConfigMap a', 'dry-run ConfigMap a', 'apply ConfigMap a']);
  });
});
