// rollout-verify's gates: PromQL conditions against Prometheus and smoke-test's checks, measured
// together every `interval` during `bake-time` once the rollout itself is Current.
//
// The smoke gate runs smoke-test's own check (its inputs, its request code, its expectations) with
// one attempt per measurement: the same inputs mean the same answers are judged the same way in
// both actions. It imports smoke-test's run and schema directly rather than through a package
// because they are that action's logic as a whole; a third user would be the moment to move them.

import { type Gate, type Measurement, metricGate, PrometheusClient, parseGates } from '@shipline/gates';
import { type InputsOf, input, type Log, parseInputs, UserError } from '@shipline/kit';
import { formatStatusPatterns } from '../../smoke-test/src/expect.ts';
import type { Requester } from '../../smoke-test/src/http.ts';
import { type Inputs as SmokeInputs, schema as smokeSchema } from '../../smoke-test/src/inputs.ts';
import { type ApiConnection, type SmokeResult, run as smokeRun } from '../../smoke-test/src/run.ts';

/** smoke-test's inputs that make sense as a gate, offered as `smoke-<name>`. */
export const SMOKE_INPUTS = [
  'url',
  'service',
  'pod',
  'method',
  'headers',
  'body',
  'expect-status',
  'expect-body',
  'expect-json',
  'max-latency',
  'timeout',
  'ca-file',
  'insecure',
] as const;
type SmokeName = (typeof SMOKE_INPUTS)[number];

export const smokeGateSchema = Object.fromEntries(SMOKE_INPUTS.map((k) => [`smoke-${k}`, smokeSchema[k]])) as {
  [K in SmokeName as `smoke-${K}`]: (typeof smokeSchema)[K];
};

export const gateSchema = {
  metrics: input.string(),
  'prometheus-url': input.url({ protocols: ['http:', 'https:'] }),
  'prometheus-token': input.string({ secret: true }),
  'bake-time': input.duration({ default: '1m', min: 0, max: 24 * 3_600_000 }),
  interval: input.duration({ default: '10s', min: 1000, max: 3_600_000 }),
  'failure-limit': input.integer({ default: '0', min: 0, max: 1000 }),
  'inconclusive-limit': input.integer({ default: '0', min: 0, max: 1000 }),
  'error-limit': input.integer({ default: '4', min: 0, max: 1000 }),
  'min-samples': input.integer({ default: '0', min: 0 }),
  'on-failure': input.enumOf(['fail', 'reject'] as const, { default: 'fail' }),
  'on-inconclusive': input.enumOf(['fail', 'pass', 'reject'] as const, { default: 'fail' }),
  ...smokeGateSchema,
};

export type GateInputs = InputsOf<typeof gateSchema>;

export function hasSmokeGate(i: GateInputs): boolean {
  return i['smoke-url'].length + i['smoke-service'].length + i['smoke-pod'].length > 0;
}

export function hasGates(i: GateInputs): boolean {
  return i.metrics !== undefined || hasSmokeGate(i);
}

/** The metric gates as written (throws the UserError of the first bad line). */
export function metricDefinitions(i: GateInputs) {
  if (i.metrics === undefined) return [];
  return parseGates(i.metrics, 'metrics', { minSamples: i['min-samples'], minSamplesInput: 'min-samples' });
}

/** Rules across the gate inputs, each naming the input to change. */
export function validateGates(i: GateInputs, given: (name: string) => boolean): void {
  metricDefinitions(i);
  if (i.metrics !== undefined && i['prometheus-url'] === undefined)
    throw new UserError('`metrics` needs a Prometheus to ask', {
      input: 'prometheus-url',
      hint: 'set `prometheus-url`, e.g. http://prometheus.monitoring:9090',
    });
  if (i.metrics === undefined && i['prometheus-url'] !== undefined)
    throw new UserError('`prometheus-url` is set but there is no `metrics` gate to measure', {
      input: 'metrics',
      hint: 'add gates, one a line: name: <promql> <op> <number>',
    });
  if (!hasGates(i)) {
    for (const name of [
      'bake-time',
      'interval',
      'failure-limit',
      'inconclusive-limit',
      'error-limit',
      'min-samples',
      'on-inconclusive',
      ...Object.keys(smokeGateSchema),
    ]) {
      if (given(name))
        throw new UserError(`\`${name}\` is set but no gate is defined`, {
          input: name,
          hint: 'add `metrics` (PromQL gates) or `smoke-url`/`smoke-service`/`smoke-pod` (a smoke gate), or drop it',
        });
    }
  }
  if (hasGates(i) && i.interval > i['bake-time'] && i['bake-time'] > 0)
    throw new UserError(`\`interval\` (${i.interval / 1000} s) is longer than \`bake-time\` (${i['bake-time'] / 1000} s)`, {
      input: 'interval',
      hint: 'measure at least once during the bake: make `interval` at most `bake-time`',
    });
}

export interface SmokeGateDeps {
  request: Requester;
  /** Cluster access for service/pod targets: the same connection the verdict used. */
  connect?: () => Promise<ApiConnection>;
  now(): number;
  sleep(ms: number): Promise<void>;
  log: Log;
  mask(secret: string): void;
  env?: Readonly<Record<string, string | undefined>>;
}

/** One measurement of the smoke gate = one attempt at every target, judged by smoke-test. */
export function smokeGate(i: GateInputs, deps: SmokeGateDeps): Gate {
  const defaults = parseInputs(smokeSchema, () => undefined);
  const smoke: SmokeInputs = {
    ...defaults,
    ...(Object.fromEntries(SMOKE_INPUTS.map((k) => [k, i[`smoke-${k}`]])) as Pick<SmokeInputs, SmokeName>),
    // One attempt per measurement: the bake's interval and limits are the retries.
    retries: 0,
    deadline: i['smoke-timeout'] + 1000,
    'consecutive-successes': 1,
    concurrency: 8,
  };
  const statuses = formatStatusPatterns(smoke['expect-status']);
  const quiet: Log = { ...deps.log, info: (m) => deps.log.debug(m), group: (_t, fn) => fn() };
  return {
    name: 'smoke',
    condition: `answers ${statuses}${smoke['max-latency'] ? ` within ${smoke['max-latency']} ms` : ''}`,
    measure: async (at: Date): Promise<Measurement> => {
      const time = at.toISOString();
      let r: SmokeResult;
      try {
        r = await smokeRun(smoke, { ...deps, log: quiet, connect: deps.connect ? () => (deps.connect as () => Promise<ApiConnection>)() : undefined });
      } catch (e) {
        return { gate: 'smoke', time, outcome: 'error', values: [], reason: `smoke check could not run: ${e instanceof Error ? e.message : String(e)}` };
      }
      const values = r.results.map((t) => ({
        labels: { target: t.target },
        value: t.status ?? ('NaN' as const),
        outcome: t.passed ? ('pass' as const) : ('fail' as const),
      }));
      const bad = r.results.filter((t) => !t.passed);
      if (bad.length) return { gate: 'smoke', time, outcome: 'fail', values, reason: bad.map((t) => `${t.target}: ${t.reason ?? 'failed'}`).join('; ') };
      return {
        gate: 'smoke',
        time,
        outcome: 'pass',
        values,
        reason: `${r.results.length} target(s) answered as expected${r.p50Ms === undefined ? '' : ` (p50 ${r.p50Ms} ms)`}`,
      };
    },
  };
}

/** Every gate the inputs define, metric gates first. */
export function gatesOf(i: GateInputs, smoke: SmokeGateDeps, promOptions: { mask(s: string): void }): Gate[] {
  const gates: Gate[] = [];
  const defs = metricDefinitions(i);
  if (defs.length) {
    const url = i['prometheus-url'] as URL;
    if (url.password) promOptions.mask(decodeURIComponent(url.password));
    const prom = new PrometheusClient({
      url: url.href,
      ...(i['prometheus-token'] ? { auth: { bearer: i['prometheus-token'] } } : {}),
    });
    for (const d of defs) gates.push(metricGate(prom, d));
  }
  if (hasSmokeGate(i)) gates.push(smokeGate(i, smoke));
  return gates;
}
