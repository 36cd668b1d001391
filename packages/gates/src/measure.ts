// One measurement of one gate: ask Prometheus, compare, and say pass / fail / inconclusive / error.
//
// Semantics (each is a test in measure.test.ts):
// - **error**: the query could not be answered — Prometheus unreachable, an HTTP or API error
//   (bad PromQL included), an answer that is not the API's shape, or a `string` result (a gate
//   needs numbers). The gate loop counts consecutive errors against its error limit.
// - **inconclusive**, never pass, when there is nothing to judge: an empty vector or matrix (no
//   data), a NaN value (0/0: no requests in the window), or — when the gate has a `samples` query —
//   fewer than `minSamples` samples (the sum of that query's values; no data there counts as 0).
// - Several series are compared one by one: any failing series fails the measurement, and the
//   reason names it by its labels; otherwise any NaN series makes it inconclusive; otherwise pass.
// - A scalar is compared directly; a matrix is judged by each series' last sample.
// - ±Inf is a number like any other (x/0 with x > 0 is +Inf: an error rate of "infinitely bad").
import { compare, type GateDefinition } from './condition.ts';
import { untrusted } from './kit.ts';
import { type Labels, PrometheusError, type Querier, type QueryResult } from './prometheus.ts';

export type Outcome = 'pass' | 'fail' | 'inconclusive' | 'error';

/** A number that survives JSON.stringify (which would turn NaN and ±Inf into null). */
export type JsonNumber = number | 'NaN' | '+Inf' | '-Inf';

export function jsonNumber(n: number): JsonNumber {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Number.POSITIVE_INFINITY) return '+Inf';
  if (n === Number.NEGATIVE_INFINITY) return '-Inf';
  return n;
}

export interface ObservedValue {
  /** Labels of the series ({} for a scalar or an aggregate without labels). */
  labels: Labels;
  value: JsonNumber;
  outcome: 'pass' | 'fail' | 'inconclusive';
}

/** One measurement, as JSON-able data (the gate's output lists every one). */
export interface Measurement {
  gate: string;
  /** ISO time the measurement was asked for. */
  time: string;
  outcome: Outcome;
  values: ObservedValue[];
  /** The samples query's value, when the gate has one. */
  samples?: JsonNumber;
  reason: string;
}

/** `{code="500", route="/orders"}`: how a series is named in a reason. */
export function formatLabels(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '{}';
  return untrusted(`{${entries.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')}}`, { max: 200, oneLine: true });
}

export function formatValue(v: JsonNumber): string {
  return typeof v === 'number' ? String(Number(v.toPrecision(6))) : v;
}

/** Each series' value to judge: vector samples, a matrix's last samples, a scalar. */
function valuesOf(result: QueryResult): { labels: Labels; value: number }[] | string {
  switch (result.type) {
    case 'vector':
      return result.series.map((s) => ({ labels: s.labels, value: s.point.value }));
    case 'matrix':
      return result.series.filter((s) => s.points.length > 0).map((s) => ({ labels: s.labels, value: (s.points.at(-1) as { value: number }).value }));
    case 'scalar':
      return [{ labels: {}, value: result.point.value }];
    case 'string':
      return `the query returns a string (${JSON.stringify(untrusted(result.value, { max: 60, oneLine: true }))}); a gate needs a number or a vector`;
  }
}

function errorReason(err: unknown): string {
  if (err instanceof PrometheusError) return err.message;
  return `query failed: ${untrusted(err instanceof Error ? err.message : err, { max: 300, oneLine: true })}`;
}

export async function measure(prom: Querier, gate: GateDefinition, at: Date): Promise<Measurement> {
  const base = { gate: gate.name, time: at.toISOString() };
  const condition = `${gate.op} ${gate.threshold}`;

  let samples: number | undefined;
  if (gate.samples !== undefined) {
    let result: QueryResult;
    try {
      result = await prom.query(gate.samples, at);
    } catch (err) {
      return { ...base, outcome: 'error', values: [], reason: `samples query: ${errorReason(err)}` };
    }
    const vs = valuesOf(result);
    if (typeof vs === 'string') return { ...base, outcome: 'error', values: [], reason: `samples query: ${vs}` };
    // No data for the traffic query means no traffic.
    samples = vs.reduce((sum, v) => sum + v.value, 0);
    const min = gate.minSamples ?? 1;
    if (Number.isNaN(samples) || samples < min)
      return {
        ...base,
        outcome: 'inconclusive',
        values: [],
        samples: jsonNumber(samples),
        reason: `too little traffic: ${formatValue(jsonNumber(samples))} samples, fewer than the ${min} needed to judge`,
      };
  }
  const withSamples = samples === undefined ? {} : { samples: jsonNumber(samples) };

  let result: QueryResult;
  try {
    result = await prom.query(gate.query, at);
  } catch (err) {
    return { ...base, outcome: 'error', values: [], ...withSamples, reason: errorReason(err) };
  }
  const vs = valuesOf(result);
  if (typeof vs === 'string') return { ...base, outcome: 'error', values: [], ...withSamples, reason: vs };
  if (vs.length === 0) return { ...base, outcome: 'inconclusive', values: [], ...withSamples, reason: 'no data: the query returned no series' };

  const values: ObservedValue[] = vs.map((v) => ({
    labels: v.labels,
    value: jsonNumber(v.value),
    outcome: Number.isNaN(v.value) ? 'inconclusive' : compare(v.value, gate.op, gate.threshold) ? 'pass' : 'fail',
  }));
  const named = (o: ObservedValue) => `${formatValue(o.value)}${Object.keys(o.labels).length ? ` for ${formatLabels(o.labels)}` : ''}`;
  const failed = values.filter((v) => v.outcome === 'fail');
  if (failed.length > 0) return { ...base, outcome: 'fail', values, ...withSamples, reason: `${failed.map(named).join('; ')} is not ${condition}` };
  const nan = values.filter((v) => v.outcome === 'inconclusive');
  if (nan.length > 0)
    return {
      ...base,
      outcome: 'inconclusive',
      values,
      ...withSamples,
      reason: `no value to judge (NaN, e.g. 0/0 when the window saw no traffic): ${nan.map(named).join('; ')}`,
    };
  return { ...base, outcome: 'pass', values, ...withSamples, reason: `${values.map(named).join('; ')} ${condition}` };
}
