import { describe, expect, it } from 'vitest';
import { Pool, PoolStoppedError, pool, poolSettled } from './pool.ts';

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

/** Records what ran and the peak concurrency; `fail` lists the items that throw. */
function probe(fail: readonly number[] = []) {
  const started: number[] = [];
  const finished: number[] = [];
  let active = 0;
  let peak = 0;
  const fn = async (x: number) => {
    started.push(x);
    active++;
    peak = Math.max(peak, active);
    await tick(x === fail[0] ? 1 : 5);
    active--;
    finished.push(x);
    if (fail.includes(x)) throw new Error(`fail ${x}`);
    return x * 10;
  };
  return { fn, started, finished, peak: () => peak };
}

describe('pool (stop on first error)', () => {
  it('keeps order and limits concurrency', async () => {
    const p = probe();
    const out = await pool([1, 2, 3, 4, 5], 2, p.fn);
    expect(out).toEqual([10, 20, 30, 40, 50]);
    expect(p.peak()).toBe(2);
  });

  it('starts nothing after a failure, lets running tasks finish, throws the first error', async () => {
    const p = probe([2, 3]);
    const err = await pool([1, 2, 3, 4, 5, 6], 3, p.fn).catch((e: unknown) => e);
    expect((err as Error).message).toBe('fail 2');
    expect(p.started).toEqual([1, 2, 3]);
    // 1 and 3 were running when 2 failed: they finish before pool() settles.
    expect(p.finished.sort()).toEqual([1, 2, 3]);
  });

  it('handles an empty list and rejects a nonsensical limit', async () => {
    expect(await pool([], 4, async () => 1)).toEqual([]);
    await expect(pool([1], 0, async () => 1)).rejects.toThrow(RangeError);
    await expect(pool([1], 1.5, async () => 1)).rejects.toThrow(RangeError);
  });
});

describe('poolSettled', () => {
  it('runs every task and reports each outcome in order', async () => {
    const p = probe([2, 4]);
    const out = await poolSettled([1, 2, 3, 4, 5], 2, p.fn);
    expect(p.started).toEqual([1, 2, 3, 4, 5]);
    expect(p.peak()).toBe(2);
    expect(out.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([10, 'fail 2', 30, 'fail 4', 50]);
  });
});

describe('Pool', () => {
  it('never runs more than the limit at once and keeps FIFO order', async () => {
    const limit = new Pool(2);
    const p = probe();
    const results = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => limit.run(() => p.fn(i))));
    expect(p.peak()).toBe(2);
    expect(p.started).toEqual([0, 1, 2, 3, 4, 5]);
    expect(results).toEqual([0, 10, 20, 30, 40, 50]);
  });

  it('stop-on-error: queued and later tasks do not start and carry the first error', async () => {
    const limit = new Pool(1);
    const p = probe([1]);
    const outcomes = await Promise.allSettled([1, 2, 3].map((i) => limit.run(() => p.fn(i))));
    expect(p.started).toEqual([1]);
    expect(outcomes[0]).toMatchObject({ status: 'rejected', reason: { message: 'fail 1' } });
    for (const o of outcomes.slice(1)) {
      expect(o.status).toBe('rejected');
      const reason = (o as PromiseRejectedResult).reason as PoolStoppedError;
      expect(reason).toBeInstanceOf(PoolStoppedError);
      expect((reason.cause as Error).message).toBe('fail 1');
    }
    expect(limit.stopped).toBe(true);
    expect((limit.error as Error).message).toBe('fail 1');
    await expect(limit.run(async () => 'late')).rejects.toBeInstanceOf(PoolStoppedError);
  });

  it('stop-on-error: a task that throws synchronously counts as a failure', async () => {
    const limit = new Pool(1);
    await expect(
      limit.run(() => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    expect(limit.stopped).toBe(true);
  });

  it('settle-all: a failure frees its slot and stops nothing', async () => {
    const limit = new Pool(1, 'settle-all');
    const p = probe([1]);
    const outcomes = await Promise.allSettled([1, 2, 3].map((i) => limit.run(() => p.fn(i))));
    expect(p.started).toEqual([1, 2, 3]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
    expect(await limit.run(async () => 'ok')).toBe('ok');
    expect(limit.stopped).toBe(false);
  });

  it('rejects a nonsensical limit', () => {
    expect(() => new Pool(0)).toThrow(RangeError);
    expect(() => new Pool(1.5)).toThrow(RangeError);
  });
});
