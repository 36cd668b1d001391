/**
 * The retry policy of every network call Shipline makes (registry, API server, smoke checks'
 * transport). One place, so a user reads one rule and every client follows it:
 *
 * - What is retried: HTTP 408, 429 and 5xx except 501 and 505 (those two never change on a
 *   retry), and connection-level failures — resets, refusals, broken pipes, timeouts, DNS
 *   lookups that failed *temporarily* (EAI_AGAIN; ENOTFOUND is a wrong name and is not retried)
 *   and "socket hang up". Anything else (4xx, TLS errors, bad certificates) fails at once.
 * - What may be re-sent: a request without a body, or whose body is bytes, a string or a factory
 *   that opens a fresh stream. A bare stream is consumed by the first attempt, so such a request
 *   is sent once whatever went wrong.
 * - How long to wait: a server's Retry-After (delta-seconds or an HTTP date) when it sent one,
 *   capped at `maxRetryAfterMs` (one cap for every client: a server asking for an hour must not
 *   hold a CI job for an hour); otherwise "full jitter" exponential backoff: a uniformly random
 *   delay in [0, min(maxDelayMs, baseMs·2^n)), so clients that failed together spread out
 *   instead of retrying in step.
 * - How often: `retries` after the first attempt, and never past `deadlineMs` after the first
 *   attempt started (a retry whose wait would end past it is not made).
 *
 * Clock, sleep and randomness are injectable so the whole schedule is testable without waiting.
 * This module imports nothing from the hosts: oci and kube use it.
 */

export interface RetryPolicy {
  /** Retries after the first attempt. */
  retries: number;
  /** Ceiling of the first backoff delay; doubles per retry. */
  baseMs: number;
  /** Ceiling of any computed backoff delay. */
  maxDelayMs: number;
  /** Ceiling of a server's Retry-After that is honoured. */
  maxRetryAfterMs: number;
  /** Total budget from the start of the first attempt; undefined: only `retries` bounds it. */
  deadlineMs?: number | undefined;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({ retries: 4, baseMs: 200, maxDelayMs: 10_000, maxRetryAfterMs: 30_000 });

export interface RetryOptions extends Partial<RetryPolicy> {
  /** Default: the kit's `sleep`. */
  sleep?: (ms: number) => Promise<void>;
  /** Milliseconds of wall-clock time (HTTP dates in Retry-After are wall-clock). Default Date.now. */
  now?: () => number;
  /** [0, 1). Default Math.random. */
  random?: () => number;
}

/** The one default sleep. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Statuses worth retrying: request timeout, rate limit, transient server errors. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status <= 599 && status !== 501 && status !== 505);
}

const RETRYABLE_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'ETIMEOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/**
 * Plain words for connection-level errno codes, shared by every client's final error. TLS codes
 * are left to each client: the fix differs (a kubeconfig CA, a `ca-file` input).
 */
export const NETWORK_ERROR_WORDS: Readonly<Record<string, string>> = Object.freeze({
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EPIPE: 'connection closed while sending',
  ETIMEDOUT: 'timed out',
});

/** The errno-style code of an error or of the error it wraps (fetch-like clients wrap it in `cause`). */
export function errorCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; e !== null && typeof e === 'object' && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** Connection-level failures worth retrying. */
export function isRetryableError(err: unknown): boolean {
  const code = errorCode(err);
  if (code !== undefined) return RETRYABLE_CODES.has(code);
  // Node names a socket closed before any response "socket hang up" (usually with ECONNRESET,
  // but not from every path).
  return err instanceof Error && /socket hang up/i.test(err.message);
}

/**
 * Whether a request body survives being sent twice: none, bytes, a string, or a factory that
 * opens a fresh stream per attempt. Anything else (a stream, an async iterable) is read once.
 */
export function isReplayableBody(body: unknown): boolean {
  return body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array || typeof body === 'function';
}

/** Retry-After as milliseconds (delta-seconds or an HTTP date, uncapped); undefined when absent or unparsable. */
export function parseRetryAfter(value: string | readonly string[] | undefined, now: number): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (typeof raw !== 'string') return undefined;
  const v = raw.trim();
  if (v === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  // An HTTP date always names a weekday and a year; Date.parse alone would take "3 2" as a date.
  if (!/[a-z]{3}/i.test(v)) return undefined;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** Full-jitter backoff before retry number `retry` (0-based). */
export function backoffDelay(
  retry: number,
  policy: Pick<RetryPolicy, 'baseMs' | 'maxDelayMs'> = DEFAULT_RETRY_POLICY,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseMs * 2 ** Math.max(0, retry));
  return Math.floor(random() * ceiling);
}

/** The wait before retry number `retry` (0-based): the server's Retry-After when given (capped), else backoff. */
export function retryDelay(
  retry: number,
  retryAfterMs: number | undefined,
  policy: Pick<RetryPolicy, 'baseMs' | 'maxDelayMs' | 'maxRetryAfterMs'> = DEFAULT_RETRY_POLICY,
  random: () => number = Math.random,
): number {
  if (retryAfterMs !== undefined) return Math.min(Math.max(0, retryAfterMs), policy.maxRetryAfterMs);
  return backoffDelay(retry, policy, random);
}

/**
 * One request's retry budget. A client's loop asks `next()` after each failed attempt that the
 * classification above allows to retry: it answers the delay to wait, or undefined when the
 * budget (retries, deadline) is spent; `wait()` then sleeps.
 *
 *   const schedule = new RetrySchedule(options);
 *   for (;;) { try { return await once(); } catch (e) {
 *     const delay = isRetryableError(e) ? schedule.next() : undefined;
 *     if (delay === undefined) throw e;
 *     await schedule.wait(delay); } }
 */
export class RetrySchedule {
  readonly policy: Readonly<RetryPolicy>;
  private readonly sleepFn: (ms: number) => Promise<void>;
  private readonly nowFn: () => number;
  private readonly random: () => number;
  private readonly started: number;
  private retriesMade = 0;

  constructor(options: RetryOptions = {}) {
    this.policy = {
      retries: options.retries ?? DEFAULT_RETRY_POLICY.retries,
      baseMs: options.baseMs ?? DEFAULT_RETRY_POLICY.baseMs,
      maxDelayMs: options.maxDelayMs ?? DEFAULT_RETRY_POLICY.maxDelayMs,
      maxRetryAfterMs: options.maxRetryAfterMs ?? DEFAULT_RETRY_POLICY.maxRetryAfterMs,
      deadlineMs: options.deadlineMs,
    };
    this.sleepFn = options.sleep ?? sleep;
    this.nowFn = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.started = this.nowFn();
  }

  /** Attempts made so far, counting the one that just failed (1 after the first). */
  get attempts(): number {
    return this.retriesMade + 1;
  }

  /** Retries granted so far (0 before the first `next()` that returned a delay). */
  get retries(): number {
    return this.retriesMade;
  }

  /** Wall-clock now, as the schedule sees it (for parsing an HTTP-date Retry-After). */
  now(): number {
    return this.nowFn();
  }

  /**
   * The delay before the next attempt, or undefined when no retry is left. `retryAfter` is the
   * server's header as sent (or already milliseconds).
   */
  next(retryAfter?: string | readonly string[] | number): number | undefined {
    if (this.retriesMade >= this.policy.retries) return undefined;
    const after = typeof retryAfter === 'number' ? retryAfter : parseRetryAfter(retryAfter, this.nowFn());
    const delay = retryDelay(this.retriesMade, after, this.policy, this.random);
    if (this.policy.deadlineMs !== undefined && this.nowFn() + delay - this.started > this.policy.deadlineMs) return undefined;
    this.retriesMade++;
    return delay;
  }

  wait(ms: number): Promise<void> {
    return this.sleepFn(ms);
  }
}
