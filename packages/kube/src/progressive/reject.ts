// rejectReleases: the one way a progressive release is rejected, by k8s-deploy's `action: reject`
// and by rollout-verify on a failed verdict. It reads which releases the targets belong to from the
// live objects' annotations (no memory of the run that made them is needed).
import type { KubeClient } from '../client.ts';
import type { KubeObject } from '../object.ts';
import type { Target } from '../status/types.ts';
import { rejectBlueGreen } from './bluegreen.ts';
import { type RejectResult, rejectCanary } from './canary.ts';
import { R, type StepOptions } from './cluster.ts';
import { A } from './objects.ts';

export interface RejectOptions extends StepOptions {
  /** After a switch back, how long the rejected colour keeps running (kube-proxy catches up). Default 30 s. */
  drainMs?: number;
}

interface ReleaseRef {
  strategy: 'canary' | 'blue-green';
  namespace: string;
  app: string;
}

/** The release a live object belongs to, from its annotations. */
export function releaseOf(o: KubeObject, namespace: string): ReleaseRef | undefined {
  const a = o.metadata.annotations ?? {};
  const canaryOf = a[A.canaryOf];
  if (a[A.strategy] === 'canary' && canaryOf) return { strategy: 'canary', namespace, app: canaryOf };
  if (a[A.strategy] !== 'blue-green') return undefined;
  const app = a[A.colorOf] ?? a[A.previewOf] ?? (o.kind === 'Service' ? o.metadata.name : undefined);
  return app ? { strategy: 'blue-green', namespace, app } : undefined;
}

/**
 * Finds the progressive releases among the targets (k8s-deploy's `resources` entries: a canary, a
 * colour, a preview or main Service) and rejects each once: canary → delete it and check the stable
 * is still Current; blue-green → switch back if switched, remove the new colour. Targets of no
 * release are ignored; a canary already gone is reported as not rejected (idempotent).
 */
export async function rejectReleases(client: KubeClient, targets: readonly Target[], opts: RejectOptions): Promise<RejectResult[]> {
  const found = new Map<string, ReleaseRef>();
  for (const t of targets) {
    if (t.kind !== 'Deployment' && t.kind !== 'Service') continue;
    const ns = t.namespace || 'default';
    const live = await client.get(t.kind === 'Deployment' ? R.deployments : R.services, ns, t.name);
    let ref = live ? releaseOf(live, ns) : undefined;
    // A canary another run already removed: still a release, with nothing left to reject.
    if (!live && t.kind === 'Deployment' && t.name.endsWith('-canary')) ref = { strategy: 'canary', namespace: ns, app: t.name.slice(0, -'-canary'.length) };
    if (ref) found.set(`${ref.strategy}|${ref.namespace}|${ref.app}`, ref);
  }
  const results: RejectResult[] = [];
  for (const ref of found.values()) {
    opts.log?.(`rejecting the ${ref.strategy} release of ${ref.namespace}/${ref.app}`);
    const r =
      ref.strategy === 'canary'
        ? await rejectCanary(client, ref.namespace, ref.app, opts)
        : await rejectBlueGreen(client, ref.namespace, ref.app, { ...opts, drainMs: opts.drainMs ?? 30_000 });
    opts.log?.(r.message);
    results.push(r);
  }
  return results;
}
