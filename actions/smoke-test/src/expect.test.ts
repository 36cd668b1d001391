import { describe, expect, it } from 'vitest';
import { evaluate, formatJsonPath, parseJsonExpectation, parseJsonPath, parseStatusPattern, percentile, select, statusMatches } from './expect.ts';

describe('status patterns', () => {
  it.each([
    ['200', 200, true],
    ['2xx', 204, true],
    ['2XX', 301, false],
    ['3xx', 302, true],
    ['404', 404, true],
    ['404', 200, false],
  ])('%s vs %d', (p, status, want) => expect(statusMatches(status, [parseStatusPattern(p)!])).toBe(want));
  it.each(['20', '600', '099', 'xx', '2x', '6xx', '2xxx', 'ok', ''])('%j is not a pattern', (p) => expect(parseStatusPattern(p)).toBeUndefined());
});

describe('JSON paths', () => {
  it.each([
    ['$.status', ['status']],
    ['status', ['status']],
    ['$.db.up', ['db', 'up']],
    ['items[0].name', ['items', 0, 'name']],
    ['$["odd key"].x', ['odd key', 'x']],
    ["$['single']", ['single']],
    ['$.a-b', ['a-b']],
    ['$[2][3]', [2, 3]],
  ])('%s', (raw, want) => expect(parseJsonPath(raw)).toEqual(want));
  it.each(['$', '$..x', '.x', '$.', 'a[b]', 'a[-1]', '$.x[', '1abc', 'a b'])('%j is refused with a reason', (raw) => {
    const why: { reason?: string } = {};
    expect(parseJsonPath(raw, why)).toBeUndefined();
    expect(why.reason).toBeTruthy();
  });
  it('formats back', () => expect(formatJsonPath(['a', 0, 'odd key'])).toBe('$.a[0]["odd key"]'));
  it('selects only own fields and real indexes', () => {
    const doc = { a: [{ b: null }], o: {} };
    expect(select(doc, ['a', 0, 'b'])).toEqual({ found: true, value: null });
    expect(select(doc, ['a', 1])).toEqual({ found: false });
    expect(select(doc, ['o', 'toString'])).toEqual({ found: false });
    expect(select(doc, ['a', 'length'])).toEqual({ found: false });
  });
});

describe('JSON expectations', () => {
  it.each([
    ['$.status = "ok"', 'ok'],
    ['$.status = ok', 'ok'],
    ['$.n == 7', 7],
    ['$.flag = true', true],
    ['$.v = null', null],
    ['$.list = [1,2]', [1, 2]],
    ['$.s = "7"', '7'],
  ])('%s', (raw, value) => expect(parseJsonExpectation(raw)?.value).toEqual(value));
});

describe('evaluate', () => {
  const base = { status: [parseStatusPattern('2xx')!], body: undefined, json: [], maxLatencyMs: undefined };
  const res = { status: 200, body: '{"status":"ok","n":1}', truncated: false, latencyMs: 12 };
  it('passes a matching response', () => expect(evaluate(res, base)).toEqual([]));
  it('lists every unmet rule', () => {
    const reasons = evaluate({ ...res, status: 503, latencyMs: 900 }, { ...base, body: /ready/, json: [parseJsonExpectation('$.n = 2')!], maxLatencyMs: 500 });
    expect(reasons).toEqual([
      'expected status 2xx, got 503',
      'body does not match /ready/ (body starts: "{\\"status\\":\\"ok\\",\\"n\\":1}")',
      '$.n is 1, expected 2',
      'latency 900 ms exceeds max-latency 500 ms',
    ]);
  });
  it('compares deeply', () => {
    const r = { ...res, body: '{"a":{"b":[1,{"c":2}]}}' };
    expect(evaluate(r, { ...base, json: [parseJsonExpectation('$.a = {"b":[1,{"c":2}]}')!] })).toEqual([]);
    expect(evaluate(r, { ...base, json: [parseJsonExpectation('$.a = {"b":[1]}')!] })).toHaveLength(1);
  });
});

describe('percentile (nearest rank)', () => {
  it.each([
    [[], 50, undefined],
    [[5], 95, 5],
    [[1, 2, 3, 4], 50, 2],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95, 10],
    [[10, 1, 5], 50, 5],
  ])('%j p%d', (xs, p, want) => expect(percentile(xs, p)).toBe(want));
});
