import { describe, expect, it } from 'vitest';
import { parseCondition } from './condition.ts';
import { type BakeOptions, type BakeVerdict, bake } from './gate.ts';
import { PrometheusError, type Querier, type QueryResult } from './prometheus.ts';

type Step = 'pass' | 'fail' | 'inc' | 'err';
const T0 = Date.parse('2026-12-02T00:00:00.000Z');

/** A fake clock and a Prometheus answering each gate's query from its script, one step per round. */
function world(scripts: Record<string, Step[]>, queryMs = 0) {
  let now = T0;
  const times: number[] = [];
  const calls: Record<string, number> = {};
  const prom: Querier = {
    async query(promql: string): Promise<QueryResult> {
      const n = calls[promql] ?? 0;
      calls[promql] = n + 1;
      times.push(now - T0);
      now += queryMs;
      const step = scripts[promql]?.[n];
      if (step === undefined) throw new Error(`${promql} measured more often than scripted (${n + 1})`);
      if (step === 'err')
        throw new PrometheusError('unreachable', 'Prometheus at http://127.0.0.1:1/api/v1/query did not answer (connection refused, ECONNREFUSED)');
      const value = step === 'pass' ? 0.001 : step === 'fail' ? 0.2 : Number.NaN;
      return { type: 'vector', series: [{ labels: { service: promql }, point: { time: now / 1000, value } }] };
    },
  };
  const opts = {
    now: () => now,
    sleep: async (ms: number) => {
      now += ms;
    },
  };
  return { prom, opts, times, elapsed: () => now - T0 };
}

const gates = (...names: string[]) => names.map((n) => parseCondition(`${n}: ${n} < 0.01`));

async function run(scripts: Record<string, Step[]>, options: Partial<BakeOptions> = {}): Promise<BakeVerdict & { elapsed: number }> {
  const w = world(scripts);
  const v = await bake(w.prom, gates(...Object.keys(scripts)), { bakeTimeMs: 60_000, intervalMs: 10_000, ...w.opts, ...options });
  expect(JSON.parse(JSON.stringify(v))).toEqual(v);
  return { ...v, elapsed: w.elapsed() };
}

describe('bake: limits of one gate', () => {
  const cases: [string, Step[], Partial<BakeOptions>, BakeVerdict['verdict'], number, string][] = [
    ['all pass', ['pass', 'pass', 'pass', 'pass', 'pass', 'pass'], {}, 'passed', 6, '6 of 6 measurement(s) passed; last 0.001 for {service="a"} < 0.01'],
    [
      'the first failure fails by default (failure-limit 0)',
      ['pass', 'fail'],
      {},
      'failed',
      2,
      '0.2 for {service="a"} is not < 0.01 (at 2026-12-02T00:00:20.000Z; 1 failed measurement(s), failure-limit 0)',
    ],
    ['failure-limit 1 tolerates one failure', ['fail', 'pass', 'pass', 'pass', 'pass', 'pass'], { failureLimit: 1 }, 'passed', 6, '5 of 6'],
    ['failure-limit 1: the second failure fails', ['fail', 'pass', 'fail'], { failureLimit: 1 }, 'failed', 3, '2 failed measurement(s), failure-limit 1'],
    ['the first inconclusive ends it by default', ['inc'], {}, 'inconclusive', 1, 'no value to judge (NaN'],
    ['inconclusive-limit 2 tolerates two', ['inc', 'inc', 'pass', 'pass', 'pass', 'pass'], { inconclusiveLimit: 2 }, 'passed', 6, '4 of 6'],
    [
      'inconclusive-limit 2: the third ends it',
      ['inc', 'pass', 'inc', 'inc'],
      { inconclusiveLimit: 2 },
      'inconclusive',
      4,
      '3 inconclusive measurement(s), inconclusive-limit 2',
    ],
    [
      'tolerated inconclusives alone never pass',
      ['inc', 'inc', 'inc', 'inc', 'inc', 'inc'],
      { inconclusiveLimit: 10 },
      'inconclusive',
      6,
      'no measurement passed; last: inconclusive',
    ],
    ['4 errors in a row are tolerated (error-limit 4)', ['err', 'err', 'err', 'err', 'pass', 'pass'], {}, 'passed', 6, '2 of 6'],
    [
      'the 5th error in a row ends it inconclusive with the cause',
      ['err', 'err', 'err', 'err', 'err'],
      {},
      'inconclusive',
      5,
      '5 errors in a row (error-limit 4); last: Prometheus at http://127.0.0.1:1/api/v1/query did not answer (connection refused',
    ],
    ['a non-error resets the error count', ['err', 'err', 'pass', 'err', 'err', 'pass'], { errorLimit: 2 }, 'passed', 6, '2 of 6'],
    ['error-limit 0: the first error ends it', ['err'], { errorLimit: 0 }, 'inconclusive', 1, '1 errors in a row (error-limit 0)'],
    [
      'errors at the end with no pass are inconclusive',
      ['err', 'err', 'err', 'err'],
      { bakeTimeMs: 40_000 },
      'inconclusive',
      4,
      'no measurement passed; last: error',
    ],
    ['a failure after tolerated errors fails', ['err', 'fail'], {}, 'failed', 2, 'is not < 0.01'],
  ];
  it.each(cases)('%s', async (_name, steps, options, verdict, measured, reason) => {
    const v = await run({ a: steps }, options);
    expect(v.verdict).toBe(verdict);
    expect(v.gates[0]?.verdict).toBe(verdict);
    expect(v.gates[0]?.measurements).toHaveLength(measured);
    expect(v.gates[0]?.reason).toContain(reason);
    expect(v.reason).toContain(`gate "a" ${verdict}: `);
    // A gate that ended early ends the bake early.
    expect(v.elapsed).toBe(measured * 10_000);
    const c = v.gates[0]?.counts;
    expect((c?.pass ?? 0) + (c?.fail ?? 0) + (c?.inconclusive ?? 0) + (c?.error ?? 0)).toBe(measured);
  });
});

describe('bake: several gates in one loop', () => {
  it('each gate is measured each round; the first failed gate ends the bake and names its values', async () => {
    const v = await run({ latency: ['pass', 'pass', 'pass'], errors: ['pass', 'pass', 'fail'] });
    expect(v.verdict).toBe('failed');
    expect(v.elapsed).toBe(30_000);
    expect(v.gates.map((g) => [g.gate, g.verdict, g.measurements.length])).toEqual([
      ['latency', 'passed', 3],
      ['errors', 'failed', 3],
    ]);
    expect(v.reason).toBe(
      'gate "errors" failed: 0.2 for {service="errors"} is not < 0.01 (at 2026-12-02T00:00:30.000Z; 1 failed measurement(s), failure-limit 0)',
    );
    expect(v.gates[1]?.measurements.map((m) => [m.time, m.outcome, m.values[0]?.value])).toEqual([
      ['2026-12-02T00:00:10.000Z', 'pass', 0.001],
      ['2026-12-02T00:00:20.000Z', 'pass', 0.001],
      ['2026-12-02T00:00:30.000Z', 'fail', 0.2],
    ]);
  });

  it('an inconclusive gate stops being measured; the others go on and can still fail the bake', async () => {
    const v = await run({ traffic: ['inc'], errors: ['pass', 'pass', 'pass', 'fail'] });
    expect(v.verdict).toBe('failed');
    expect(v.gates.map((g) => [g.gate, g.verdict, g.measurements.length])).toEqual([
      ['traffic', 'inconclusive', 1],
      ['errors', 'failed', 4],
    ]);
  });

  it('one inconclusive gate and the rest passing: inconclusive, naming that gate', async () => {
    const v = await run({ a: ['pass', 'pass', 'pass', 'pass', 'pass', 'pass'], b: ['inc'] });
    expect(v.verdict).toBe('inconclusive');
    expect(v.reason).toMatch(/^gate "b" inconclusive: no value to judge/);
    expect(v.elapsed).toBe(60_000);
  });

  it('all passing: passed, the reason naming each gate', async () => {
    const v = await run({ a: ['pass', 'pass'], b: ['pass', 'pass'] }, { bakeTimeMs: 20_000 });
    expect(v.verdict).toBe('passed');
    expect(v.reason.split('\n')).toEqual([
      'gate "a" passed: 2 of 2 measurement(s) passed; last 0.001 for {service="a"} < 0.01',
      'gate "b" passed: 2 of 2 measurement(s) passed; last 0.001 for {service="b"} < 0.01',
    ]);
    expect(v).toMatchObject({ startedAt: '2026-12-02T00:00:00.000Z', endedAt: '2026-12-02T00:00:20.000Z' });
  });
});

describe('bake: schedule', () => {
  it.each([
    ['60 s every 10 s: six, the last at 60 s', 60_000, 10_000, 0, [10, 20, 30, 40, 50, 60]],
    ['25 s every 10 s: the last at bake-time', 25_000, 10_000, 0, [10, 20, 25]],
    ['a bake shorter than the interval: one at bake-time', 5_000, 10_000, 0, [5]],
    ['bake-time 0: one at once', 0, 10_000, 0, [0]],
    ['queries slower than the interval skip the slots they missed', 60_000, 10_000, 25_000, [10, 40, 65]],
  ])('%s', async (_name, bakeTimeMs, intervalMs, queryMs, expected) => {
    const w = world({ a: Array(10).fill('pass') }, queryMs);
    await bake(w.prom, gates('a'), { bakeTimeMs, intervalMs, ...w.opts });
    expect(w.times.map((t) => t / 1000)).toEqual(expected);
  });

  it.each([
    [{ intervalMs: 0 }, 'interval must be more than 0 ms'],
    [{ bakeTimeMs: -1 }, 'bake-time must be 0 ms or more'],
    [{ failureLimit: -1 }, 'failure-limit must be a whole number'],
    [{ inconclusiveLimit: 1.5 }, 'inconclusive-limit must be a whole number'],
    [{ errorLimit: Number.NaN }, 'error-limit must be a whole number'],
  ])('rejects %j', async (bad, text) => {
    const w = world({ a: ['pass'] });
    await expect(bake(w.prom, gates('a'), { bakeTimeMs: 10_000, intervalMs: 10_000, ...w.opts, ...bad })).rejects.toThrow(text);
  });

  it('reports each measurement as it is taken', async () => {
    const w = world({ a: ['pass', 'fail'] });
    const seen: string[] = [];
    await bake(w.prom, gates('a'), { bakeTimeMs: 60_000, intervalMs: 10_000, ...w.opts, onMeasurement: (m) => seen.push(`${m.gate}:${m.outcome}`) });
    expect(seen).toEqual(['a:pass', 'a:fail']);
  });
});
