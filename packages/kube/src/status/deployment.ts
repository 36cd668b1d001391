// Deployment and ReplicaSet. Success is what `kubectl rollout status` calls success (observed
// generation, updated/old/available replicas, the progress deadline); on top of it the new
// ReplicaSet's pods are checked for failures that will never heal, so a broken image or a crash
// loop is reported in seconds rather than at the progress deadline.
import type { KubeObject } from '../object.ts';
import { boolField, condition, controllerUid, intField } from './fields.ts';
import { pendingNote, podVerdict, type RuleContext, unstable } from './pod.ts';
import { Reason } from './reasons.ts';
import type { Progress, ResourceStatus } from './types.ts';

export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';

export function deploymentProgress(d: KubeObject): Progress {
  return {
    desired: intField(d, 'spec.replicas', 1),
    updated: intField(d, 'status.updatedReplicas', 0),
    ready: intField(d, 'status.readyReplicas', 0),
    available: intField(d, 'status.availableReplicas', 0),
  };
}

/**
 * The ReplicaSet of the Deployment's current revision: owned by it and carrying its revision
 * number. Only meaningful once the controller has observed the current generation; a view in
 * which it is missing (the ReplicaSet watch lagging) yields undefined, never an older one.
 */
export function newReplicaSet(d: KubeObject, replicaSets: readonly KubeObject[]): KubeObject | undefined {
  const rev = d.metadata.annotations?.[REVISION_ANNOTATION];
  if (!rev || !d.metadata.uid) return undefined;
  return replicaSets.find((rs) => controllerUid(rs) === d.metadata.uid && rs.metadata.annotations?.[REVISION_ANNOTATION] === rev);
}

export function ownedPods(owner: KubeObject, pods: readonly KubeObject[]): KubeObject[] {
  return pods.filter((p) => owner.metadata.uid !== undefined && controllerUid(p) === owner.metadata.uid);
}

export function deploymentRule(d: KubeObject, ctx: RuleContext): ResourceStatus {
  const progress = deploymentProgress(d);
  const generation = d.metadata.generation ?? 0;
  const observed = intField(d, 'status.observedGeneration', 0);
  if (generation > observed)
    return { state: 'in-progress', reason: Reason.InProgress, message: 'waiting for the controller to observe the new spec', progress };

  const p = progress;
  const replicas = intField(d, 'status.replicas', 0);
  const done = p.updated >= p.desired && replicas <= p.updated && p.available >= p.updated;
  const progressing = condition(d, 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    return {
      state: 'failed',
      reason: Reason.ProgressDeadlineExceeded,
      message: `exceeded its progress deadline (${intField(d, 'spec.progressDeadlineSeconds', 600)}s)${progressing.message ? `: ${progressing.message}` : ''}`,
      progress,
    };
  }
  // A paused Deployment makes no progress until someone resumes it: say so now.
  if (!done && boolField(d, 'spec.paused')) {
    return {
      state: 'failed',
      reason: Reason.Paused,
      message: 'the Deployment is paused: its rollout will not progress until it is resumed (kubectl rollout resume)',
      progress,
    };
  }

  const rs = newReplicaSet(d, ctx.replicaSets);
  const pods = rs ? ownedPods(rs, ctx.pods) : [];
  // Failing new pods first: counts that say "done" for a pod that is crashing are no success.
  const failed = podVerdict(pods, ctx, 'all', progress);
  if (failed) return failed;

  let wait: string;
  if (done) {
    const note = unstable(pods, ctx, p.updated);
    if (!note) {
      const paused = boolField(d, 'spec.paused') ? ' (paused)' : '';
      return { state: 'current', reason: Reason.Current, message: `successfully rolled out: ${p.available}/${p.desired} available${paused}`, progress };
    }
    wait = note;
  } else if (p.updated < p.desired) wait = `${p.updated} of ${p.desired} new replicas updated`;
  else if (replicas > p.updated) wait = `${replicas - p.updated} old replicas pending termination`;
  else wait = `${p.available} of ${p.updated} updated replicas available`;
  return { state: 'in-progress', reason: Reason.InProgress, message: `waiting: ${wait}${pendingNote(pods, ctx, 'all')}`, progress };
}

/** A bare ReplicaSet: all replicas ready and available, with the same pod checks. */
export function replicaSetRule(rs: KubeObject, ctx: RuleContext): ResourceStatus {
  const progress: Progress = {
    desired: intField(rs, 'spec.replicas', 1),
    updated: intField(rs, 'status.fullyLabeledReplicas', intField(rs, 'status.replicas', 0)),
    ready: intField(rs, 'status.readyReplicas', 0),
    available: intField(rs, 'status.availableReplicas', 0),
  };
  if ((rs.metadata.generation ?? 0) > intField(rs, 'status.observedGeneration', 0)) {
    return { state: 'in-progress', reason: Reason.InProgress, message: 'waiting for the controller to observe the new spec', progress };
  }
  if (progress.available >= progress.desired && intField(rs, 'status.replicas', 0) <= progress.desired) {
    return { state: 'current', reason: Reason.Current, message: `${progress.available}/${progress.desired} available`, progress };
  }
  const pods = ownedPods(rs, ctx.pods);
  const failed = podVerdict(pods, ctx, 'all', progress);
  if (failed) return failed;
  return {
    state: 'in-progress',
    reason: Reason.InProgress,
    message: `waiting: ${progress.available} of ${progress.desired} replicas available${pendingNote(pods, ctx, 'all')}`,
    progress,
  };
}
