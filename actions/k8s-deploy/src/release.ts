// `action: promote | reject` against the cluster: which releases the request names, then the kube
// package's one mechanism for each (reject is rejectReleases, the same function rollout-verify
// calls on a failed verdict).
import {
  canaryName,
  findBlueGreen,
  findCanaries,
  type KubeClient,
  type PromoteResult,
  promoteBlueGreen,
  promoteCanaries,
  type RejectResult,
  rejectReleases,
  type Target,
} from '@shipline/kube';
import type { ReleaseRequest } from './run.ts';

export async function promote(client: KubeClient, req: ReleaseRequest & { scaleDownDelayMs: number; force: boolean }): Promise<PromoteResult[]> {
  const step = { log: req.log, timeoutMs: req.timeoutMs, signal: req.signal };
  if (req.strategy === 'canary') return promoteCanaries(client, await findCanaries(client, req.namespace, req.apps), { ...step, force: req.force });
  return promoteBlueGreen(client, await findBlueGreen(client, req.namespace, req.apps), { ...step, scaleDownDelayMs: req.scaleDownDelayMs });
}

/** The targets a reject hands to rejectReleases: the canaries, or the main Services of blue-green releases. */
export async function releaseTargets(client: KubeClient, req: ReleaseRequest): Promise<Target[]> {
  const svc = (namespace: string, name: string): Target => ({ apiVersion: 'v1', kind: 'Service', namespace, name });
  const dep = (namespace: string, name: string): Target => ({ apiVersion: 'apps/v1', kind: 'Deployment', namespace, name });
  if (req.strategy === 'canary') {
    // Named apps: their canary's name, even when it is gone already (then: nothing to reject).
    if (req.apps) return req.apps.map((a) => dep(a.namespace, canaryName(a.name)));
    return (await findCanaries(client, req.namespace, undefined)).map((c) => dep(c.metadata.namespace as string, c.metadata.name as string));
  }
  if (req.apps) return req.apps.map((a) => svc(a.namespace, a.name));
  return (await findBlueGreen(client, req.namespace, undefined)).map((s) => svc(s.metadata.namespace as string, s.metadata.name as string));
}

export async function reject(client: KubeClient, req: ReleaseRequest): Promise<RejectResult[]> {
  const targets = await releaseTargets(client, req);
  const results = await rejectReleases(client, targets, { log: req.log, timeoutMs: req.timeoutMs, drainMs: req.drainMs, signal: req.signal });
  // A named app with no release at all (never deployed progressively): said, and not a failure.
  for (const t of targets) {
    const app = req.strategy === 'canary' ? t.name.replace(/-canary$/, '') : t.name;
    if (!results.some((r) => r.namespace === t.namespace && r.workload === app))
      results.push({
        strategy: req.strategy,
        namespace: t.namespace ?? req.namespace,
        workload: app,
        rejected: false,
        message: `no ${req.strategy} release of ${app}: nothing to reject`,
      });
  }
  return results;
}
