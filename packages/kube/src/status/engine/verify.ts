// verifyRollout: watch every target (and what its rule reads) at once, evaluate on every change
// and on a one-second tick (graces expire without events), and stop at the first failure, when
// every target has settled, or at the one deadline.

import { backoffDelay } from '@shipline/kit/retry';
import { untrusted } from '@shipline/kit/untrusted';
import type { KubeClient, Resource, WatchEvent } from '../../client.ts';
import { ApiError } from '../../errors.ts';
import type { RuleOptions } from '../pod.ts';
import { Reason } from '../reasons.ts';
import { type Related, relatedOf } from '../rules.ts';
import { DEFAULT_VERIFY_OPTIONS, type ResourceStatus, type ResourceVerdict, type Target, type VerifyOptions, type VerifyResult } from '../types.ts';
import { evaluateTarget, isFinal, type Memory, ProgressThrottle, progressLine, refOf, summarize, type TargetPlan, type View } from './evaluate.ts';
import { EMPTY_FEED, type FeedState, feedKey, RELATED_RESOURCES, reduceFeed } from './store.ts';

export interface EngineOptions extends VerifyOptions {
  /** Stop at the first failure (default) rather than waiting for every other target to settle. */
  failFast?: boolean;
  /** Evaluation tick, for graces that expire without an event. Default 1000 ms. */
  tickMs?: number;
  /** Minimum time between two progress lines of one target. Default 3000 ms. */
  progressEveryMs?: number;
}

const RELIST = Symbol('relist');

export async function verifyRollout(client: KubeClient, targets: Target[], opts: EngineOptions): Promise<VerifyResult> {
  const now = opts.now ?? Date.now;
  const start = now();
  opts.signal?.throwIfAborted();
  const options: RuleOptions = {
    imagePullGraceMs: opts.imagePullGraceMs ?? DEFAULT_VERIFY_OPTIONS.imagePullGraceMs,
    configGraceMs: opts.configGraceMs ?? DEFAULT_VERIFY_OPTIONS.configGraceMs,
    unschedulableGraceMs: opts.unschedulableGraceMs ?? DEFAULT_VERIFY_OPTIONS.unschedulableGraceMs,
    maxRestarts: opts.maxRestarts ?? DEFAULT_VERIFY_OPTIONS.maxRestarts,
    waitForLoadBalancer: opts.waitForLoadBalancer ?? false,
    stableMs: opts.stableMs ?? DEFAULT_VERIFY_OPTIONS.stableMs ?? 10_000,
  };

  // Plans: which feeds each target needs. Discovery errors (an unreachable server) propagate.
  const sources = new Map<string, { r: Resource; ns: string | undefined }>();
  const use = (r: Resource, ns: string | undefined) => {
    const key = feedKey(r, ns);
    if (!sources.has(key)) sources.set(key, { r, ns: r.namespaced ? ns : undefined });
    return key;
  };
  const plans: TargetPlan[] = [];
  // One plan per object: a target named twice (two manifests, two inputs) is verified once.
  const unique = new Map<string, Target>();
  for (const t of targets) {
    const key = `${t.apiVersion.split('/').length > 1 ? t.apiVersion.split('/')[0] : ''}|${refOf(t)}`;
    if (!unique.has(key)) unique.set(key, t);
  }
  for (const target of unique.values()) {
    const ref = refOf(target);
    const r = await client.resourceFor(target.apiVersion, target.kind);
    if (!r) {
      plans.push({
        target,
        ref,
        namespace: target.namespace ?? undefined,
        related: {},
        preset: { state: 'failed', reason: Reason.UnknownKind, message: `the cluster does not serve ${target.apiVersion} ${target.kind}` },
      });
      continue;
    }
    const namespace = r.namespaced ? target.namespace || 'default' : undefined;
    const related: Partial<Record<Related, string>> = {};
    for (const rel of relatedOf(target.apiVersion, target.kind)) related[rel] = use(RELATED_RESOURCES[rel], namespace);
    plans.push({ target, ref, namespace, self: use(r, namespace), related });
  }

  const feeds = new Map<string, FeedState>();
  const fatal = new Map<string, ResourceStatus>();
  const lastError = new Map<string, string>();
  const view: View = { feeds, fatal };
  const memory: Memory = { firstSeen: new Map(), seen: new Set() };
  const latest = new Map<string, ResourceStatus>();
  const settled = new Map<string, { status: ResourceStatus; at: number }>();
  const failedOrder: string[] = [];
  const throttle = new ProgressThrottle(opts.progressEveryMs ?? 3000);
  const stop = new AbortController();
  const failFast = opts.failFast ?? true;

  return new Promise<VerifyResult>((resolve, reject) => {
    let done = false;
    let scheduled = false;
    const timers: NodeJS.Timeout[] = [];

    const end = (timedOut: boolean, error?: unknown) => {
      if (done) return;
      done = true;
      for (const t of timers) clearTimeout(t);
      clearInterval(tick);
      opts.signal?.removeEventListener('abort', onAbort);
      stop.abort();
      if (error !== undefined) return reject(error);
      const total = now() - start;
      const verdicts: ResourceVerdict[] = plans.map((p) => {
        const s = settled.get(p.ref);
        const status = s?.status ??
          latest.get(p.ref) ?? {
            state: 'in-progress' as const,
            reason: Reason.InProgress,
            message: `no complete view of the cluster yet${describeErrors(p, lastError)}`,
          };
        return { ...printable(status), target: p.target, ref: p.ref, durationMs: s ? s.at - start : total };
      });
      resolve(summarize(verdicts, failedOrder, timedOut, total, opts.timeoutMs));
    };

    const evaluate = () => {
      scheduled = false;
      if (done) return;
      const t = now();
      for (const p of plans) {
        if (settled.has(p.ref)) continue;
        const s = evaluateTarget(p, view, memory, t, options);
        if (!s) continue;
        latest.set(p.ref, s);
        const final = isFinal(s);
        const line = throttle.next(p.ref, progressLine(p.target, s.progress), t, final);
        if (line) opts.onProgress?.(line);
        if (final) {
          settled.set(p.ref, { status: s, at: t });
          if (s.state === 'failed') failedOrder.push(p.ref);
        }
      }
      if (settled.size === plans.length || (failFast && failedOrder.length > 0)) end(false);
    };
    const schedule = () => {
      if (scheduled || done) return;
      scheduled = true;
      setImmediate(evaluate);
    };

    const onAbort = () => end(false, opts.signal?.reason ?? new Error('aborted'));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const tick = setInterval(schedule, opts.tickMs ?? 1000);
    timers.push(
      setTimeout(
        () => {
          evaluate();
          end(true);
        },
        Math.max(0, opts.timeoutMs),
      ),
    );

    for (const [key, { r, ns }] of sources) {
      void runFeed(client, r, ns, stop.signal, {
        state: (s) => {
          feeds.set(key, s);
          schedule();
        },
        fatal: (status) => {
          fatal.set(key, status);
          schedule();
        },
        error: (e) => lastError.set(key, e),
        abort: (e) => end(false, e),
      });
    }
    schedule();
  });
}

/** Messages quote the cluster (container messages, scheduler text, conditions): masked and inert from here on. */
function printable(s: ResourceStatus): ResourceStatus {
  const out: ResourceStatus = { ...s, message: untrusted(s.message, { max: 2000, oneLine: true }) };
  if (s.pods) out.pods = s.pods.map((p) => ({ ...p, pod: untrusted(p.pod, { max: 253 }), message: untrusted(p.message, { max: 1000, oneLine: true }) }));
  return out;
}

function describeErrors(p: TargetPlan, errors: Map<string, string>): string {
  const keys = [p.self, ...Object.values(p.related)].filter((k): k is string => !!k);
  const e = keys.map((k) => errors.get(k)).find(Boolean);
  return e ? ` (last error: ${e})` : '';
}

interface FeedSink {
  state: (s: FeedState) => void;
  /** The feed can never sync: a verdict for every target that needs it. */
  fatal: (status: ResourceStatus) => void;
  error: (message: string) => void;
  /** An error that ends the whole verification (credentials refused). */
  abort: (e: unknown) => void;
}

/** LIST, then WATCH from its version until the stream is lost; then list again, with backoff on errors. */
async function runFeed(client: KubeClient, r: Resource, ns: string | undefined, signal: AbortSignal, sink: FeedSink): Promise<void> {
  let state = EMPTY_FEED;
  let failures = 0;
  const what = `${r.name}${ns ? ` in namespace ${ns}` : ''}`;
  while (!signal.aborted) {
    try {
      const listed = await client.listVersioned(r, ns);
      if (signal.aborted) return;
      state = reduceFeed(state, { type: 'listed', ...listed }).state;
      sink.state(state);
      failures = 0;
      for (;;) {
        // The server ends each watch after timeoutSeconds (spread so feeds do not re-watch in step),
        // before the client's 90 s idle limit: a quiet namespace re-watches, only a dead one re-lists.
        const query = { resourceVersion: state.resourceVersion, allowWatchBookmarks: 'true', timeoutSeconds: String(50 + Math.floor(Math.random() * 20)) };
        await client.watch(
          r,
          ns,
          query,
          (event: WatchEvent) => {
            const step = reduceFeed(state, { type: 'watch', event });
            state = step.state;
            sink.state(state);
            if (step.relist) {
              const o = event.object as { message?: unknown; code?: unknown };
              sink.error(`watch of ${what}: ${untrusted(o?.message ?? `${event.type} event`, { max: 200, oneLine: true })}`);
              throw RELIST;
            }
          },
          signal,
        );
        if (signal.aborted) return;
      }
    } catch (e) {
      if (signal.aborted) return;
      if (e === RELIST) continue;
      if (e instanceof ApiError && e.status === 401) return sink.abort(e);
      if (e instanceof ApiError && e.status === 403) {
        return sink.fatal({ state: 'failed', reason: Reason.Forbidden, message: `the API server refused to list or watch ${what}: ${e.message}` });
      }
      if (e instanceof ApiError && e.status === 404) {
        return sink.fatal({ state: 'failed', reason: Reason.UnknownKind, message: `the cluster does not serve ${r.apiVersion} ${r.name}` });
      }
      state = reduceFeed(state, { type: 'lost' }).state;
      sink.state(state);
      sink.error(`${what}: ${e instanceof Error ? e.message : String(e)}`);
      // The suite's one backoff (full jitter), with a short ceiling: a verdict waits on this feed.
      await pause(backoffDelay(failures++, RELIST_BACKOFF), signal);
    }
  }
}

const RELIST_BACKOFF = { baseMs: 200, maxDelayMs: 5000 };

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
