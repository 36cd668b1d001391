// Delivery metrics: at the end of a verdict, one PUT to a Prometheus Pushgateway describing that
// delivery. A CI job lives for minutes and keeps no state between runs, so it cannot own a
// counter; what it can do is publish the *last* delivery of a service to an environment, and let
// Prometheus' scrapes turn that into a time series. Every value that identifies a delivery
// (its verdict timestamp) changes with each push, so counting deliveries over a range is counting
// value changes of that series — see packages/gates/README.md for the queries and why they work.
//
// A push is a side note to a verdict: it follows the kit's retry policy under a short total
// deadline, and every failure is a PushgatewayError the caller reports as a warning.
import {
  errorCode,
  isRetryableError,
  isRetryableStatus,
  NETWORK_ERROR_WORDS,
  type RetryOptions,
  RetrySchedule,
  redactUrl,
  secrets,
  untrusted,
  urlSecrets,
} from './kit.ts';

export const DELIVERY_VERDICTS = ['success', 'failed', 'rolled_back'] as const;
export type DeliveryVerdict = (typeof DELIVERY_VERDICTS)[number];

export interface DeliveryRecord {
  service: string;
  environment: string;
  /** `sha256:…` of what was delivered; '' when unknown. */
  digest: string;
  verdict: DeliveryVerdict;
  /** From deploy start to the verdict. */
  deployDurationSeconds: number;
  /** Set when this run restored service (a verified rollback). */
  timeToRestoreSeconds?: number;
  /** When the verdict fell (seconds since the epoch): also what tells one delivery from the next. */
  timestampSeconds: number;
}

export type PushgatewayAuth = { username: string; password: string } | { bearer: string };

export interface PushOptions {
  /** Time limit of one attempt (default 10 s). */
  timeoutMs?: number;
  /** Credentials; by default those in the URL's userinfo (taken out of the URL, never shown). */
  auth?: PushgatewayAuth;
  /** The kit's retry policy; by default with a 30 s total deadline (a push must not hold a job). */
  retry?: RetryOptions;
  /** Default: global fetch. */
  fetch?: typeof fetch;
}

/**
 * - `input`: the record or URL cannot be pushed (empty service, negative duration, not http(s));
 * - `unreachable`: no HTTP answer (refused, reset, timed out) after the retries;
 * - `http`: the gateway answered with an error status (400: metrics rejected as inconsistent, 401…).
 */
export type PushgatewayErrorKind = 'input' | 'unreachable' | 'http';

export class PushgatewayError extends Error {
  readonly kind: PushgatewayErrorKind;
  readonly status: number | undefined;
  /** Where the push went, credentials redacted. */
  readonly url: string | undefined;
  constructor(kind: PushgatewayErrorKind, message: string, options: { status?: number; url?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PushgatewayError';
    this.kind = kind;
    this.status = options.status;
    this.url = options.url;
  }
}

export const DELIVERY_JOB = 'shipline';

/** Metric names and their HELP text: one definition, shared by every group the gateway holds. */
export const DELIVERY_METRICS = {
  verdict: {
    name: 'shipline_deploy_verdict',
    help: 'Verdict of the last delivery of this service to this environment: 1 on its verdict label, 0 on the other two.',
  },
  duration: { name: 'shipline_deploy_duration_seconds', help: 'Seconds from deploy start to the verdict of the last delivery.' },
  timeToRestore: {
    name: 'shipline_time_to_restore_seconds',
    help: 'Seconds it took the last delivery to restore service (present only when that delivery restored it).',
  },
  timestamp: {
    name: 'shipline_deploy_timestamp_seconds',
    help: 'When the verdict of the last delivery fell (Unix seconds); each delivery changes it, so changes() counts deliveries.',
  },
} as const;

const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const EXCERPT = 300;

/** Problems with a record, as plain sentences (empty when it can be pushed). */
export function deliveryProblems(r: DeliveryRecord): string[] {
  const out: string[] = [];
  const text = (name: string, v: unknown) => {
    if (typeof v !== 'string' || v.trim() === '') out.push(`${name} is empty`);
  };
  text('service', r.service);
  text('environment', r.environment);
  if (typeof r.digest !== 'string' || (r.digest !== '' && !DIGEST.test(r.digest)))
    out.push(`digest ${JSON.stringify(untrusted(r.digest, { max: 100, oneLine: true }))} is not algorithm:hex (or '' when unknown)`);
  if (!DELIVERY_VERDICTS.includes(r.verdict))
    out.push(`verdict ${JSON.stringify(untrusted(r.verdict, { max: 40, oneLine: true }))} is not one of ${DELIVERY_VERDICTS.join(', ')}`);
  const seconds = (name: string, v: unknown, positive = false) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (positive && v === 0))
      out.push(`${name} must be a finite number ${positive ? '> 0' : '>= 0'}, not ${String(v)}`);
  };
  seconds('deployDurationSeconds', r.deployDurationSeconds);
  if (r.timeToRestoreSeconds !== undefined) seconds('timeToRestoreSeconds', r.timeToRestoreSeconds);
  seconds('timestampSeconds', r.timestampSeconds, true);
  return out;
}

/**
 * One grouping-key segment, `name/value`. The gateway splits the path on `/` after decoding it,
 * so a value holding `/` (and one that is empty, or `.`/`..`, which path cleaning would eat) goes
 * in its base64url form under `name@base64`; an empty value is `=` there.
 */
export function groupingSegment(name: string, value: string): string {
  if (value === '') return `${name}@base64/=`;
  if (value.includes('/') || value === '.' || value === '..') return `${name}@base64/${Buffer.from(value, 'utf8').toString('base64url')}`;
  return `${name}/${encodeURIComponent(value)}`;
}

/** `/metrics/job/shipline/service/<s>/environment/<e>`: one group per service and environment. */
export function groupingPath(service: string, environment: string): string {
  return `/metrics/${groupingSegment('job', DELIVERY_JOB)}/${groupingSegment('service', service)}/${groupingSegment('environment', environment)}`;
}

/** A label value in the text exposition format: backslash, double quote and line feed escaped. */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function sample(name: string, labels: Record<string, string>, value: number): string {
  const l = Object.entries(labels)
    .map(([k, v]) => `${k}="${escapeLabelValue(v)}"`)
    .join(',');
  return `${name}{${l}} ${String(value)}`;
}

function family(m: { name: string; help: string }, lines: string[]): string[] {
  return [`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} gauge`, ...lines];
}

/**
 * The body of the push (text exposition format 0.0.4). Service and environment come from the
 * grouping key, which the gateway adds to every sample; each sample carries the delivery's digest
 * and verdict. No timestamps: the gateway refuses them, and Prometheus' scrape time is what the
 * range queries need.
 */
export function deliveryExposition(r: DeliveryRecord): string {
  const labels = { digest: r.digest, verdict: r.verdict };
  const M = DELIVERY_METRICS;
  const lines = [
    ...family(
      M.verdict,
      DELIVERY_VERDICTS.map((v) => sample(M.verdict.name, { digest: r.digest, verdict: v }, v === r.verdict ? 1 : 0)),
    ),
    ...family(M.duration, [sample(M.duration.name, labels, r.deployDurationSeconds)]),
    ...(r.timeToRestoreSeconds === undefined ? [] : family(M.timeToRestore, [sample(M.timeToRestore.name, labels, r.timeToRestoreSeconds)])),
    ...family(M.timestamp, [sample(M.timestamp.name, labels, r.timestampSeconds)]),
  ];
  return `${lines.join('\n')}\n`;
}

interface Target {
  endpoint: URL;
  shown: string;
  headers: Record<string, string>;
}

function target(url: URL | string, record: DeliveryRecord, auth: PushgatewayAuth | undefined): Target {
  let base: URL;
  try {
    base = new URL(url);
  } catch {
    throw new PushgatewayError('input', `the Pushgateway URL ${JSON.stringify(untrusted(redactUrl(String(url)), { max: 200, oneLine: true }))} is not a URL`);
  }
  // A user without a password is a token (https://TOKEN@host); a user beside a password is a
  // name, and masking a name like "ci" would garble every log line that contains it.
  const user = base.username ? decodeURIComponent(base.username) : '';
  for (const s of urlSecrets(base)) if (s !== user || !base.password) secrets.add(s);
  if (base.protocol !== 'http:' && base.protocol !== 'https:')
    throw new PushgatewayError('input', `the Pushgateway URL must be http:// or https://, not ${untrusted(base.protocol, { max: 20, oneLine: true })}`);
  // fetch refuses URLs with userinfo, and messages must not carry it: it becomes a header.
  const given = auth ?? (user ? { username: user, password: decodeURIComponent(base.password) } : undefined);
  base.username = '';
  base.password = '';
  const endpoint = new URL(base);
  endpoint.pathname = `${base.pathname.replace(/\/+$/, '')}${groupingPath(record.service, record.environment)}`;
  const headers: Record<string, string> = { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' };
  if (given && 'bearer' in given) {
    secrets.add(given.bearer);
    headers.authorization = `Bearer ${given.bearer}`;
  } else if (given) {
    if (given.password) secrets.add(given.password);
    headers.authorization = `Basic ${Buffer.from(`${given.username}:${given.password}`).toString('base64')}`;
  }
  return { endpoint, shown: redactUrl(endpoint), headers };
}

/**
 * Replaces the gateway's group for `record.service` × `record.environment` with this delivery
 * (PUT: metrics of an earlier push that this one lacks, such as a time to restore, go with it).
 * Throws PushgatewayError, never anything else for a failed push.
 */
export async function pushDelivery(url: URL | string, record: DeliveryRecord, opts: PushOptions = {}): Promise<void> {
  const problems = deliveryProblems(record);
  if (problems.length > 0) throw new PushgatewayError('input', `delivery metrics not pushed: ${problems.join('; ')}`);
  const t = target(url, record, opts.auth);
  const body = deliveryExposition(record);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const schedule = new RetrySchedule({ deadlineMs: 30_000, ...opts.retry });
  const fetchFn = opts.fetch ?? fetch;
  for (;;) {
    let res: Response;
    let text: string;
    try {
      res = await fetchFn(t.endpoint, { method: 'PUT', headers: t.headers, body, signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
      text = await res.text();
    } catch (err) {
      const delay = isTimeout(err) || isRetryableError(err) ? schedule.next() : undefined;
      if (delay !== undefined) {
        await schedule.wait(delay);
        continue;
      }
      throw new PushgatewayError(
        'unreachable',
        `the Pushgateway at ${t.shown} did not answer (${describeNetworkError(err, timeoutMs)}) after ${schedule.attempts} attempt(s)`,
        { url: t.shown, cause: err },
      );
    }
    if (res.status >= 200 && res.status < 300) return;
    if (isRetryableStatus(res.status)) {
      const delay = schedule.next(res.headers.get('retry-after') ?? undefined);
      if (delay !== undefined) {
        await schedule.wait(delay);
        continue;
      }
    }
    throw new PushgatewayError('http', `the Pushgateway at ${t.shown} answered HTTP ${res.status}: ${excerpt(text)}${hintFor(res.status)}`, {
      status: res.status,
      url: t.shown,
    });
  }
}

function hintFor(status: number): string {
  if (status === 401 || status === 403) return ' — check the Pushgateway credentials';
  if (status === 404 || status === 405) return ' — give the Pushgateway base URL (e.g. http://pushgateway:9091), without /metrics';
  if (status >= 300 && status < 400) return ' — the gateway redirects: give its final URL';
  // 400: the gateway checks a push against every group it holds (same name, same type and help).
  if (status === 400) return ' — another client pushes these metric names with a different type or help';
  return '';
}

function excerpt(text: string): string {
  return untrusted(text, { max: EXCERPT, oneLine: true }) || '(empty body)';
}

function isTimeout(err: unknown): boolean {
  return err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
}

function describeNetworkError(err: unknown, timeoutMs: number): string {
  if (isTimeout(err)) return `no answer within ${timeoutMs} ms`;
  const code = errorCode(err);
  if (code) return NETWORK_ERROR_WORDS[code] ? `${NETWORK_ERROR_WORDS[code]}, ${code}` : code;
  return untrusted(err instanceof Error ? err.message : err, { max: EXCERPT, oneLine: true });
}
