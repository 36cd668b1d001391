// One evaluation of a target against the engine's view, and the pure pieces around it: the
// overall result and the progress line. No I/O; verify.ts calls these on every change and tick.
import type { KubeObject } from '../../object.ts';
import type { RuleContext, RuleOptions } from '../pod.ts';
import { Reason } from '../reasons.ts';
import { type Related, ruleFor } from '../rules.ts';
import type { Progress, ResourceStatus, ResourceVerdict, Target, VerifyResult } from '../types.ts';
import type { FeedState } from './store.ts';

export interface TargetPlan {
  target: Target;
  /** `Deployment shop/web`. */
  ref: string;
  namespace: string | undefined;
  /** Feed of the target's own kind; undefined when the kind could not be resolved. */
  self?: string;
  related: Partial<Record<Related, string>>;
  /** A verdict known before any watching (an unknown kind). */
  preset?: ResourceStatus;
}

export interface View {
  feeds: ReadonlyMap<string, FeedState>;
  /** Feeds that can never sync (the API server refuses to list them), with the verdict that follows. */
  fatal: ReadonlyMap<string, ResourceStatus>;
}

export interface Memory {
  firstSeen: Map<string, number>;
  /** Refs of targets seen in a synced view at least once (so their absence means deletion). */
  seen: Set<string>;
}

export function refOf(t: Target): string {
  return `${t.kind} ${t.namespace ? `${t.namespace}/` : ''}${t.name}`;
}

/** The target's status, or undefined while the view of anything it needs is incomplete. */
export function evaluateTarget(plan: TargetPlan, view: View, memory: Memory, now: number, options: RuleOptions): ResourceStatus | undefined {
  if (plan.preset) return plan.preset;
  if (!plan.self) return undefined;
  const keys = [plan.self, ...Object.values(plan.related)] as string[];
  for (const k of keys) {
    const fatal = view.fatal.get(k);
    if (fatal) return fatal;
  }
  if (!keys.every((k) => view.feeds.get(k)?.synced)) return undefined;
  const self = view.feeds.get(plan.self) as FeedState;
  const obj = self.objects.get(`${plan.namespace ?? ''}/${plan.target.name}`);
  const t = plan.target;
  if (!obj) {
    if (memory.seen.has(plan.ref)) return { state: 'failed', reason: Reason.Deleted, message: 'was deleted while being verified' };
    return { state: 'failed', reason: Reason.NotFound, message: 'does not exist' };
  }
  memory.seen.add(plan.ref);
  if (t.uid && obj.metadata.uid && t.uid !== obj.metadata.uid) {
    return { state: 'failed', reason: Reason.Deleted, message: `was deleted and created again (uid ${obj.metadata.uid}, deployed ${t.uid})` };
  }
  if (typeof t.generation === 'number' && (obj.metadata.generation ?? 0) < t.generation) {
    return { state: 'in-progress', reason: Reason.InProgress, message: `waiting to see generation ${t.generation} (have ${obj.metadata.generation ?? 0})` };
  }
  const items = (r: Related): KubeObject[] => {
    const k = plan.related[r];
    return k ? [...(view.feeds.get(k)?.objects.values() ?? [])] : [];
  };
  const ctx: RuleContext = {
    now,
    options,
    pods: items('pods'),
    replicaSets: items('replicaSets'),
    controllerRevisions: items('controllerRevisions'),
    firstSeen: memory.firstSeen,
  };
  return ruleFor(obj.apiVersion || t.apiVersion, obj.kind || t.kind)(obj, ctx);
}

export const isFinal = (s: ResourceStatus | undefined): boolean => s !== undefined && s.state !== 'in-progress';

/** `web: 2/3 updated, 1/3 ready, 1/3 available` (a Job: `migrate: 0/1 succeeded, 1 active`). */
export function progressLine(t: Target, p: Progress | undefined): string | undefined {
  if (!p) return undefined;
  if (t.kind === 'Job') return `${t.name}: ${p.available}/${p.desired} succeeded, ${p.updated - p.available} active`;
  const d = p.desired;
  return `${t.name}: ${p.updated}/${d} updated, ${p.ready}/${d} ready, ${p.available}/${d} available`;
}

/** Progress lines on change, at most one per target every `everyMs`; a settling target's last numbers are always shown. */
export class ProgressThrottle {
  private readonly last = new Map<string, { line: string; at: number }>();
  private readonly everyMs: number;
  constructor(everyMs: number) {
    this.everyMs = everyMs;
  }

  /** The line to print now for this target, if any. */
  next(ref: string, line: string | undefined, now: number, final: boolean): string | undefined {
    if (!line) return undefined;
    const prev = this.last.get(ref);
    if (prev?.line === line) return undefined;
    if (prev && !final && now - prev.at < this.everyMs) return undefined;
    this.last.set(ref, { line, at: now });
    return line;
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** The overall outcome from every target's verdict, in the order given; `failedOrder` holds refs in the order they failed. */
export function summarize(verdicts: ResourceVerdict[], failedOrder: string[], timedOut: boolean, durationMs: number, timeoutMs: number): VerifyResult {
  const failed = failedOrder.map((ref) => verdicts.find((v) => v.ref === ref)).filter((v): v is ResourceVerdict => !!v && v.state === 'failed');
  const first = failed[0];
  if (first) {
    const more =
      failed.length > 1
        ? ` (and ${failed.length - 1} more failed: ${failed
            .slice(1)
            .map((v) => v.ref)
            .join(', ')})`
        : '';
    return { status: 'failed', reason: first.reason, message: `${first.ref}: ${first.message}${more}`, resources: verdicts, durationMs };
  }
  const waiting = verdicts.filter((v) => v.state === 'in-progress');
  if (timedOut || waiting.length > 0) {
    const list = waiting.map((v) => `${v.ref} (${v.message})`).join('; ');
    return { status: 'timeout', reason: Reason.Timeout, message: `not rolled out within ${seconds(timeoutMs)}: ${list}`, resources: verdicts, durationMs };
  }
  const unverifiable = verdicts.filter((v) => v.state === 'unverifiable');
  const note = unverifiable.length ? `; not verifiable: ${unverifiable.map((v) => `${v.ref} (${v.message})`).join('; ')}` : '';
  const n = verdicts.length - unverifiable.length;
  return {
    status: 'success',
    reason: Reason.Current,
    message: `${n} resource${n === 1 ? '' : 's'} rolled out in ${seconds(durationMs)}${note}`,
    resources: verdicts,
    durationMs,
  };
}
