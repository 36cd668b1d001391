// Job: done when Complete, failed when Failed; a running Job is not done (unlike kstatus, which
// calls it Current). Its pods are checked only for what stops them from starting: crashes and
// failed pods are the Job's backoffLimit's to judge.
import type { KubeObject } from '../object.ts';
import { ownedPods } from './deployment.ts';
import { boolField, condition, intField } from './fields.ts';
import { pendingNote, podVerdict, type RuleContext } from './pod.ts';
import { Reason } from './reasons.ts';
import type { Progress, ResourceStatus } from './types.ts';

export function jobProgress(j: KubeObject): Progress {
  const completions = intField(j, 'spec.completions', intField(j, 'spec.parallelism', 1));
  const succeeded = intField(j, 'status.succeeded', 0);
  return { desired: completions, updated: succeeded + intField(j, 'status.active', 0), ready: intField(j, 'status.ready', 0), available: succeeded };
}

export function jobRule(j: KubeObject, ctx: RuleContext): ResourceStatus {
  const progress = jobProgress(j);
  const isTrue = (type: string) => {
    const c = condition(j, type);
    return c?.status === 'True' ? c : undefined;
  };
  // FailureTarget and SuccessCriteriaMet come first (the Job controller terminates pods before it
  // sets the final condition); either settles the outcome.
  const failed = isTrue('Failed') ?? isTrue('FailureTarget');
  if (failed) {
    return { state: 'failed', reason: Reason.JobFailed, message: `${failed.reason || 'Failed'}${failed.message ? `: ${failed.message}` : ''}`, progress };
  }
  if (isTrue('Complete') ?? isTrue('SuccessCriteriaMet')) {
    return { state: 'current', reason: Reason.Current, message: `complete: ${progress.available}/${progress.desired} succeeded`, progress };
  }
  if (boolField(j, 'spec.suspend')) {
    return { state: 'in-progress', reason: Reason.InProgress, message: 'suspended: waiting for it to be resumed or admitted', progress };
  }
  const pods = ownedPods(j, ctx.pods);
  const stuck = podVerdict(pods, ctx, 'start', progress);
  if (stuck) return stuck;
  return {
    state: 'in-progress',
    reason: Reason.InProgress,
    message: `running: ${progress.available}/${progress.desired} succeeded, ${intField(j, 'status.active', 0)} active, ${intField(j, 'status.failed', 0)} failed${pendingNote(pods, ctx, 'start')}`,
    progress,
  };
}
