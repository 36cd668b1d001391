// StatefulSet: `kubectl rollout status` semantics (observed generation, ready replicas, the
// partition, update vs current revision); OnDelete has no rollout to watch. Fail-fast on pods of
// the update revision only.
import type { KubeObject } from '../object.ts';
import { ownedPods } from './deployment.ts';
import { field, intField, strField } from './fields.ts';
import { pendingNote, podVerdict, type RuleContext, unstable } from './pod.ts';
import { Reason } from './reasons.ts';
import type { Progress, ResourceStatus } from './types.ts';

export const REVISION_HASH_LABEL = 'controller-revision-hash';

export function statefulSetProgress(s: KubeObject): Progress {
  return {
    desired: intField(s, 'spec.replicas', 1),
    updated: intField(s, 'status.updatedReplicas', 0),
    ready: intField(s, 'status.readyReplicas', 0),
    available: intField(s, 'status.availableReplicas', intField(s, 'status.readyReplicas', 0)),
  };
}

/** Pods of the StatefulSet at its update revision (the pods this rollout made). */
export function updateRevisionPods(s: KubeObject, pods: readonly KubeObject[]): KubeObject[] {
  const rev = strField(s, 'status.updateRevision');
  if (!rev) return [];
  return ownedPods(s, pods).filter((p) => p.metadata.labels?.[REVISION_HASH_LABEL] === rev);
}

/**
 * StatefulSets and DaemonSets with `updateStrategy: OnDelete` replace a pod only when someone
 * deletes it: there is no rollout to wait for, and saying so beats waiting out the deadline.
 */
export function onDeleteStatus(o: KubeObject, progress: Progress): ResourceStatus | undefined {
  const strategy = strField(o, 'spec.updateStrategy.type') ?? 'RollingUpdate';
  if (strategy === 'RollingUpdate') return undefined;
  return {
    state: 'unverifiable',
    reason: Reason.NotVerifiable,
    message: `update strategy ${strategy}: pods are replaced only when deleted, so there is no rollout to verify`,
    progress,
  };
}

export function statefulSetRule(s: KubeObject, ctx: RuleContext): ResourceStatus {
  const progress = statefulSetProgress(s);
  const onDelete = onDeleteStatus(s, progress);
  if (onDelete) return onDelete;
  const observed = intField(s, 'status.observedGeneration', 0);
  if (observed === 0 || (s.metadata.generation ?? 0) > observed) {
    return { state: 'in-progress', reason: Reason.InProgress, message: 'waiting for the controller to observe the new spec', progress };
  }
  const pods = updateRevisionPods(s, ctx.pods);
  const failed = podVerdict(pods, ctx, 'all', progress);
  if (failed) return failed;
  const wait = (message: string): ResourceStatus => ({
    state: 'in-progress',
    reason: Reason.InProgress,
    message: `waiting: ${message}${pendingNote(pods, ctx, 'all')}`,
    progress,
  });
  const current = (message: string): ResourceStatus => {
    const note = unstable(pods, ctx, progress.updated);
    return note ? wait(note) : { state: 'current', reason: Reason.Current, message, progress };
  };
  if (progress.ready < progress.desired) return wait(`${progress.desired - progress.ready} pods not ready`);
  const rolling = field(s, 'spec.updateStrategy.rollingUpdate');
  if (rolling !== undefined && rolling !== null) {
    const partition = field(rolling, 'partition');
    if (typeof partition === 'number') {
      const want = progress.desired - partition;
      if (progress.updated < want) return wait(`partitioned rollout: ${progress.updated} of ${want} new pods updated`);
      return current(`partitioned rollout complete: ${progress.updated} new pod${progress.updated === 1 ? '' : 's'} updated (partition ${partition})`);
    }
    return current(`rolled out: ${progress.updated} pods updated`);
  }
  const update = strField(s, 'status.updateRevision');
  if (update !== strField(s, 'status.currentRevision')) return wait(`${progress.updated} pods at revision ${update}`);
  return current(`rolling update complete: ${intField(s, 'status.currentReplicas', 0)} pods at revision ${update}`);
}
