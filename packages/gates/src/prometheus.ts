// A client for Prometheus's instant-query API (GET /api/v1/query), the one call a metric gate
// makes. It follows the kit's retry policy (408/429/5xx and connection failures, Retry-After), puts
// a time limit on every attempt, and turns each answer into a typed result or a typed error: a
// gate must tell "the query is wrong" (the user's fix) from "Prometheus is away" (an *error*
// measurement, retried by the gate's error limit) from a value it can compare.
import { errorCode, isRetryableError, isRetryableStatus, NETWORK_ERROR_WORDS, type RetryOptions, RetrySchedule, secrets, untrusted } from './kit.ts';

/** Labels of one series, as Prometheus sent them. */
export type Labels = Readonly<Record<string, string>>;

/** One sample: seconds since the epoch, and the value (NaN and ±Infinity kept as such). */
export interface Point {
  time: number;
  value: number;
}

export type QueryResult =
  | { type: 'vector'; series: { labels: Labels; point: Point }[] }
  | { type: 'matrix'; series: { labels: Labels; points: Point[] }[] }
  | { type: 'scalar'; point: Point }
  | { type: 'string'; time: number; value: string };

/**
 * Why a query gave no result:
 * - `unreachable`: no HTTP answer (refused, reset, DNS, timed out) after the retries;
 * - `http`: an HTTP status without the API's error body (a proxy, a wrong path, 401);
 * - `api`: the API's own error (`status: "error"`, with its `errorType`: bad_data for a query
 *   that does not parse, execution, timeout, canceled, internal, unavailable);
 * - `response`: an answer that is not the API's JSON shape.
 */
export type PrometheusErrorKind = 'unreachable' | 'http' | 'api' | 'response';

export class PrometheusError extends Error {
  readonly kind: PrometheusErrorKind;
  readonly status: number | undefined;
  readonly errorType: string | undefined;
  constructor(kind: PrometheusErrorKind, message: string, options: { status?: number; errorType?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PrometheusError';
    this.kind = kind;
    this.status = options.status;
    this.errorType = options.errorType;
  }
}

export type PrometheusAuth = { username: string; password: string } | { bearer: string };

export interface PrometheusOptions {
  /** Base URL; the API path is appended to its path (a Prometheus behind `/prometheus/` works). */
  url: string;
  auth?: PrometheusAuth;
  /** Time limit of one attempt (default 10 s). Also sent as the query's own `timeout`. */
  timeoutMs?: number;
  /** The kit's retry policy, overridable (tests set `retries: 0` or a fake sleep). */
  retry?: RetryOptions;
  /** Default: global fetch. */
  fetch?: typeof fetch;
}

/** The shape measure.ts needs: one instant query at a time. */
export interface Querier {
  query(promql: string, at?: Date): Promise<QueryResult>;
}

const EXCERPT = 300;

export class PrometheusClient implements Querier {
  private readonly endpoint: URL;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly retry: RetryOptions;
  private readonly fetchFn: typeof fetch;

  constructor(options: PrometheusOptions) {
    let base: URL;
    try {
      base = new URL(options.url);
    } catch {
      throw new PrometheusError(
        'response',
        `prometheus-url ${JSON.stringify(untrusted(options.url, { max: 200, oneLine: true }))} is not a URL — give e.g. http://prometheus:9090`,
      );
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:')
      throw new PrometheusError('response', `prometheus-url must be http:// or https://, not ${base.protocol}`);
    // Credentials in the URL would end up in error messages; take them as auth instead.
    const auth = options.auth ?? (base.username ? { username: decodeURIComponent(base.username), password: decodeURIComponent(base.password) } : undefined);
    base.username = '';
    base.password = '';
    this.endpoint = new URL(`${base.pathname.replace(/\/+$/, '')}/api/v1/query`, base);
    this.headers = { accept: 'application/json' };
    if (auth && 'bearer' in auth) {
      secrets.add(auth.bearer);
      this.headers.authorization = `Bearer ${auth.bearer}`;
    } else if (auth) {
      if (auth.password) secrets.add(auth.password);
      this.headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
    }
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.retry = options.retry ?? {};
    this.fetchFn = options.fetch ?? fetch;
  }

  /** Where queries go, without credentials (for messages). */
  get url(): string {
    return this.endpoint.toString();
  }

  async query(promql: string, at?: Date): Promise<QueryResult> {
    const url = new URL(this.endpoint);
    url.searchParams.set('query', promql);
    if (at) url.searchParams.set('time', (at.getTime() / 1000).toFixed(3));
    // Prometheus stops evaluating at its own timeout; ours would only abandon the answer.
    url.searchParams.set('timeout', `${Math.max(1, Math.floor(this.timeoutMs / 1000))}s`);
    const schedule = new RetrySchedule(this.retry);
    for (;;) {
      let res: Response;
      let text: string;
      try {
        res = await this.fetchFn(url, { headers: this.headers, signal: AbortSignal.timeout(this.timeoutMs) });
        text = await res.text();
      } catch (err) {
        const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
        const delay = timedOut || isRetryableError(err) ? schedule.next() : undefined;
        if (delay !== undefined) {
          await schedule.wait(delay);
          continue;
        }
        throw new PrometheusError(
          'unreachable',
          `Prometheus at ${this.url} did not answer (${describeNetworkError(err, this.timeoutMs)}) after ${schedule.attempts} attempt(s)`,
          {
            cause: err,
          },
        );
      }
      if (res.ok) return parseResponse(text, res.status, promql);
      if (isRetryableStatus(res.status)) {
        const delay = schedule.next(res.headers.get('retry-after') ?? undefined);
        if (delay !== undefined) {
          await schedule.wait(delay);
          continue;
        }
      }
      throw errorOf(text, res.status, promql);
    }
  }
}

function describeNetworkError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return `no answer within ${timeoutMs} ms`;
  const code = errorCode(err);
  if (code) return NETWORK_ERROR_WORDS[code] ? `${NETWORK_ERROR_WORDS[code]}, ${code}` : code;
  return untrusted(err instanceof Error ? err.message : err, { max: EXCERPT, oneLine: true });
}

/** A non-2xx answer: the API's error body when it sent one (400 bad_data, 422 execution, 503 …). */
function errorOf(text: string, status: number, promql: string): PrometheusError {
  const body = parseJson(text);
  if (isRecord(body) && body.status === 'error') {
    const errorType = typeof body.errorType === 'string' ? untrusted(body.errorType, { max: 40, oneLine: true }) : 'unknown';
    const detail = untrusted(body.error, { max: EXCERPT, oneLine: true });
    const hint = errorType === 'bad_data' ? ' — check the PromQL of the gate' : '';
    const what = promql ? JSON.stringify(untrusted(promql, { max: 200, oneLine: true })) : 'the query';
    return new PrometheusError('api', `Prometheus refused ${what}: ${errorType}: ${detail}${hint}`, { status, errorType });
  }
  const hint =
    status === 401 || status === 403
      ? ' — check the Prometheus credentials'
      : status === 404
        ? ' — check prometheus-url (it should be the server, without /api/v1)'
        : '';
  return new PrometheusError('http', `Prometheus answered HTTP ${status}: ${untrusted(text, { max: EXCERPT, oneLine: true }) || '(empty body)'}${hint}`, {
    status,
  });
}

/** A 2xx body: `{status: "success", data: {resultType, result}}`, every result type. */
export function parseResponse(text: string, status = 200, promql = ''): QueryResult {
  const body = parseJson(text);
  const bad = (why: string) =>
    new PrometheusError('response', `Prometheus's answer is not the query API's JSON (${why}): ${untrusted(text, { max: EXCERPT, oneLine: true })}`, {
      status,
    });
  if (!isRecord(body)) throw bad('not a JSON object');
  // Some proxies pass the API's error on with 200.
  if (body.status === 'error') throw errorOf(text, status, promql);
  if (body.status !== 'success' || !isRecord(body.data)) throw bad('no success status with data');
  const { resultType, result } = body.data;
  switch (resultType) {
    case 'vector':
      if (!Array.isArray(result)) throw bad('vector result is not a list');
      return {
        type: 'vector',
        series: result.map((s) => {
          if (!isRecord(s) || !('value' in s)) throw bad('vector sample without value');
          return { labels: labelsOf(s.metric), point: pointOf(s.value, bad) };
        }),
      };
    case 'matrix':
      if (!Array.isArray(result)) throw bad('matrix result is not a list');
      return {
        type: 'matrix',
        series: result.map((s) => {
          if (!isRecord(s) || !Array.isArray(s.values)) throw bad('matrix series without values');
          return { labels: labelsOf(s.metric), points: s.values.map((v) => pointOf(v, bad)) };
        }),
      };
    case 'scalar':
      return { type: 'scalar', point: pointOf(result, bad) };
    case 'string': {
      if (!Array.isArray(result) || typeof result[0] !== 'number' || typeof result[1] !== 'string') throw bad('string result is not [time, "text"]');
      return { type: 'string', time: result[0], value: result[1] };
    }
    default:
      throw bad(`unknown resultType ${JSON.stringify(untrusted(resultType, { max: 40, oneLine: true }))}`);
  }
}

/** Prometheus sends values as strings so that NaN and ±Inf survive JSON. */
export function parseValue(text: string): number {
  if (text === 'NaN') return Number.NaN;
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  const n = text.trim() === '' ? Number.NaN : Number(text);
  if (Number.isNaN(n))
    throw new PrometheusError('response', `Prometheus sent a value that is not a number: ${JSON.stringify(untrusted(text, { max: 40, oneLine: true }))}`);
  return n;
}

function pointOf(v: unknown, bad: (why: string) => PrometheusError): Point {
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'number' || typeof v[1] !== 'string') throw bad('a sample is not [time, "value"]');
  return { time: v[0], value: parseValue(v[1]) };
}

function labelsOf(metric: unknown): Labels {
  const out: Record<string, string> = {};
  if (isRecord(metric)) for (const [k, v] of Object.entries(metric)) if (typeof v === 'string') out[k] = v;
  return out;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
