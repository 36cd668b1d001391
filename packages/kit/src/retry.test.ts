import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  backoffDelay,
  DEFAULT_RETRY_POLICY,
  errorCode,
  isReplayableBody,
  isRetryableError,
  isRetryableStatus,
  parseRetryAfter,
  RetrySchedule,
  retryDelay,
  sleep,
} from './retry.ts';

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('classification', () => {
  it.each([
    [408, true],
    [429, true],
    [500, true],
    [502, true],
    [503, true],
    [504, true],
    [507, true],
    [200, false],
    [201, false],
    [304, false],
    [400, false],
    [401, false],
    [403, false],
    [404, false],
    [409, false],
    [416, false],
    [501, false],
    [505, false],
  ])('status %i retryable: %s', (status, want) => {
    expect(isRetryableStatus(status)).toBe(want);
  });

  it.each([
    ['ECONNRESET', true],
    ['ECONNREFUSED', true],
    ['ECONNABORTED', true],
    ['EPIPE', true],
    ['ETIMEDOUT', true],
    ['EAI_AGAIN', true],
    ['EHOSTUNREACH', true],
    ['UND_ERR_SOCKET', true],
    ['ERR_STREAM_PREMATURE_CLOSE', true],
    ['ENOTFOUND', false],
    ['EPROTO', false],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', false],
    ['ERR_TLS_CERT_ALTNAME_INVALID', false],
    ['EACCES', false],
  ])('errno %s retryable: %s', (code, want) => {
    expect(isRetryableError(withCode(code))).toBe(want);
  });

  it.each([
    ['a wrapped code (fetch-style cause)', new Error('fetch failed', { cause: withCode('ECONNRESET') }), true],
    ['socket hang up without a code', new Error('socket hang up'), true],
    ['a plain error', new Error('boom'), false],
    ['null', null, false],
    ['a string', 'ECONNRESET', false],
  ])('%s', (_name, err, want) => {
    expect(isRetryableError(err)).toBe(want);
  });

  it('finds the code of a wrapped error, the outer one first', () => {
    expect(errorCode(new Error('a', { cause: withCode('EPIPE') }))).toBe('EPIPE');
    expect(errorCode(Object.assign(new Error('a', { cause: withCode('EPIPE') }), { code: 'ETIMEDOUT' }))).toBe('ETIMEDOUT');
    expect(errorCode(new Error('a'))).toBeUndefined();
  });

  it.each([
    ['no body', undefined, true],
    ['bytes', new Uint8Array([1, 2]), true],
    ['a Buffer', Buffer.from('x'), true],
    ['a string', '{"a":1}', true],
    ['a factory of streams', () => Readable.from(['x']), true],
    ['a bare stream', Readable.from(['x']), false],
    ['an async iterable', (async function* () {})(), false],
  ])('body %s replayable: %s', (_name, body, want) => {
    expect(isReplayableBody(body)).toBe(want);
  });
});

describe('Retry-After', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  it.each<[string | string[] | undefined, number | undefined]>([
    ['3', 3000],
    [' 0 ', 0],
    ['1.5', 1500],
    ['120', 120_000],
    [['7', '9'], 7000],
    ['Thu, 01 Jan 2026 00:00:07 GMT', 7000],
    ['Wed, 31 Dec 2025 00:00:07 GMT', 0],
    ['soon', undefined],
    ['-1', undefined],
    ['3 2', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('%j is %s ms', (value, want) => {
    expect(parseRetryAfter(value, now)).toBe(want);
  });
});

describe('delays', () => {
  const policy = { baseMs: 100, maxDelayMs: 1000, maxRetryAfterMs: 30_000 };
  it.each([
    [0, 0, 0],
    [0, 0.5, 50],
    [0, 0.999999, 99],
    [1, 0.999999, 199],
    [2, 0.5, 200],
    [3, 0.999999, 799],
    [4, 0.999999, 999],
    [10, 0.999999, 999],
    [60, 0.5, 500],
  ])('full jitter: retry %i with random %d waits %i ms', (retry, r, want) => {
    expect(backoffDelay(retry, policy, () => r)).toBe(want);
  });

  it('spreads clients that failed together', () => {
    const seen = new Set(Array.from({ length: 50 }, () => backoffDelay(3)));
    expect(seen.size).toBeGreaterThan(5);
  });

  it.each([
    ['Retry-After wins over backoff', 2500, 2500],
    ['Retry-After is capped once', 3_600_000, 30_000],
    ['Retry-After 0 retries at once', 0, 0],
    ['no Retry-After: backoff', undefined, 200],
  ])('%s', (_name, after, want) => {
    expect(retryDelay(2, after, policy, () => 0.5)).toBe(want);
  });
});

describe('RetrySchedule', () => {
  const clock = () => {
    let t = Date.parse('2026-01-01T00:00:00Z');
    const slept: number[] = [];
    return {
      now: () => t,
      sleep: async (ms: number) => {
        slept.push(ms);
        t += ms;
      },
      slept,
    };
  };

  it('gives `retries` delays, then none', async () => {
    const c = clock();
    const s = new RetrySchedule({ retries: 3, baseMs: 100, random: () => 0.5, now: c.now, sleep: c.sleep });
    const delays: Array<number | undefined> = [];
    for (let i = 0; i < 5; i++) {
      const d = s.next();
      delays.push(d);
      if (d !== undefined) await s.wait(d);
    }
    expect(delays).toEqual([50, 100, 200, undefined, undefined]);
    expect(c.slept).toEqual([50, 100, 200]);
    expect(s.attempts).toBe(4);
  });

  it('honours a Retry-After header as sent, seconds or date, under the one cap', () => {
    const c = clock();
    const s = new RetrySchedule({ retries: 5, random: () => 0, now: c.now, sleep: c.sleep });
    expect(s.next('2')).toBe(2000);
    expect(s.next('Thu, 01 Jan 2026 00:00:05 GMT')).toBe(5000);
    expect(s.next('86400')).toBe(DEFAULT_RETRY_POLICY.maxRetryAfterMs);
    expect(s.next('garbage')).toBe(0);
    expect(s.next(1234)).toBe(1234);
  });

  it('makes no retry whose wait would end past the deadline', async () => {
    const c = clock();
    const s = new RetrySchedule({ retries: 10, baseMs: 1000, maxDelayMs: 1000, deadlineMs: 2500, random: () => 0.999, now: c.now, sleep: c.sleep });
    const d1 = s.next();
    expect(d1).toBe(999);
    await s.wait(d1 as number);
    const d2 = s.next();
    expect(d2).toBe(999);
    await s.wait(d2 as number);
    expect(s.next()).toBeUndefined();
    expect(s.next('1')).toBeUndefined();
    expect(s.next('0')).toBe(0);
  });

  it('defaults to the documented policy and a real sleep', async () => {
    const s = new RetrySchedule();
    expect(s.policy).toEqual({ ...DEFAULT_RETRY_POLICY, deadlineMs: undefined });
    const t0 = performance.now();
    await sleep(20);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(15);
  });
});
