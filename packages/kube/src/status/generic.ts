// Pods, PersistentVolumeClaims, Services, and everything else (custom resources) by the
// conventions kstatus reads: observedGeneration, then Stalled / Reconciling / Ready / Available.
import type { KubeObject } from '../object.ts';
import { condition, field, listField, strField } from './fields.ts';
import { describeProblem, judgePods, pendingNote, type RuleContext, unstable } from './pod.ts';
import { Reason } from './reasons.ts';
import type { ResourceStatus } from './types.ts';

export function podRule(p: KubeObject, ctx: RuleContext): ResourceStatus {
  const phase = strField(p, 'status.phase') ?? 'Pending';
  if (phase === 'Succeeded') return { state: 'current', reason: Reason.Current, message: 'succeeded' };
  // A pod on its own has no controller to replace it: every failure counts, eviction included.
  const { failed } = judgePods([p], ctx, 'all', false);
  const first = failed[0];
  if (first) return { state: 'failed', reason: first.reason, message: describeProblem(first), pods: failed };
  if (condition(p, 'Ready')?.status === 'True') {
    const note = unstable([p], ctx, 1);
    if (!note) return { state: 'current', reason: Reason.Current, message: 'ready' };
    return { state: 'in-progress', reason: Reason.InProgress, message: `ready; ${note}` };
  }
  return { state: 'in-progress', reason: Reason.InProgress, message: `${phase.toLowerCase()}, not ready${pendingNote([p], ctx, 'all')}` };
}

export function pvcRule(c: KubeObject): ResourceStatus {
  const phase = strField(c, 'status.phase') ?? 'Pending';
  if (phase === 'Bound') return { state: 'current', reason: Reason.Current, message: 'bound' };
  if (phase === 'Lost') return { state: 'failed', reason: Reason.ClaimLost, message: 'the claim lost its volume' };
  return { state: 'in-progress', reason: Reason.InProgress, message: `${phase.toLowerCase()}, not bound yet` };
}

export function serviceRule(s: KubeObject, ctx: RuleContext): ResourceStatus {
  if (strField(s, 'spec.type') !== 'LoadBalancer' || !ctx.options.waitForLoadBalancer) return { state: 'current', reason: Reason.Current, message: 'exists' };
  const ingress = listField(s, 'status.loadBalancer.ingress');
  const address = ingress.map((i) => strField(i, 'ip') ?? strField(i, 'hostname')).find(Boolean);
  if (address) return { state: 'current', reason: Reason.Current, message: `load balancer at ${address}` };
  return { state: 'in-progress', reason: Reason.NoLoadBalancerAddress, message: 'waiting for the load balancer to get an address' };
}

export function genericRule(o: KubeObject): ResourceStatus {
  const observed = field(o, 'status.observedGeneration');
  if (typeof observed === 'number' && (o.metadata.generation ?? 0) > observed) {
    return { state: 'in-progress', reason: Reason.InProgress, message: 'waiting for the controller to observe the new spec' };
  }
  const stalled = condition(o, 'Stalled');
  if (stalled?.status === 'True') return { state: 'failed', reason: Reason.Stalled, message: note('stalled', stalled) };
  const reconciling = condition(o, 'Reconciling');
  if (reconciling?.status === 'True') return { state: 'in-progress', reason: Reason.InProgress, message: note('reconciling', reconciling) };
  for (const type of ['Ready', 'Available']) {
    const c = condition(o, type);
    if (c?.status === 'True') return { state: 'current', reason: Reason.Current, message: type.toLowerCase() };
    if (c) return { state: 'in-progress', reason: Reason.InProgress, message: note(`not ${type.toLowerCase()}`, c) };
  }
  // No conventions to read: existing is all it takes, as in kstatus.
  return { state: 'current', reason: Reason.Current, message: 'exists' };
}

function note(head: string, c: { reason: string; message: string }): string {
  return [head, c.reason, c.message].filter(Boolean).join(': ');
}
