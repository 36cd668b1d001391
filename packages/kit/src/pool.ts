/**
 * The one bounded pool: at most `limit` tasks run at once, the rest wait in FIFO order.
 *
 * Two modes, because callers need two things:
 * - `stop-on-error` (the default): after the first failure no queued or new task starts (they
 *   reject with PoolStoppedError, whose `cause` is that failure); tasks already running finish.
 *   `pool()` then throws the first error. Work that is pointless once one part failed (a push, an
 *   apply) stops early instead of sending more requests to a server that is already failing.
 * - `settle-all`: every task runs whatever the others did; for callers that need every result
 *   (`poolSettled()`), or a process-wide limit shared by unrelated callers (one caller's failure
 *   must not stop another's work).
 */

export type PoolMode = 'stop-on-error' | 'settle-all';

/** A task that did not start because an earlier one failed; `cause` is that failure. */
export class PoolStoppedError extends Error {
  constructor(cause: unknown) {
    super(`not started: an earlier task failed (${cause instanceof Error ? cause.message : String(cause)})`, { cause });
    this.name = 'PoolStoppedError';
  }
}

function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`concurrency must be a positive integer, got ${limit}`);
}

export class Pool {
  readonly limit: number;
  readonly mode: PoolMode;
  private active = 0;
  private readonly queue: Array<{ start: () => void; stop: (err: unknown) => void }> = [];
  private failed = false;
  private firstError: unknown;

  constructor(limit: number, mode: PoolMode = 'stop-on-error') {
    checkLimit(limit);
    this.limit = limit;
    this.mode = mode;
  }

  /** The first failure in `stop-on-error` mode (undefined while none happened). */
  get error(): unknown {
    return this.firstError;
  }

  get stopped(): boolean {
    return this.failed;
  }

  /** Runs `task` when a slot is free. */
  run<T>(task: () => Promise<T>): Promise<T> {
    if (this.failed) return Promise.reject(new PoolStoppedError(this.firstError));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({
        start: () => {
          let p: Promise<T>;
          try {
            p = task();
          } catch (err) {
            p = Promise.reject(err);
          }
          p.then(resolve, (err: unknown) => {
            // The failing task's caller hears of it before the ones that were stopped by it.
            reject(err);
            this.fail(err);
          }).finally(() => {
            this.active--;
            this.next();
          });
        },
        stop: reject,
      });
      this.next();
    });
  }

  private fail(err: unknown): void {
    if (this.mode !== 'stop-on-error' || this.failed) return;
    this.failed = true;
    this.firstError = err;
    for (const waiting of this.queue.splice(0)) waiting.stop(new PoolStoppedError(err));
  }

  private next(): void {
    while (this.active < this.limit) {
      const item = this.queue.shift();
      if (!item) return;
      this.active++;
      item.start();
    }
  }
}

/**
 * Runs `fn` over items with at most `limit` at once; results keep the items' order. After the
 * first failure no further item starts; the ones running finish, then the first error is thrown.
 */
export async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  checkLimit(limit);
  const out = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  let firstError: unknown;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i] as T, i);
      } catch (err) {
        if (!failed) {
          failed = true;
          firstError = err;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed) throw firstError;
  return out;
}

/** Runs `fn` over every item, at most `limit` at once, and reports each outcome in the items' order. */
export async function poolSettled<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  checkLimit(limit);
  const out = new Array<PromiseSettledResult<R>>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        out[i] = { status: 'fulfilled', value: await fn(items[i] as T, i) };
      } catch (reason) {
        out[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
