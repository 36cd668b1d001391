import type http from 'node:http';
import type https from 'node:https';
import { untrusted } from '@shipline/kit';
import { redactUrl } from '@shipline/kit/redact-url';
import { NETWORK_ERROR_WORDS } from '@shipline/kit/retry';

// Loaded on first request: node:https (TLS, crypto) costs more start-up than the rest of the action,
// and input validation must stay fast.
let modules: Promise<[typeof http, typeof https]> | undefined;
const load = () => {
  modules ??= Promise.all([import('node:http'), import('node:https')]).then(([a, b]) => [a.default, b.default] as [typeof http, typeof https]);
  return modules;
};

export interface HttpRequest {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
  timeoutMs: number;
  ca: Buffer | string | undefined;
  insecure: boolean;
  /** Client certificate and key (a kubeconfig's user, for the API server's proxy). */
  cert?: Buffer | string;
  key?: Buffer | string;
  servername?: string;
  /** 0 means redirects are returned as they are. */
  maxRedirects: number;
  /** Bytes of body kept for matching; the rest is read and counted, not kept. */
  maxBodyBytes: number;
  /**
   * HTTPS_PROXY/HTTP_PROXY/NO_PROXY for Node's agents (CONNECT for https, absolute-form for http;
   * the proxy URL's userinfo goes to the proxy only). Undefined: connect directly.
   */
  proxyEnv?: http.ProxyEnv;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  bodyBytes: number;
  truncated: boolean;
  latencyMs: number;
  finalUrl: URL;
  redirects: number;
}

/** A request that got no HTTP answer; `reason` is for people. */
export class RequestFailed extends Error {
  readonly code: string | undefined;
  constructor(reason: string, code?: string) {
    super(reason);
    this.name = 'RequestFailed';
    this.code = code;
  }
}

export type Requester = (req: HttpRequest) => Promise<HttpResponse>;

/**
 * Headers that carry credentials: masked when the action reads them, and dropped when a redirect
 * leaves the origin they were meant for. One rule for both, so the two can never disagree.
 */
export const SENSITIVE_HEADER =
  /^(authorization|proxy-authorization|cookie|set-cookie|x-api-key)$|token|secret|password|passwd|api-?key|auth|session|credential|signature/i;

/** One check: the request and any redirects within one timeout, timed to the last body byte. */
export const request: Requester = async (req) => {
  const started = performance.now();
  const deadline = started + req.timeoutMs;
  let url = req.url;
  let method = req.method;
  let body = req.body;
  let headers = { ...req.headers };
  let crossed = false;
  for (let hop = 0; ; hop++) {
    const hopReq: HttpRequest = { ...req, url, method, body, headers };
    if (crossed) {
      delete hopReq.cert;
      delete hopReq.key;
    }
    const res = await once(hopReq, deadline - performance.now());
    const location = res.headers.location;
    if (res.status >= 300 && res.status < 400 && location && hop < req.maxRedirects) {
      const next = new URL(location, url);
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new RequestFailed(`redirected to unsupported scheme ${untrusted(next.protocol, { max: 40, oneLine: true })}`);
      }
      // A redirect to another origin must not carry credentials meant for the first one: no
      // secret-classed header, and no client certificate (a kubeconfig's, for the API server proxy).
      if (next.origin !== url.origin) {
        headers = Object.fromEntries(Object.entries(headers).filter(([k]) => !SENSITIVE_HEADER.test(k)));
        crossed = true;
      }
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        method = method === 'HEAD' ? 'HEAD' : 'GET';
        body = undefined;
      }
      url = next;
      continue;
    }
    if (res.status >= 300 && res.status < 400 && location && req.maxRedirects > 0 && hop >= req.maxRedirects) {
      // The Location is the server's text, and may carry a signed query: masked, redacted, inert.
      throw new RequestFailed(
        `more than ${req.maxRedirects} redirects (last to ${untrusted(redactUrl(new URL(location, url).href), { max: 200, oneLine: true })})`,
      );
    }
    return { ...res, latencyMs: performance.now() - started, finalUrl: url, redirects: hop };
  }
};

type Once = Omit<HttpResponse, 'latencyMs' | 'finalUrl' | 'redirects'>;

async function once(req: HttpRequest, timeoutMs: number): Promise<Once> {
  const [httpMod, httpsMod] = await load();
  return new Promise((resolve, reject) => {
    if (timeoutMs <= 0) {
      reject(new RequestFailed(`timed out after ${Math.round(req.timeoutMs)} ms`, 'ETIMEDOUT'));
      return;
    }
    const isHttps = req.url.protocol === 'https:';
    const headers: Record<string, string> = { 'user-agent': 'shipline-smoke-test', ...req.headers };
    if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body));
    // One agent per request, as `agent: false` gives without a proxy: checks must not share sockets.
    const agent = req.proxyEnv ? new (isHttps ? httpsMod.Agent : httpMod.Agent)({ proxyEnv: req.proxyEnv }) : false;
    const options: https.RequestOptions = {
      method: req.method,
      headers,
      agent,
      ...(isHttps ? { ca: req.ca, cert: req.cert, key: req.key, servername: req.servername, rejectUnauthorized: !req.insecure } : {}),
    };
    const r = (isHttps ? httpsMod : httpMod).request(req.url, options, (res) => {
      const chunks: Buffer[] = [];
      let kept = 0;
      let total = 0;
      res.on('data', (c: Buffer) => {
        total += c.length;
        if (kept < req.maxBodyBytes) {
          const part = c.subarray(0, req.maxBodyBytes - kept);
          chunks.push(part);
          kept += part.length;
        }
      });
      res.on('end', () => {
        clearTimeout(timer);
        if (agent) agent.destroy();
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          bodyBytes: total,
          truncated: total > kept,
        });
      });
      res.on('error', (e) => fail(e));
    });
    const timer = setTimeout(() => {
      r.destroy(new RequestFailed(`timed out after ${Math.round(req.timeoutMs)} ms`, 'ETIMEDOUT'));
    }, timeoutMs);
    const fail = (e: unknown) => {
      clearTimeout(timer);
      if (agent) agent.destroy();
      reject(e instanceof RequestFailed ? e : describe(e));
    };
    r.on('error', fail);
    r.end(req.body);
  });
}

const REASONS: Record<string, string> = {
  ...NETWORK_ERROR_WORDS,
  DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS: self-signed certificate (set ca-file to its CA)',
  SELF_SIGNED_CERT_IN_CHAIN: 'TLS: self-signed certificate in chain (set ca-file to its CA)',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'TLS: certificate not signed by a trusted CA (set ca-file)',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'TLS: issuer of the certificate is unknown (set ca-file)',
  CERT_HAS_EXPIRED: 'TLS: certificate has expired',
  ERR_TLS_CERT_ALTNAME_INVALID: 'TLS: certificate does not name this host',
};

function describe(e: unknown): RequestFailed {
  const err = e as NodeJS.ErrnoException;
  const code = err?.code;
  // The system's own timeout message names the address; keep it.
  if (code === 'ETIMEDOUT' && err.message) return new RequestFailed(err.message.includes(code) ? err.message : `${err.message} (${code})`, code);
  if (code && REASONS[code]) return new RequestFailed(`${REASONS[code]} (${code})`, code);
  if (err?.message === 'socket hang up') return new RequestFailed('connection closed before a response (socket hang up)', code);
  return new RequestFailed(code ? `${err.message} (${code})` : String(err?.message ?? e), code);
}
