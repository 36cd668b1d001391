export interface BackoffOptions {
  /** Retries after the first attempt. Default 4. */
  retries?: number;
  /** First delay ceiling, doubled per attempt. Default 200 ms. */
  baseMs?: number;
  /** Ceiling of any computed delay. Default 10 s. */
  maxMs?: number;
  /** Ceiling of a server's Retry-After we are willing to honour. Default 60 s. */
  maxRetryAfterMs?: number;
  /** Injected for tests. Default Math.random. */
  random?: () => number;
}

export const DEFAULT_BACKOFF = { retries: 4, baseMs: 200, maxMs: 10_000, maxRetryAfterMs: 60_000 } as const;

/**
 * "Full jitter" exponential backoff: a uniformly random delay below the exponential ceiling,
 * so clients that failed together don't retry together.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? DEFAULT_BACKOFF.baseMs;
  const max = options.maxMs ?? DEFAULT_BACKOFF.maxMs;
  const random = options.random ?? Math.random;
  const ceiling = Math.min(max, base * 2 ** Math.max(0, attempt));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** Retry-After is either delta-seconds or an HTTP date; undefined when absent or unparsable. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (v === '') return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  if (/^\d+\.\d+$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** The delay before retry number `attempt` (0-based), honouring a server's Retry-After. */
export function retryDelay(attempt: number, retryAfterMs: number | undefined, options: BackoffOptions = {}): number {
  if (retryAfterMs !== undefined) {
    return Math.min(retryAfterMs, options.maxRetryAfterMs ?? DEFAULT_BACKOFF.maxRetryAfterMs);
  }
  return backoffDelay(attempt, options);
}

/** Statuses worth retrying: timeouts, rate limits and transient server errors. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status <= 599 && status !== 501 && status !== 505);
}

const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNABORTED',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'ERR_STREAM_PREMATURE_CLOSE',
  'ESOCKETTIMEDOUT',
  'ETIMEOUT',
]);

/** Network-level failures worth retrying (connection resets, refused connections, timeouts). */
export function isRetryableError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && RETRYABLE_CODES.has(code);
}
