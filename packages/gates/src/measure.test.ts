import { afterEach, describe, expect, it } from 'vitest';
import { type GateDefinition, parseCondition } from './condition.ts';
import { type Measurement, measure } from './measure.ts';
import { PrometheusClient, PrometheusError, type Querier, type QueryResult } from './prometheus.ts';
import { closedPort, type FakePrometheus, fakePrometheus, vector } from './testing/fake-prometheus.ts';

const AT = new Date('2026-12-02T00:00:00.000Z');
const P = (value: number) => ({ time: 1, value });

/** Answers per query text; an Error is thrown as the query's failure. */
function querier(answers: Record<string, QueryResult | Error>): Querier & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    async query(promql: string) {
      asked.push(promql);
      const a = answers[promql];
      if (a === undefined) throw new Error(`unexpected query ${promql}`);
      if (a instanceof Error) throw a;
      return a;
    },
  };
}

const gate: GateDefinition = parseCondition('error-rate: err < 0.01');
const withSamples: GateDefinition = { ...gate, samples: 'traffic', minSamples: 20 };
const vec = (...s: [Record<string, string>, number][]): QueryResult => ({ type: 'vector', series: s.map(([labels, v]) => ({ labels, point: P(v) })) });

describe('measure: outcomes', () => {
  const cases: [string, GateDefinition, Record<string, QueryResult | Error>, Partial<Measurement>][] = [
    [
      'one series under the threshold passes',
      gate,
      { err: vec([{}, 0.001]) },
      { outcome: 'pass', values: [{ labels: {}, value: 0.001, outcome: 'pass' }], reason: '0.001 < 0.01' },
    ],
    ['one series at the threshold fails', gate, { err: vec([{}, 0.01]) }, { outcome: 'fail', reason: '0.01 is not < 0.01' }],
    [
      'several series: one failing fails, named by its labels',
      gate,
      { err: vec([{ pod: 'a' }, 0], [{ pod: 'b' }, 0.5], [{ pod: 'c' }, Number.NaN]) },
      {
        outcome: 'fail',
        values: [
          { labels: { pod: 'a' }, value: 0, outcome: 'pass' },
          { labels: { pod: 'b' }, value: 0.5, outcome: 'fail' },
          { labels: { pod: 'c' }, value: 'NaN', outcome: 'inconclusive' },
        ],
        reason: '0.5 for {pod="b"} is not < 0.01',
      },
    ],
    [
      'several series all passing pass',
      gate,
      { err: vec([{ pod: 'a' }, 0], [{ pod: 'b' }, 0.002]) },
      { outcome: 'pass', reason: '0 for {pod="a"}; 0.002 for {pod="b"} < 0.01' },
    ],
    ['a NaN series and no failure is inconclusive', gate, { err: vec([{ pod: 'a' }, 0], [{ pod: 'b' }, Number.NaN]) }, { outcome: 'inconclusive' }],
    [
      'NaN (0/0) is inconclusive, never pass',
      gate,
      { err: vec([{}, Number.NaN]) },
      { outcome: 'inconclusive', values: [{ labels: {}, value: 'NaN', outcome: 'inconclusive' }] },
    ],
    [
      '+Inf is compared as a number',
      gate,
      { err: vec([{}, Number.POSITIVE_INFINITY]) },
      { outcome: 'fail', values: [{ labels: {}, value: '+Inf', outcome: 'fail' }], reason: '+Inf is not < 0.01' },
    ],
    [
      'an empty vector (no data) is inconclusive',
      gate,
      { err: vec() },
      { outcome: 'inconclusive', values: [], reason: 'no data: the query returned no series' },
    ],
    [
      'a scalar is compared directly',
      gate,
      { err: { type: 'scalar', point: P(0.5) } },
      { outcome: 'fail', values: [{ labels: {}, value: 0.5, outcome: 'fail' }] },
    ],
    [
      'a matrix is judged by each series’ last sample',
      gate,
      {
        err: {
          type: 'matrix',
          series: [
            { labels: { pod: 'a' }, points: [P(0.9), P(0.001)] },
            { labels: { pod: 'b' }, points: [P(0), P(0.002)] },
          ],
        },
      },
      {
        outcome: 'pass',
        values: [
          { labels: { pod: 'a' }, value: 0.001, outcome: 'pass' },
          { labels: { pod: 'b' }, value: 0.002, outcome: 'pass' },
        ],
      },
    ],
    ['an empty matrix is inconclusive', gate, { err: { type: 'matrix', series: [{ labels: {}, points: [] }] } }, { outcome: 'inconclusive' }],
    [
      'a string result is an error',
      gate,
      { err: { type: 'string', time: 1, value: 'hi' } },
      { outcome: 'error', reason: 'the query returns a string ("hi"); a gate needs a number or a vector' },
    ],
    [
      'a query error is an error',
      gate,
      { err: new PrometheusError('api', 'Prometheus refused "err": bad_data: parse error') },
      { outcome: 'error', reason: 'Prometheus refused "err": bad_data: parse error' },
    ],
    ['enough samples: judged', withSamples, { traffic: vec([{ pod: 'a' }, 15], [{ pod: 'b' }, 10]), err: vec([{}, 0]) }, { outcome: 'pass', samples: 25 }],
    [
      'fewer than minSamples is inconclusive even when failing',
      withSamples,
      { traffic: vec([{}, 19]) },
      { outcome: 'inconclusive', samples: 19, reason: 'too little traffic: 19 samples, fewer than the 20 needed to judge' },
    ],
    ['no data for the samples query is no traffic', withSamples, { traffic: vec() }, { outcome: 'inconclusive', samples: 0 }],
    ['NaN samples are inconclusive', withSamples, { traffic: vec([{}, Number.NaN]) }, { outcome: 'inconclusive', samples: 'NaN' }],
    [
      'a samples query error is an error',
      withSamples,
      { traffic: new PrometheusError('unreachable', 'down') },
      { outcome: 'error', reason: 'samples query: down' },
    ],
  ];
  it.each(cases)('%s', async (_name, def, answers, expected) => {
    const q = querier(answers);
    const m = await measure(q, def, AT);
    expect(m).toMatchObject({ gate: 'error-rate', time: AT.toISOString(), ...expected });
    // JSON-able: nothing lost (NaN/Inf are strings) when written out.
    expect(JSON.parse(JSON.stringify(m))).toEqual(m);
  });

  it('does not ask the gate query when traffic is too low', async () => {
    const q = querier({ traffic: vec([{}, 1]) });
    await measure(q, withSamples, AT);
    expect(q.asked).toEqual(['traffic']);
  });
});

describe('measure through HTTP', () => {
  let fake: FakePrometheus | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  it('asks at the measurement time and judges the answer', async () => {
    fake = await fakePrometheus(() => ({ body: vector([{ code: '500' }, '0.25']) }));
    const m = await measure(new PrometheusClient({ url: fake.url }), gate, AT);
    expect(m).toMatchObject({ outcome: 'fail', values: [{ labels: { code: '500' }, value: 0.25 }] });
    expect(fake.requests[0]?.url.searchParams.get('time')).toBe('1796169600.000');
  });

  it('an unreachable Prometheus is an error with the cause', async () => {
    const port = await closedPort();
    const m = await measure(new PrometheusClient({ url: `http://127.0.0.1:${port}`, retry: { retries: 0 } }), gate, AT);
    expect(m.outcome).toBe('error');
    expect(m.reason).toContain('connection refused');
  });
});
