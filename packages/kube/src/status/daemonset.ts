// DaemonSet: `kubectl rollout status` semantics (observed generation, updated and available vs
// desired scheduled); OnDelete has no rollout to watch. Fail-fast on pods of the newest
// ControllerRevision, identified by its template equal to the DaemonSet's.
import type { KubeObject } from '../object.ts';
import { ownedPods } from './deployment.ts';
import { canonical, controllerUid, field, intField } from './fields.ts';
import { pendingNote, podVerdict, type RuleContext, unstable } from './pod.ts';
import { Reason } from './reasons.ts';
import { onDeleteStatus, REVISION_HASH_LABEL } from './statefulset.ts';
import type { Progress, ResourceStatus } from './types.ts';

export function daemonSetProgress(d: KubeObject): Progress {
  return {
    desired: intField(d, 'status.desiredNumberScheduled', 0),
    updated: intField(d, 'status.updatedNumberScheduled', 0),
    ready: intField(d, 'status.numberReady', 0),
    available: intField(d, 'status.numberAvailable', 0),
  };
}

/** The template a ControllerRevision restores: its data is a patch `{spec: {template: …, $patch: replace}}`. */
export function revisionTemplate(cr: KubeObject): unknown {
  const t = field(cr, 'data.spec.template');
  if (typeof t !== 'object' || t === null) return undefined;
  const { $patch: _, ...rest } = t as Record<string, unknown>;
  return rest;
}

/**
 * The hash of the DaemonSet's current revision: the newest of its ControllerRevisions whose
 * template equals the DaemonSet's. A lagging ControllerRevision watch yields undefined rather
 * than the previous revision (whose crashing pods are not this rollout's failure).
 */
export function currentRevisionHash(ds: KubeObject, revisions: readonly KubeObject[]): string | undefined {
  const want = canonical(field(ds, 'spec.template'));
  const mine = revisions
    .filter((cr) => ds.metadata.uid !== undefined && controllerUid(cr) === ds.metadata.uid && canonical(revisionTemplate(cr)) === want)
    .sort((a, b) => intField(b, 'revision', 0) - intField(a, 'revision', 0));
  const cr = mine[0];
  if (!cr) return undefined;
  const name = cr.metadata.name ?? '';
  const prefix = `${ds.metadata.name}-`;
  return cr.metadata.labels?.[REVISION_HASH_LABEL] ?? (name.startsWith(prefix) ? name.slice(prefix.length) : undefined);
}

export function daemonSetRule(d: KubeObject, ctx: RuleContext): ResourceStatus {
  const progress = daemonSetProgress(d);
  const onDelete = onDeleteStatus(d, progress);
  if (onDelete) return onDelete;
  if ((d.metadata.generation ?? 0) > intField(d, 'status.observedGeneration', 0)) {
    return { state: 'in-progress', reason: Reason.InProgress, message: 'waiting for the controller to observe the new spec', progress };
  }
  const hash = currentRevisionHash(d, ctx.controllerRevisions);
  const pods = hash ? ownedPods(d, ctx.pods).filter((p) => p.metadata.labels?.[REVISION_HASH_LABEL] === hash) : [];
  const failed = podVerdict(pods, ctx, 'all', progress);
  if (failed) return failed;
  let wait: string | undefined;
  if (progress.updated < progress.desired) wait = `${progress.updated} of ${progress.desired} new pods updated`;
  else if (progress.available < progress.desired) wait = `${progress.available} of ${progress.desired} updated pods available`;
  else wait = unstable(pods, ctx, progress.updated);
  if (wait === undefined)
    return { state: 'current', reason: Reason.Current, message: `rolled out: ${progress.available}/${progress.desired} available`, progress };
  return { state: 'in-progress', reason: Reason.InProgress, message: `waiting: ${wait}${pendingNote(pods, ctx, 'all')}`, progress };
}
