// Canary: `X-canary` runs the new pod template beside the untouched stable `X` and shares its
// Service traffic by pod count; promote rolls X to the canary's template (verified) and deletes
// the canary; reject deletes the canary. The canary object itself is the whole state.
import { FIELD_MANAGER } from '../apply.ts';
import type { KubeClient } from '../client.ts';
import { ApiError } from '../errors.ts';
import type { KubeObject } from '../object.ts';
import { deleteAndWait, deploymentTarget, R, type StepOptions, verdictText, verify } from './cluster.ts';
import { A, type CanaryReplicas, canaryName, canaryObject, ProgressiveError, promotedStable, releaseOfTemplate, TRACK_LABEL } from './objects.ts';
import type { Prepared, Release } from './prepare.ts';

export interface CanaryPlanOptions {
  defaultNamespace: string;
  replicas: CanaryReplicas;
  runUrl?: string | undefined;
}

/**
 * The objects a canary deploy applies: `X-canary` for each Deployment (which needs its live stable
 * X), and the other objects only when they do not exist yet (see prepare.ts). Changes nothing.
 */
export async function planCanary(client: KubeClient, prepared: Prepared, opts: CanaryPlanOptions): Promise<{ objects: KubeObject[]; releases: Release[] }> {
  const missing: string[] = [];
  const objects: KubeObject[] = [];
  const releases: Release[] = [];
  for (const d of prepared.deployments) {
    const ns = d.metadata.namespace as string;
    const name = d.metadata.name as string;
    const stable = await client.get(R.deployments, ns, name);
    if (!stable) {
      missing.push(`${ns}/${name}`);
      continue;
    }
    const canary = canaryObject({ manifest: d, stable, replicas: opts.replicas, runUrl: opts.runUrl });
    objects.push(canary);
    releases.push({ strategy: 'canary', namespace: ns, app: name, workload: canaryName(name), release: releaseOfTemplate(canary) as string });
  }
  if (missing.length)
    throw new ProgressiveError(
      'no-stable',
      `a canary needs a live stable Deployment; not found: ${missing.join(', ')}`,
      'deploy it with the rolling strategy first (a canary runs beside a stable version)',
    );
  return { objects, releases };
}

export interface PromoteResult {
  strategy: 'canary' | 'blue-green';
  namespace: string;
  /** X: the stable Deployment (canary) or the main Service (blue-green). */
  app: string;
  /** What is live now. */
  workload: string;
  message: string;
}

export interface CanaryPromoteOptions extends StepOptions {
  force?: boolean;
  fieldManager?: string;
}

/** The canaries of the named stable Deployments, or every canary in the namespace. */
export async function findCanaries(
  client: KubeClient,
  namespace: string,
  apps: readonly { namespace: string; name: string }[] | undefined,
): Promise<KubeObject[]> {
  if (apps === undefined) {
    const all = await client.list(R.deployments, namespace, `${TRACK_LABEL}=canary`);
    return all.filter((o) => o.metadata.annotations?.[A.canaryOf]);
  }
  const found: KubeObject[] = [];
  for (const a of apps) {
    const c = await client.get(R.deployments, a.namespace, canaryName(a.name));
    if (c?.metadata.annotations?.[A.canaryOf] === a.name) found.push(c);
  }
  return found;
}

/**
 * Promote: the canary must be Current; then each stable X gets the canary's pod template by
 * server-side apply, the status engine must call X Current, and only then is the canary deleted.
 */
export async function promoteCanaries(client: KubeClient, canaries: KubeObject[], opts: CanaryPromoteOptions): Promise<PromoteResult[]> {
  const log = opts.log ?? (() => {});
  if (canaries.length === 0)
    throw new ProgressiveError('nothing-to-promote', 'no canary to promote', 'deploy one first with `strategy: canary` (or check the namespace and manifests)');
  const pairs: { canary: KubeObject; stable: KubeObject }[] = [];
  for (const c of canaries) {
    const ns = c.metadata.namespace as string;
    const app = c.metadata.annotations?.[A.canaryOf] as string;
    const stable = await client.get(R.deployments, ns, app);
    if (!stable)
      throw new ProgressiveError(
        'no-stable',
        `the stable Deployment ${ns}/${app} of canary ${c.metadata.name} no longer exists`,
        'reject the canary, then deploy again',
      );
    pairs.push({ canary: c, stable });
  }
  log(`checking ${canaries.length} canary(ies) before promoting`);
  const before = await verify(client, canaries.map(deploymentTarget), opts);
  if (before.status !== 'success')
    throw new ProgressiveError(
      'not-current',
      `a canary is not healthy, not promoting: ${verdictText(before)}`,
      'reject it (`action: reject`) or fix it and deploy again',
    );

  const manager = opts.fieldManager ?? FIELD_MANAGER;
  const targets = [];
  for (const { canary, stable } of pairs) {
    const obj = promotedStable(stable, canary, manager);
    let applied: KubeObject;
    try {
      applied = await client.apply(R.deployments, obj, { fieldManager: manager, force: opts.force === true, dryRun: false });
    } catch (e) {
      if (e instanceof ApiError && e.reason === 'Conflict')
        throw new ProgressiveError(
          'not-current',
          `promoting ${stable.metadata.namespace}/${stable.metadata.name}: ${e.message}`,
          'another field manager owns fields of the stable Deployment; promote with force to take them over',
        );
      throw e;
    }
    log(`Deployment ${stable.metadata.namespace}/${stable.metadata.name}: rolling to the canary's template (generation ${applied.metadata.generation})`);
    targets.push({ ...deploymentTarget(applied), action: 'configured' });
  }
  const after = await verify(client, targets, opts);
  if (after.status !== 'success')
    throw new ProgressiveError(
      'not-current',
      `the promoted stable did not become Current: ${verdictText(after)}; the canary is kept`,
      'roll back the stable (rollout-verify `on-failure: rollback`) or fix and deploy again',
    );
  const results: PromoteResult[] = [];
  for (const { canary, stable } of pairs) {
    await deleteAndWait(client, R.deployments, canary.metadata.namespace as string, canary.metadata.name as string, opts.signal);
    results.push({
      strategy: 'canary',
      namespace: stable.metadata.namespace as string,
      app: stable.metadata.name as string,
      workload: stable.metadata.name as string,
      message: `promoted: ${stable.metadata.name} runs the canary's template and is Current; ${canary.metadata.name} deleted`,
    });
  }
  return results;
}

export interface RejectResult {
  strategy: 'canary' | 'blue-green';
  namespace: string;
  /** X: the stable Deployment (canary) or the main Service (blue-green). */
  workload: string;
  /** False when there was nothing to reject (already rejected or promoted). */
  rejected: boolean;
  message: string;
}

/** Reject: delete the canary, nothing else; the stable must still be Current. Idempotent. */
export async function rejectCanary(client: KubeClient, namespace: string, app: string, opts: StepOptions): Promise<RejectResult> {
  const name = canaryName(app);
  const live = await client.get(R.deployments, namespace, name);
  const ours = live?.metadata.annotations?.[A.canaryOf] === app;
  if (live && !ours)
    throw new ProgressiveError(
      'bad-state',
      `Deployment ${namespace}/${name} is not a Shipline canary of ${app} (no ${A.canaryOf} annotation); not deleting it`,
      'rename one of them',
    );
  const deleted = live ? await deleteAndWait(client, R.deployments, namespace, name, opts.signal) : false;
  const stable = await client.get(R.deployments, namespace, app);
  let state = 'no stable Deployment';
  if (stable) {
    const v = await verify(client, [deploymentTarget(stable)], opts);
    if (v.status !== 'success')
      throw new ProgressiveError('not-current', `canary ${deleted ? 'deleted' : 'absent'}, but the stable is not Current: ${verdictText(v)}`);
    state = `stable ${app} is Current`;
  }
  return {
    strategy: 'canary',
    namespace,
    workload: app,
    rejected: deleted,
    message: deleted ? `canary ${name} deleted; ${state}` : `no canary ${name} to reject; ${state}`,
  };
}
