import { type InputsOf, input, UserError } from '@shipline/kit';
import { redactUrl } from '@shipline/kit/redact-url';
import { deploymentId, githubToken } from '../../shared/src/deployment-inputs.ts';
import { type JsonExpectation, parseJsonExpectation, parseStatusPattern, type StatusPattern } from './expect.ts';
import { type ProxyTarget, parseProxyTarget } from './targets.ts';

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
export const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

export interface Header {
  name: string;
  value: string;
}

/** What Node (and HTTP) accept in a header value: tab, visible ASCII and the rest of Latin-1. */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** Time limits above this overflow Node's timers (which then fire at once): about 24.8 days. */
export const MAX_TIMER_MS = 2_147_483_647;

// Header lines often hold credentials (`Authorization: Bearer …`), so a bad line is described,
// never quoted: a line without its colon would otherwise print the token in the error.
const header = input.custom<Header>('header line `Name: value`', (raw, fail) => {
  const i = raw.indexOf(':');
  if (i <= 0)
    return fail(
      'a line has no `Name:` before a colon, so it is not a header line (the line is not shown: it may hold a credential)',
      'write one `Name: value` a line, e.g. `Authorization: Bearer ${{ secrets.TOKEN }}`',
    );
  const name = raw.slice(0, i).trim();
  if (!HEADER_NAME.test(name))
    return fail(
      'a line starts with an invalid header name (the line is not shown: it may hold a credential)',
      "header names are letters, digits and !#$%&'*+.^_`|~- (e.g. X-Request-Id)",
    );
  const value = raw.slice(i + 1).trim();
  if (!HEADER_VALUE.test(value)) {
    const why = /[\r\n]/.test(value)
      ? 'a line break (CR or LF)'
      : [...value].some((c) => (c.codePointAt(0) as number) < 0x20 || c === '\x7f')
        ? 'a control character'
        : 'a character outside Latin-1';
    return fail(`the value of header ${name} holds ${why}, which HTTP does not allow`, 'percent-encode or base64 the value, or drop the character');
  }
  return { name, value };
});

/** A URL whose credentials (userinfo, `?token=`) are never quoted in an error about it. */
const targetUrl = input.custom<URL>('URL', (raw, fail) => {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return fail(`${input.quote(redactUrl(raw))} is not a valid URL`, 'write an absolute URL such as http://127.0.0.1:8080/healthz');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    return fail(`${input.quote(redactUrl(raw))} uses ${u.protocol.replace(/:$/, '')}`, 'use http or https');
  if (!u.hostname) return fail(`${input.quote(redactUrl(raw))} has no host`, 'write an absolute URL with a host');
  return u;
});

const statusPattern = input.custom<StatusPattern>('status code or class', (raw, fail) => {
  const p = parseStatusPattern(raw);
  if (!p) return fail(`${input.quote(raw)} is not a status code or class`, 'use codes from 100 to 599 or classes such as 2xx, e.g. `200, 204` or `2xx`');
  return p;
});

const jsonExpectation = input.custom<JsonExpectation>('`path = value` line', (raw, fail) => {
  const why: { reason?: string } = {};
  const j = parseJsonExpectation(raw, why);
  if (!j)
    return fail(
      `${input.quote(raw)} is not a JSON expectation: ${why.reason}`,
      'write `$.path.to.field = value`, e.g. `$.status = "ok"` or `$.items[0].id = 7`',
    );
  return j;
});

const proxyTarget = (kind: 'service' | 'pod') =>
  input.custom<ProxyTarget>(`${kind} as namespace/name:port/path`, (raw, fail) => {
    const t = parseProxyTarget(kind, raw);
    if ('error' in t) return fail(`${input.quote(raw)} is not a ${kind} target: ${t.error}`, `write namespace/name:port/path, e.g. shop/orders:8080/healthz`);
    return t;
  });

export const schema = {
  url: input.list(targetUrl),
  service: input.list(proxyTarget('service')),
  pod: input.list(proxyTarget('pod')),
  kubeconfig: input.string({ secret: 'whole' }),
  'kubeconfig-path': input.file(),
  context: input.string(),
  method: input.enumOf(METHODS, { default: 'GET', caseInsensitive: true }),
  headers: input.list(header, { commas: false }),
  body: input.string(),
  'expect-status': input.list(statusPattern, { default: '2xx' }),
  'expect-body': input.regex(),
  'expect-json': input.list(jsonExpectation, { commas: false }),
  'max-latency': input.duration({ min: 1, max: MAX_TIMER_MS }),
  timeout: input.duration({ default: '10s', min: 1, max: MAX_TIMER_MS }),
  deadline: input.duration({ default: '60s', min: 1, max: MAX_TIMER_MS }),
  // A floor: `interval: 0` would mean a thousand attempts a second against a failing target.
  interval: input.duration({ default: '1s', min: 100, max: MAX_TIMER_MS }),
  'max-interval': input.duration({ default: '10s', min: 100, max: MAX_TIMER_MS }),
  backoff: input.number({ default: '2', min: 1, max: 10 }),
  retries: input.integer({ min: 0 }),
  'consecutive-successes': input.integer({ default: '1', min: 1, max: 1000 }),
  concurrency: input.integer({ default: '4', min: 1, max: 256 }),
  'ca-file': input.file(),
  insecure: input.boolean({ default: 'false' }),
  'follow-redirects': input.boolean({ default: 'true' }),
  'max-redirects': input.integer({ default: '5', min: 1, max: 50 }),
  'github-token': githubToken,
  'deployment-id': deploymentId,
};

export type Inputs = InputsOf<typeof schema>;

/** Rules that tie inputs together; each names the input to change. */
export function validate(i: Inputs): void {
  const inCluster = i.service.length + i.pod.length > 0;
  if (i.url.length === 0 && !inCluster) {
    throw new UserError('is required', {
      input: 'url',
      hint: 'set `url`, or `service`/`pod` (namespace/name:port/path) to check through the Kubernetes API server',
    });
  }
  if (i.kubeconfig !== undefined && i['kubeconfig-path'] !== undefined) {
    throw new UserError('both `kubeconfig` and `kubeconfig-path` are set', {
      input: 'kubeconfig-path',
      hint: 'give the kubeconfig either as content or as a file',
    });
  }
  if (!inCluster && (i.kubeconfig !== undefined || i['kubeconfig-path'] !== undefined || i.context !== undefined)) {
    const name = i.kubeconfig !== undefined ? 'kubeconfig' : i['kubeconfig-path'] !== undefined ? 'kubeconfig-path' : 'context';
    throw new UserError(`\`${name}\` is set but no \`service\` or \`pod\` target uses it`, {
      input: name,
      hint: 'add `service: namespace/name:port/path` (or `pod:`), or drop it',
    });
  }
  if (i.body !== undefined && (i.method === 'GET' || i.method === 'HEAD')) {
    throw new UserError(`a body is not sent with ${i.method}`, { input: 'body', hint: 'set `method` to POST, PUT or PATCH, or remove `body`' });
  }
  if (i.insecure && i['ca-file']) {
    throw new UserError('both `insecure` and `ca-file` are set', {
      input: 'insecure',
      hint: 'keep `ca-file` to verify against your CA and set `insecure: false`',
    });
  }
  if (i.timeout > i.deadline) {
    throw new UserError(`timeout (${i.timeout} ms) is longer than deadline (${i.deadline} ms)`, {
      input: 'timeout',
      hint: 'make `timeout` shorter than `deadline`',
    });
  }
  if (i['max-interval'] < i.interval) {
    throw new UserError('max-interval is shorter than interval', { input: 'max-interval', hint: 'make `max-interval` at least `interval`' });
  }
  if (i.method === 'HEAD' && (i['expect-body'] || i['expect-json'].length)) {
    throw new UserError('a HEAD response has no body to match', { input: 'method', hint: 'use GET with `expect-body`/`expect-json`' });
  }
  for (const u of i.url) {
    if (u.hash) throw new UserError(`${input.quote(redactUrl(u))} has a #fragment, which is never sent`, { input: 'url', hint: 'remove the part after #' });
  }
}

export { redactUrl };
