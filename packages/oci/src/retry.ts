import { untrusted } from '@shipline/kit/untrusted';
import { type BackoffOptions, DEFAULT_BACKOFF, isRetryableError, isRetryableStatus, parseRetryAfter, retryDelay } from './backoff.ts';
import { RegistryError } from './errors.ts';
import { drain, type HttpResponse, isReplayable, readBody, type Transport } from './transport.ts';

export interface RetryInfo {
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

export const defaultSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `METHOD host/path` without query strings (upload URLs carry state tokens there). */
export function endpointOf(method: string, url: string): string {
  const u = new URL(url);
  return `${method} ${u.protocol}//${u.host}${u.pathname}`;
}

/**
 * Retries 408/429/5xx and connection-level failures with jittered backoff, honouring
 * Retry-After; gives up after a bounded number of attempts with an error naming the endpoint.
 * Requests with a one-shot stream body are sent once.
 */
export function withRetry(transport: Transport, deps: RetryDeps = {}): Transport {
  const sleep = deps.sleep ?? defaultSleep;
  const now = deps.now ?? Date.now;
  const retries = deps.backoff?.retries ?? DEFAULT_BACKOFF.retries;
  return async (req) => {
    const endpoint = endpointOf(req.method, req.url);
    const replayable = isReplayable(req.body);
    for (let attempt = 0; ; attempt++) {
      let res: HttpResponse;
      try {
        res = await transport(req);
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (!replayable || !isRetryableError(err) || attempt >= retries) {
          const tries = attempt + 1;
          throw new RegistryError(
            `${endpoint} failed${tries > 1 ? ` after ${tries} attempts` : ''}: ${(err as Error).message}${code && !(err as Error).message.includes(code) ? ` (${code})` : ''}`,
            {
              endpoint,
              code,
              hint: code === 'ECONNREFUSED' ? 'is the registry running and the address right?' : undefined,
              cause: err,
            },
          );
        }
        const delayMs = retryDelay(attempt, undefined, deps.backoff);
        deps.onRetry?.({ attempt: attempt + 1, delayMs, endpoint, reason: code ?? (err as Error).message });
        await sleep(delayMs);
        continue;
      }
      if (!isRetryableStatus(res.status) || !replayable) return res;
      if (attempt >= retries) {
        const detail = await errorDetail(res);
        throw new RegistryError(`${endpoint} failed after ${attempt + 1} attempts: HTTP ${res.status}${detail ? ` ${detail}` : ''}`, {
          endpoint,
          status: res.status,
          hint: 'the registry kept failing; check its health and retry later',
        });
      }
      const delayMs = retryDelay(attempt, parseRetryAfter(res.headers['retry-after'], now()), deps.backoff);
      await drain(res);
      deps.onRetry?.({ attempt: attempt + 1, delayMs, endpoint, reason: `HTTP ${res.status}` });
      await sleep(delayMs);
    }
  };
}

/**
 * The registry's error message from a failed response (distribution's {errors:[{code,message}]}),
 * made safe to print: the body is the server's text, so it is masked, then cut, then made inert.
 */
export async function errorDetail(res: HttpResponse): Promise<string> {
  let text: string;
  try {
    text = (await readBody(res, 64 * 1024)).toString('utf8');
  } catch {
    return '';
  }
  try {
    const doc = JSON.parse(text) as { errors?: Array<{ code?: string; message?: string; detail?: unknown }> };
    if (Array.isArray(doc.errors) && doc.errors.length > 0) {
      return untrusted(doc.errors.map((e) => [e.code, e.message].filter(Boolean).join(': ')).join('; '), { max: 400, oneLine: true });
    }
  } catch {
    /* not JSON */
  }
  return untrusted(text.trim(), { max: 200, oneLine: true });
}
