// Fail-fast rules for pods: what, in one pod, means the rollout cannot succeed. A rule reports a
// finding with the grace it needs; a finding counts only once it has been seen for that long (see
// judgePods), so a registry hiccup or a ConfigMap applied a moment later does not fail a deploy.
import type { KubeObject } from '../object.ts';
import { condition, field, intField, listField, strField } from './fields.ts';
import { Reason, type ReasonCode } from './reasons.ts';
import type { PodProblem, Progress, ResourceStatus } from './types.ts';

export interface RuleOptions {
  imagePullGraceMs: number;
  configGraceMs: number;
  unschedulableGraceMs: number;
  /** Restarts at which a container fails the rollout; 0 turns the rule off. */
  maxRestarts: number;
  waitForLoadBalancer: boolean;
  /**
   * How long a container without a readiness (or startup) probe must stay up before its Ready
   * counts: without a probe a pod is Ready the moment its process starts, even one that exits a
   * second later. 0 trusts Ready as `kubectl rollout status` does.
   */
  stableMs: number;
}

/** What a workload rule may look at besides the object itself; all of it from one synced view. */
export interface RuleContext {
  now: number;
  options: RuleOptions;
  /** Pods, ReplicaSets and ControllerRevisions of the object's namespace (empty when not watched). */
  pods: readonly KubeObject[];
  replicaSets: readonly KubeObject[];
  controllerRevisions: readonly KubeObject[];
  /** When each finding (by key) was first seen; the rules add new keys. Kept by the engine. */
  firstSeen: Map<string, number>;
}

export interface Finding {
  /** Stable per pod, container and kind of trouble, so its grace runs across events. */
  key: string;
  graceMs: number;
  problem: PodProblem;
}

/**
 * `all`: every rule (pods of Deployments, StatefulSets, DaemonSets, bare Pods).
 * `start`: only what stops a container from ever starting; a Job's own backoffLimit decides
 * about crashes and failed pods.
 */
export type PodScope = 'all' | 'start';

// Pull errors that say the image is not there or we may not have it. Anything else (timeouts,
// resets, 5xx, 429) is the kind of hiccup that must not fail a deploy: keep waiting.
const ACCESS_DENIED = /access denied|unauthorized|forbidden|(?<![\w.-])40[13](?![\w.-])/i;
const NOT_FOUND = /not found|manifest unknown|does not exist|no such image/i;

/** ImageNotFound, ImageAccessDenied, or undefined for a pull error worth waiting out. */
export function classifyPullError(message: string): ReasonCode | undefined {
  if (ACCESS_DENIED.test(message)) return Reason.ImageAccessDenied;
  if (NOT_FOUND.test(message)) return Reason.ImageNotFound;
  return undefined;
}

// Failed pods that are the node's or the scheduler's doing, not the new version's: the
// controller replaces them.
const NOT_THE_ROLLOUTS_FAULT = new Set(['Evicted', 'Preempting', 'Shutdown', 'NodeShutdown', 'Terminated', 'NodeLost']);

export function podFindings(pod: KubeObject, o: RuleOptions, scope: PodScope, managed = true): Finding[] {
  if (pod.metadata.deletionTimestamp) return [];
  const name = pod.metadata.name ?? '';
  const id = pod.metadata.uid ?? name;
  const out: Finding[] = [];
  const add = (key: string, graceMs: number, problem: PodProblem) => out.push({ key: `${id}/${key}`, graceMs, problem });

  const phase = strField(pod, 'status.phase');
  if (phase === 'Failed' && scope === 'all') {
    const reason = strField(pod, 'status.reason') ?? '';
    if (!managed || !NOT_THE_ROLLOUTS_FAULT.has(reason)) {
      const message = strField(pod, 'status.message') ?? (reason || 'the pod failed');
      add('phase', 0, { pod: name, reason: Reason.PodFailed, message: reason && !message.includes(reason) ? `${reason}: ${message}` : message });
      return out;
    }
  }

  const scheduled = condition(pod, 'PodScheduled');
  if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
    add('unschedulable', o.unschedulableGraceMs, {
      pod: name,
      reason: Reason.Unschedulable,
      message: scheduled.message || 'no node fits the pod',
      ...(scheduled.lastTransitionTime ? { since: scheduled.lastTransitionTime } : {}),
    });
  }

  const statuses = [...listField(pod, 'status.initContainerStatuses'), ...listField(pod, 'status.containerStatuses')];
  for (const cs of statuses) out.push(...containerFindings(name, id, cs, o, scope));
  return out;
}

function containerFindings(pod: string, id: string, cs: Record<string, unknown>, o: RuleOptions, scope: PodScope): Finding[] {
  const container = typeof cs.name === 'string' ? cs.name : '';
  const restarts = intField(cs, 'restartCount', 0);
  const waiting = field(cs, 'state.waiting');
  const wReason = strField(waiting, 'reason') ?? '';
  const wMessage = strField(waiting, 'message') ?? '';
  const last = field(cs, 'lastState.terminated');
  const now = field(cs, 'state.terminated');
  const out: Finding[] = [];
  const add = (kind: string, graceMs: number, p: Omit<PodProblem, 'pod' | 'container'>) =>
    out.push({ key: `${id}/${container}/${kind}`, graceMs, problem: { pod, container, ...p } });

  // Never starting: the same for every scope.
  if (wReason === 'InvalidImageName') {
    add('image', 0, { reason: Reason.InvalidImageName, message: wMessage || 'invalid image name' });
    return out;
  }
  if (wReason === 'ErrImagePull' || wReason === 'ImagePullBackOff') {
    const reason = classifyPullError(wMessage);
    if (reason) add('image', o.imagePullGraceMs, { reason, message: wMessage });
    return out;
  }
  if (wReason === 'CreateContainerConfigError') {
    add('config', o.configGraceMs, { reason: Reason.CreateContainerConfigError, message: wMessage || 'container configuration error' });
    return out;
  }
  if (wReason === 'RunContainerError') {
    add('run', 0, { reason: Reason.RunContainerError, message: wMessage || 'the runtime could not start the container', ...exitOf(last), restarts });
    return out;
  }
  if (scope === 'start') return out;

  // Started and died. The most specific cause first: a kill for memory, a runtime that could not
  // run the process, then the crash loop, then the restart count.
  const term = (now ?? last) as unknown;
  const tReason = strField(term, 'reason') ?? '';
  if (tReason === 'OOMKilled' || strField(last, 'reason') === 'OOMKilled') {
    const t = tReason === 'OOMKilled' ? term : last;
    add('oom', 0, { reason: Reason.OOMKilled, message: terminationMessage(t, 'killed for exceeding its memory limit'), ...exitOf(t), restarts });
    return out;
  }
  // containerd calls it StartError, dockershim called it ContainerCannotRun: the process could not
  // be executed (missing binary, bad entrypoint).
  if (tReason === 'ContainerCannotRun' || tReason === 'StartError') {
    add('cannot-run', 0, { reason: Reason.ContainerCannotRun, message: terminationMessage(term, tReason), ...exitOf(term), restarts });
    return out;
  }
  if (wReason === 'CrashLoopBackOff') {
    add('crash', 0, {
      reason: Reason.CrashLoopBackOff,
      message: terminationMessage(last, wMessage || 'back-off restarting failed container'),
      ...exitOf(last),
      restarts,
    });
    return out;
  }
  if (o.maxRestarts > 0 && restarts >= o.maxRestarts) {
    add('restarts', 0, {
      reason: Reason.TooManyRestarts,
      message: terminationMessage(last, `restarted ${restarts} times`),
      ...exitOf(last),
      restarts,
    });
  }
  return out;
}

function exitOf(t: unknown): { exitCode?: number; signal?: number; since?: string } {
  if (t === undefined) return {};
  const exitCode = field(t, 'exitCode');
  const signal = field(t, 'signal');
  const out: { exitCode?: number; signal?: number; since?: string } = {};
  if (typeof exitCode === 'number') {
    out.exitCode = exitCode;
    // A process killed by signal N exits with 128+N as the runtime reports it.
    if (typeof signal !== 'number' && exitCode > 128 && exitCode < 160) out.signal = exitCode - 128;
  }
  if (typeof signal === 'number' && signal > 0) out.signal = signal;
  const finished = strField(t, 'finishedAt');
  if (finished) out.since = finished;
  return out;
}

function terminationMessage(t: unknown, fallback: string): string {
  const msg = strField(t, 'message')?.trim();
  const reason = strField(t, 'reason');
  const code = field(t, 'exitCode');
  const head = [reason, typeof code === 'number' ? `exit code ${code}` : undefined].filter(Boolean).join(', ');
  if (msg) return head ? `${head}: ${msg}` : msg;
  return head ? `${fallback} (${head})` : fallback;
}

/** Findings split into those past their grace (the failure) and those still within it. */
export function judgePods(pods: readonly KubeObject[], ctx: RuleContext, scope: PodScope, managed = true): { failed: PodProblem[]; pending: Finding[] } {
  const failed: PodProblem[] = [];
  const pending: Finding[] = [];
  for (const pod of pods) {
    for (const f of podFindings(pod, ctx.options, scope, managed)) {
      let first = ctx.firstSeen.get(f.key);
      if (first === undefined) {
        first = ctx.now;
        ctx.firstSeen.set(f.key, first);
      }
      if (ctx.now - first >= f.graceMs) failed.push(f.problem.since ? f.problem : { ...f.problem, since: new Date(first).toISOString() });
      else pending.push(f);
    }
  }
  return { failed, pending };
}

/** `pod web-5f7-x container app: CrashLoopBackOff: Error, exit code 1: boom (3 restarts)`. */
export function describeProblem(p: PodProblem): string {
  const where = `pod ${p.pod}${p.container ? ` container ${p.container}` : ''}`;
  const restarts = p.restarts ? ` (${p.restarts} restart${p.restarts === 1 ? '' : 's'})` : '';
  return `${where}: ${p.reason}: ${p.message}${restarts}`;
}

/** The verdict of a workload whose new pods fail, or undefined when none does (yet). */
export function podVerdict(pods: readonly KubeObject[], ctx: RuleContext, scope: PodScope, progress?: Progress): ResourceStatus | undefined {
  const { failed } = judgePods(pods, ctx, scope);
  if (failed.length === 0) return undefined;
  const first = failed[0] as PodProblem;
  const more = failed.length > 1 ? ` (and ${failed.length - 1} more problem${failed.length > 2 ? 's' : ''})` : '';
  return { state: 'failed', reason: first.reason, message: `${describeProblem(first)}${more}`, pods: failed, ...(progress ? { progress } : {}) };
}

/** A note for an in-progress message about findings still within their grace. */
export function pendingNote(pods: readonly KubeObject[], ctx: RuleContext, scope: PodScope): string {
  const { pending } = judgePods(pods, ctx, scope);
  const f = pending[0];
  if (!f) return '';
  const left = Math.max(0, Math.ceil((f.graceMs - (ctx.now - (ctx.firstSeen.get(f.key) ?? ctx.now))) / 1000));
  return `; ${f.problem.reason} on pod ${f.problem.pod} (failing in ${left}s unless it clears)`;
}

/**
 * Why the new pods cannot be called rolled out yet although the counts say so, or undefined.
 * `expected` is how many new pods the workload's status counts: fewer in view means the pod watch
 * lags behind the workload's, and no success is drawn from that.
 */
export function unstable(pods: readonly KubeObject[], ctx: RuleContext, expected: number): string | undefined {
  const live = pods.filter((p) => !p.metadata.deletionTimestamp);
  if (live.length < expected) return `waiting to see the ${expected} new pod${expected === 1 ? '' : 's'} (${live.length} in view)`;
  if (ctx.options.stableMs <= 0) return undefined;
  for (const p of live) {
    const statuses = listField(p, 'status.containerStatuses');
    for (const c of listField(p, 'spec.containers')) {
      if (c.readinessProbe || c.startupProbe) continue;
      const name = String(c.name ?? '');
      const cs = statuses.find((x) => x.name === name);
      const startedAt = strField(cs, 'state.running.startedAt');
      if (!startedAt) return `waiting for pod ${p.metadata.name} container ${name} to run`;
      const key = `${p.metadata.uid ?? p.metadata.name}/${name}/up/${startedAt}`;
      let first = ctx.firstSeen.get(key);
      if (first === undefined) {
        first = ctx.now;
        ctx.firstSeen.set(key, first);
      }
      // The node's start time where it is not in our future (clock skew), else when we first saw it run.
      const started = Date.parse(startedAt);
      const since = Number.isFinite(started) && started <= ctx.now ? Math.min(started, first) : first;
      const left = ctx.options.stableMs - (ctx.now - since);
      if (left > 0) {
        return `pod ${p.metadata.name} container ${name} has no readiness probe: waiting ${Math.ceil(left / 1000)}s more to see it stay up`;
      }
    }
  }
  return undefined;
}
