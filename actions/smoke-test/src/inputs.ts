import { type InputsOf, input, UserError } from '@shipline/kit';
import { type JsonExpectation, parseJsonExpectation, parseStatusPattern, type StatusPattern } from './expect.ts';
import { type ProxyTarget, parseProxyTarget } from './targets.ts';

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
export const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

export interface Header {
  name: string;
  value: string;
}

const header = input.custom<Header>('header line `Name: value`', (raw, fail) => {
  const i = raw.indexOf(':');
  if (i <= 0) return fail(`${input.quote(raw.slice(0, 40))} is not a header line`, 'write one `Name: value` a line');
  const name = raw.slice(0, i).trim();
  if (!HEADER_NAME.test(name)) return fail(`${input.quote(name)} is not a valid header name`, 'header names are letters, digits and - (e.g. X-Request-Id)');
  return { name, value: raw.slice(i + 1).trim() };
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
  url: input.list(input.url()),
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
  'max-latency': input.duration({ min: 1 }),
  timeout: input.duration({ default: '10s', min: 1 }),
  deadline: input.duration({ default: '60s', min: 1 }),
  interval: input.duration({ default: '1s', min: 0 }),
  'max-interval': input.duration({ default: '10s', min: 0 }),
  backoff: input.number({ default: '2', min: 1, max: 10 }),
  retries: input.integer({ min: 0 }),
  'consecutive-successes': input.integer({ default: '1', min: 1, max: 1000 }),
  concurrency: input.integer({ default: '4', min: 1, max: 256 }),
  'ca-file': input.file(),
  insecure: input.boolean({ default: 'false' }),
  'follow-redirects': input.boolean({ default: 'true' }),
  'max-redirects': input.integer({ default: '5', min: 1, max: 50 }),
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

export function redactUrl(u: URL): string {
  if (!u.username && !u.password) return u.href;
  const c = new URL(u.href);
  c.username = c.username ? '***' : '';
  c.password = '';
  return c.href;
}
