// The bake: every gate measured once per `interval` until `bakeTime` has passed, all gates in the
// same loop (each round measures each gate that is still running, together).
//
// Limits, as Argo Rollouts counts them (a limit is how many are *tolerated*):
// - `failureLimit` (default 0): a gate fails when its failed measurements exceed it — by default
//   the first failed measurement fails the gate, and the first failed gate ends the bake early.
// - `inconclusiveLimit` (default 0): a gate ends inconclusive when its inconclusive measurements
//   exceed it (low traffic must not turn into a pass by waiting it out).
// - `errorLimit` (default 4): errors in a row that are tolerated; one more and the gate ends
//   inconclusive with the cause (Prometheus being away says nothing about the release). A
//   measurement that is not an error resets the count.
// - A gate that reaches the end of the bake passes only if at least one of its measurements
//   passed: tolerated inconclusives or errors alone are no evidence, and the gate is inconclusive.
//
// The bake's verdict: failed if any gate failed, else inconclusive if any gate was, else passed.
// Measurements are taken at start + interval, start + 2·interval, …, the last one at bakeTime
// (so a bake of 60 s every 10 s takes 6). Times come from the injected clock, not from summed
// sleeps, so slow queries do not stretch the bake: a round that overruns the next slot skips it.
import type { GateDefinition } from './condition.ts';
import { sleep as kitSleep } from './kit.ts';
import { formatLabels, formatValue, type Measurement, measure } from './measure.ts';
import type { Querier } from './prometheus.ts';

/**
 * Anything the bake can measure: a PromQL condition (metricGate) or a check of answers (a smoke
 * gate, built by the action that owns the checks). `condition` ends a passing gate's reason.
 */
export interface Gate {
  name: string;
  /** What a pass means, e.g. `< 0.01` (shown after the last passing values). */
  condition: string;
  measure(at: Date): Promise<Measurement>;
}

/** A PromQL gate measured against one Prometheus. */
export function metricGate(prom: Querier, def: GateDefinition): Gate {
  return { name: def.name, condition: `${def.op} ${def.threshold}`, measure: (at) => measure(prom, def, at) };
}

export type Verdict = 'passed' | 'failed' | 'inconclusive';

export interface BakeOptions {
  bakeTimeMs: number;
  intervalMs: number;
  failureLimit?: number;
  inconclusiveLimit?: number;
  errorLimit?: number;
  /** Milliseconds since the epoch. Default Date.now. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Called after each measurement (for live log lines). */
  onMeasurement?: (m: Measurement) => void;
}

export interface GateVerdict {
  gate: string;
  verdict: Verdict;
  /** What decided it, naming the observed values. */
  reason: string;
  counts: Record<Measurement['outcome'], number>;
  measurements: Measurement[];
}

export interface BakeVerdict {
  verdict: Verdict;
  reason: string;
  startedAt: string;
  endedAt: string;
  gates: GateVerdict[];
}

interface Running {
  def: Gate;
  counts: GateVerdict['counts'];
  consecutiveErrors: number;
  measurements: Measurement[];
  ended?: { verdict: Verdict; reason: string };
}

function checkLimit(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0) throw new RangeError(`${name} must be a whole number ≥ 0, not ${v}`);
  return v;
}

/** Applies one measurement to a gate; sets `ended` when a limit was crossed. */
function record(g: Running, m: Measurement, limits: { failure: number; inconclusive: number; error: number }): void {
  g.measurements.push(m);
  g.counts[m.outcome]++;
  g.consecutiveErrors = m.outcome === 'error' ? g.consecutiveErrors + 1 : 0;
  const at = `at ${m.time}`;
  if (m.outcome === 'fail' && g.counts.fail > limits.failure)
    g.ended = { verdict: 'failed', reason: `${m.reason} (${at}; ${g.counts.fail} failed measurement(s), failure-limit ${limits.failure})` };
  else if (m.outcome === 'inconclusive' && g.counts.inconclusive > limits.inconclusive)
    g.ended = {
      verdict: 'inconclusive',
      reason: `${m.reason} (${at}; ${g.counts.inconclusive} inconclusive measurement(s), inconclusive-limit ${limits.inconclusive})`,
    };
  else if (m.outcome === 'error' && g.consecutiveErrors > limits.error)
    g.ended = { verdict: 'inconclusive', reason: `${g.consecutiveErrors} errors in a row (error-limit ${limits.error}); last: ${m.reason}` };
}

/** The verdict of a gate still running when the bake ends. */
function atEnd(g: Running): { verdict: Verdict; reason: string } {
  const passes = g.measurements.filter((m) => m.outcome === 'pass');
  const last = passes.at(-1);
  if (!last) {
    const lastM = g.measurements.at(-1);
    return { verdict: 'inconclusive', reason: `no measurement passed${lastM ? `; last: ${lastM.outcome}: ${lastM.reason}` : ''}` };
  }
  const values = last.values.map((v) => `${formatValue(v.value)}${Object.keys(v.labels).length ? ` for ${formatLabels(v.labels)}` : ''}`).join('; ');
  return { verdict: 'passed', reason: `${passes.length} of ${g.measurements.length} measurement(s) passed; last ${values} ${g.def.condition}`.trimEnd() };
}

/** The bake of PromQL gates against one Prometheus. */
export function bake(prom: Querier, defs: readonly GateDefinition[], options: BakeOptions): Promise<BakeVerdict> {
  return bakeGates(
    defs.map((d) => metricGate(prom, d)),
    options,
  );
}

/** The bake of any gates (metric and smoke gates together). */
export async function bakeGates(gates: readonly Gate[], options: BakeOptions): Promise<BakeVerdict> {
  const limits = {
    failure: checkLimit('failure-limit', options.failureLimit ?? 0),
    inconclusive: checkLimit('inconclusive-limit', options.inconclusiveLimit ?? 0),
    error: checkLimit('error-limit', options.errorLimit ?? 4),
  };
  if (!(options.intervalMs > 0)) throw new RangeError(`interval must be more than 0 ms, not ${options.intervalMs}`);
  if (!(options.bakeTimeMs >= 0)) throw new RangeError(`bake-time must be 0 ms or more, not ${options.bakeTimeMs}`);
  if (gates.length === 0) throw new RangeError('no gate to bake');
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? kitSleep;

  const running: Running[] = gates.map((def) => ({ def, counts: { pass: 0, fail: 0, inconclusive: 0, error: 0 }, consecutiveErrors: 0, measurements: [] }));
  const start = now();
  const end = start + options.bakeTimeMs;
  let slot = Math.min(start + options.intervalMs, end);

  for (;;) {
    const wait = slot - now();
    if (wait > 0) await sleep(wait);
    const at = new Date(now());
    const active = running.filter((g) => !g.ended);
    const results = await Promise.all(active.map((g) => g.def.measure(at)));
    for (const [i, m] of results.entries()) {
      record(active[i] as Running, m, limits);
      options.onMeasurement?.(m);
    }
    if (running.some((g) => g.ended?.verdict === 'failed') || running.every((g) => g.ended) || slot >= end) break;
    // The next slot after now: a round that overran skips the slots it missed.
    const t = now();
    do slot = Math.min(slot + options.intervalMs, end);
    while (slot <= t && slot < end);
  }

  const verdicts: GateVerdict[] = running.map((g) => {
    const v = g.ended ?? atEnd(g);
    return { gate: g.def.name, verdict: v.verdict, reason: v.reason, counts: g.counts, measurements: g.measurements };
  });
  const failed = verdicts.filter((v) => v.verdict === 'failed');
  const inconclusive = verdicts.filter((v) => v.verdict === 'inconclusive');
  const decided = failed.length ? failed : inconclusive.length ? inconclusive : verdicts;
  const verdict: Verdict = failed.length ? 'failed' : inconclusive.length ? 'inconclusive' : 'passed';
  return {
    verdict,
    reason: decided.map((v) => `gate "${v.gate}" ${v.verdict}: ${v.reason}`).join('\n'),
    startedAt: new Date(start).toISOString(),
    endedAt: new Date(now()).toISOString(),
    gates: verdicts,
  };
}
