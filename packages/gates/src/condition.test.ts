import { describe, expect, it } from 'vitest';
import { compare, type GateDefinition, GateSyntaxError, lastTopLevelOperator, parseCondition, parseGates } from './condition.ts';

const ERROR_RATE = 'sum(rate(http_requests_total{code=~"5.."}[1m])) / sum(rate(http_requests_total[1m]))';

describe('parseCondition', () => {
  const cases: [string, Omit<GateDefinition, 'samples' | 'minSamples'>][] = [
    [`error-rate: ${ERROR_RATE} < 0.01`, { name: 'error-rate', query: ERROR_RATE, op: '<', threshold: 0.01 }],
    [
      'p95: histogram_quantile(0.95, sum by (le) (rate(x_bucket[1m]))) <= 0.25',
      { name: 'p95', query: 'histogram_quantile(0.95, sum by (le) (rate(x_bucket[1m])))', op: '<=', threshold: 0.25 },
    ],
    ['up:up{job="a"}>=1', { name: 'up', query: 'up{job="a"}', op: '>=', threshold: 1 }],
    ['ready: min(kube_ready) == 1', { name: 'ready', query: 'min(kube_ready)', op: '==', threshold: 1 }],
    ['restarts: sum(increase(restarts[5m])) != 3', { name: 'restarts', query: 'sum(increase(restarts[5m]))', op: '!=', threshold: 3 }],
    ['rps: sum(rate(r[1m])) > 1e-3', { name: 'rps', query: 'sum(rate(r[1m]))', op: '>', threshold: 0.001 }],
    ['drift: delta(g[5m]) > -0.5', { name: 'drift', query: 'delta(g[5m])', op: '>', threshold: -0.5 }],
    // PromQL's own comparison (a filter) before the gate's: the last one is the gate's.
    ['busy.pods: count(rate(cpu[1m]) > 0.8) < 2', { name: 'busy.pods', query: 'count(rate(cpu[1m]) > 0.8)', op: '<', threshold: 2 }],
    ['f: sum(x) > 0 < 5', { name: 'f', query: 'sum(x) > 0', op: '<', threshold: 5 }],
    // Operators and matchers inside braces and quotes are not the comparison.
    ['q: sum(x{path!="/a<b", v!~"1|2", w=~">="}) < 1', { name: 'q', query: 'sum(x{path!="/a<b", v!~"1|2", w=~">="})', op: '<', threshold: 1 }],
    ["s: label_replace(x, 'a', '>', 'b', '<') <= 4", { name: 's', query: "label_replace(x, 'a', '>', 'b', '<')", op: '<=', threshold: 4 }],
    ['e: sum(x{a="q\\"<"}) > 2', { name: 'e', query: 'sum(x{a="q\\"<"})', op: '>', threshold: 2 }],
    // A recording-rule name with colons in the query, the gate name before the first colon.
    ['rule: job:http_errors:ratio_rate1m < 0.05', { name: 'rule', query: 'job:http_errors:ratio_rate1m', op: '<', threshold: 0.05 }],
  ];
  it.each(cases)('%s', (line, expected) => expect(parseCondition(line)).toEqual(expected));

  const bad: [string, string][] = [
    [`${ERROR_RATE} < 0.01`, 'no gate name'],
    ['error-rate: sum(rate(http_requests_total[1m]))', 'no comparison'],
    ['x: sum(y{a="<"})', 'no comparison'],
    ['x: < 1', 'no PromQL query before "<"'],
    ['x: sum(y) < 1%', 'the threshold after "<" must be a number, not "1%"'],
    ['x: sum(y) < z', 'must be a number, not "z"'],
    ['x: sum(y) <', 'must be a number, not ""'],
    ['x: 1 < sum(y)', 'must be a number, not "sum(y)"'],
    ['x: sum(rate(y[1m]) < 1', 'the query has "(" that is never closed'],
    ['x: sum(y{a="b}) < 1', 'the query has a quote " that is never closed'],
    ['x: sum(y[1m)) < 1', 'the query has ")" where "]" is expected'],
    ['x: sum(y)) < 1', 'the query has ")" without its "("'],
    // Found by the bad-input corpus (issue 14): a mistyped operator left the query ending in one.
    ['x: up =< 1', 'the query ends with "=" before "<"'],
    ['x: sum(y) + > 1', 'the query ends with "+" before ">"'],
  ];
  it.each(bad)('rejects %j: %s', (line, problem) => {
    const err = (() => {
      try {
        parseCondition(line, { lineNo: 3 });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(GateSyntaxError);
    const e = err as GateSyntaxError;
    expect(e.message).toContain(`line 3 ${JSON.stringify(line)}: `);
    expect(e.message).toContain(problem);
    expect(e.input).toBe('metrics');
    expect(e.oneLine()).toContain('write each gate as "name: <promql> <op> <number>"');
  });
});

describe('lastTopLevelOperator', () => {
  it.each([
    ['a < 1', { at: 2, op: '<' }],
    ['a{b="<"} >= 2', { at: 9, op: '>=' }],
    ['(a > 1) == 1', { at: 8, op: '==' }],
    ['a # < 1', undefined],
  ])('%j', (expr, expected) => expect(lastTopLevelOperator(expr)).toEqual(expected));
});

describe('compare', () => {
  it.each([
    [0.005, '<', 0.01, true],
    [0.01, '<', 0.01, false],
    [0.01, '<=', 0.01, true],
    [2, '>', 1, true],
    [1, '>=', 1, true],
    [1, '==', 1, true],
    [1, '!=', 1, false],
    [Number.POSITIVE_INFINITY, '<', 0.01, false],
  ] as const)('%d %s %d → %s', (v, op, t, expected) => expect(compare(v, op, t)).toBe(expected));
});

describe('parseGates', () => {
  it('reads several gates, comments, blank lines and a samples line', () => {
    const text = [
      '# gates for the canary',
      `error-rate: ${ERROR_RATE} < 0.01`,
      '  samples: sum(increase(http_requests_total[1m])) >= 50',
      '',
      'p95: histogram_quantile(0.95, sum by (le) (rate(x_bucket[1m]))) < 0.3',
    ].join('\n');
    expect(parseGates(text)).toEqual([
      { name: 'error-rate', query: ERROR_RATE, op: '<', threshold: 0.01, samples: 'sum(increase(http_requests_total[1m]))', minSamples: 50 },
      { name: 'p95', query: 'histogram_quantile(0.95, sum by (le) (rate(x_bucket[1m])))', op: '<', threshold: 0.3 },
    ]);
  });

  it.each([
    ['  samples: sum(x) >= 5', 'line 1', 'must follow the gate'],
    ['a: x < 1\n  samples: sum(y) > 5', 'line 2', 'write "samples: <promql> >= <number>", not ">"'],
    ['a: x < 1\n  samples: sum(y) >= -1', 'line 2', 'cannot be negative'],
    ['a: x < 1\n  samples: y >= 1\n  samples: z >= 2', 'line 3', 'already has a samples line'],
    ['a: x < 1\na: y < 2', 'line 2', 'defined twice'],
    ['a: x < 1\n\nb: y', 'line 3', 'no comparison'],
  ])('rejects %j', (text, where, problem) => {
    expect(() => parseGates(text, 'metrics')).toThrow(where);
    expect(() => parseGates(text, 'metrics')).toThrow(problem);
  });

  it('an empty definition says how to write one', () => {
    expect(() => parseGates('\n# nothing\n')).toThrow('no gate defined');
  });

  it('a "samples" gate name at the start of a line is a gate, not a samples line', () => {
    expect(parseGates('samples: sum(x) > 1')).toEqual([{ name: 'samples', query: 'sum(x)', op: '>', threshold: 1 }]);
  });
});

describe('min-samples', () => {
  const text = 'error-rate: sum(rate(errors[1m])) / sum(rate(requests[1m])) < 0.01\n  samples: sum(increase(requests[1m]))';
  it('gives a samples line without a comparison its minimum', () => {
    const [g] = parseGates(text, 'metrics', { minSamples: 50 });
    expect(g?.samples).toBe('sum(increase(requests[1m]))');
    expect(g?.minSamples).toBe(50);
  });
  it('leaves a samples line with its own minimum alone', () => {
    const [g] = parseGates(`${text} >= 7`, 'metrics', { minSamples: 50 });
    expect(g?.minSamples).toBe(7);
  });
  it('refuses a samples line without a minimum when min-samples is not set', () => {
    expect(() => parseGates(text)).toThrow(/sets no minimum.*min-samples/);
  });
  it('refuses min-samples when no gate can count requests', () => {
    expect(() => parseGates('latency: histogram_quantile(0.9, rate(h[1m])) < 0.5', 'metrics', { minSamples: 10 })).toThrow(
      /min-samples.*no gate has a samples line/,
    );
  });
});
