// The kit's retry policy (@shipline/kit/retry) as a transport decorator, in the style of
// go-containerregistry's transport stack: the distribution client and the token fetches below it
// see one request succeed or fail once, with an error naming the endpoint.
import { errorCode, isReplayableBody, isRetryableError, isRetryableStatus, type RetryOptions, RetrySchedule } from '@shipline/kit/retry';
import { endpointOf, errorDetail } from './error-detail.ts';
import { RegistryError } from './errors.ts';
import { drain, type HttpResponse, type Transport } from './transport.ts';

/** The policy's knobs a caller may turn (`retries: 0` sends every request once). */
export type BackoffOptions = Omit<RetryOptions, 'sleep' | 'now'>;

export interface RetryInfo {
  /** Number of this retry (1 for the first). */
  attempt: number;
  delayMs: number;
  endpoint: string;
  reason: string;
}

export interface RetryDeps {
  backoff?: BackoffOptions;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  onRetry?: (info: RetryInfo) => void;
}

/**
 * Retries what the kit's policy calls transient (408/429/5xx, connection-level failures) while
 * the request's body can be re-sent, honouring Retry-After; then an error naming the endpoint.
 */
export function withRetry(transport: Transport, deps: RetryDeps = {}): Transport {
  const options: RetryOptions = { ...deps.backoff, ...(deps.sleep ? { sleep: deps.sleep } : {}), ...(deps.now ? { now: deps.now } : {}) };
  return async (req) => {
    const endpoint = endpointOf(req.method, req.url);
    const replayable = isReplayableBody(req.body);
    const schedule = new RetrySchedule(options);
    for (;;) {
      let res: HttpResponse;
      try {
        res = await transport(req);
      } catch (err) {
        const code = errorCode(err);
        const delayMs = replayable && isRetryableError(err) ? schedule.next() : undefined;
        if (delayMs === undefined) {
          const tries = schedule.attempts;
          const message = (err as Error).message;
          throw new RegistryError(
            `${endpoint} failed${tries > 1 ? ` after ${tries} attempts` : ''}: ${message}${code && !message.includes(code) ? ` (${code})` : ''}`,
            {
              endpoint,
              code,
              hint: code === 'ECONNREFUSED' ? 'is the registry running and the address right?' : undefined,
              cause: err,
            },
          );
        }
        deps.onRetry?.({ attempt: schedule.retries, delayMs, endpoint, reason: code ?? (err as Error).message });
        await schedule.wait(delayMs);
        continue;
      }
      if (!isRetryableStatus(res.status) || !replayable) return res;
      const delayMs = schedule.next(res.headers['retry-after']);
      if (delayMs === undefined) {
        const detail = await errorDetail(res);
        throw new RegistryError(`${endpoint} failed after ${schedule.attempts} attempts: HTTP ${res.status}${detail ? ` ${detail}` : ''}`, {
          endpoint,
          status: res.status,
          hint: 'the registry kept failing; check its health and retry later',
        });
      }
      await drain(res);
      deps.onRetry?.({ attempt: schedule.retries, delayMs, endpoint, reason: `HTTP ${res.status}` });
      await schedule.wait(delayMs);
    }
  };
}
