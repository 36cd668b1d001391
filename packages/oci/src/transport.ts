import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import tls from 'node:tls';
import { CaFileError, OciError } from './errors.ts';

/**
 * A request body: bytes or a factory are replayable (retries, auth round trips); a bare
 * stream can be sent once (the kit's `isReplayableBody` tells them apart).
 */
export type RequestBody = Uint8Array | (() => Readable) | Readable;

export interface HttpRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: RequestBody;
  /** Socket inactivity limit for this request. */
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  /** Lowercased names. */
  headers: Record<string, string | undefined>;
  /** Must be consumed or destroyed by the caller. */
  body: Readable;
  url: string;
}

/** Fetch-like seam: the distribution client takes one, tests and callers may wrap it. */
export type Transport = (req: HttpRequest) => Promise<HttpResponse>;

export interface NodeTransportOptions {
  /** PEM CA bundle added to node's roots, for registries with their own CA. */
  caFile?: string;
  ca?: string | Buffer;
  /** Hosts (host[:port]) whose certificates are not verified (the `insecure` list). */
  skipVerifyHosts?: Iterable<string>;
  /** Connection establishment limit. Default 15 s. */
  connectTimeoutMs?: number;
  /** Socket inactivity limit. Default 60 s. */
  idleTimeoutMs?: number;
  /** Parallel sockets per host. Default 16. */
  maxSockets?: number;
  /**
   * HTTPS_PROXY/HTTP_PROXY/NO_PROXY (either case), usually the process environment. Node's own
   * agents speak the proxy protocol (CONNECT for https, absolute-form for http) and send the proxy
   * URL's userinfo as Proxy-Authorization to the proxy only. Undefined: no proxy.
   */
  proxyEnv?: Readonly<Record<string, string | undefined>>;
}

function timeoutError(message: string): Error {
  return Object.assign(new Error(message), { code: 'ETIMEDOUT' });
}

export function bodyStream(body: RequestBody): Readable {
  if (body instanceof Uint8Array) return Readable.from([body], { objectMode: false });
  if (typeof body === 'function') return body();
  return body;
}

/** HTTP/1.1 over node's http/https with keep-alive agents; no npm dependency needed. */
export function createNodeTransport(options: NodeTransportOptions = {}): Transport {
  let ca: string | Buffer | undefined = options.ca;
  if (options.caFile !== undefined) {
    try {
      ca = readFileSync(options.caFile);
    } catch (err) {
      throw new CaFileError(options.caFile, { cause: err });
    }
  }
  const skipVerify = new Set(options.skipVerifyHosts ?? []);
  const connectTimeoutMs = options.connectTimeoutMs ?? 15_000;
  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
  const maxSockets = options.maxSockets ?? 16;
  const proxyEnv = options.proxyEnv ? proxyVariables(options.proxyEnv) : undefined;
  const proxy = proxyEnv ? { proxyEnv } : {};
  const httpAgent = new http.Agent({ keepAlive: true, maxSockets, ...proxy });
  // Node replaces its root store when `ca` is given; keep the public roots too.
  const caList = ca !== undefined ? [...tlsRootCertificates(), ca.toString()] : undefined;
  const httpsAgent = new https.Agent({ keepAlive: true, maxSockets, ...proxy, ...(caList ? { ca: caList } : {}) });
  const httpsNoVerify = new https.Agent({ keepAlive: true, maxSockets, ...proxy, rejectUnauthorized: false });

  return (req) =>
    new Promise<HttpResponse>((resolve, reject) => {
      const url = new URL(req.url);
      const secure = url.protocol === 'https:';
      const agent = !secure ? httpAgent : skipVerify.has(url.host) ? httpsNoVerify : httpsAgent;
      const headers: Record<string, string> = { ...req.headers };
      if (req.body instanceof Uint8Array) headers['content-length'] = String(req.body.byteLength);
      else if (req.body === undefined && (req.method === 'PUT' || req.method === 'POST' || req.method === 'PATCH')) headers['content-length'] ??= '0';
      const mod = secure ? https : http;
      const cr = mod.request(url, { method: req.method, headers, agent });
      let settled = false;
      const connectTimer = setTimeout(() => cr.destroy(timeoutError(`connecting to ${url.host} timed out after ${connectTimeoutMs} ms`)), connectTimeoutMs);
      cr.on('socket', (socket) => {
        // Reused keep-alive sockets are already connected.
        if (!socket.connecting) clearTimeout(connectTimer);
        else socket.once('connect', () => clearTimeout(connectTimer));
      });
      cr.setTimeout(req.timeoutMs ?? idleTimeoutMs, () =>
        cr.destroy(timeoutError(`${req.method} ${url.host}${url.pathname}: no data for ${req.timeoutMs ?? idleTimeoutMs} ms`)),
      );
      cr.on('error', (err) => {
        clearTimeout(connectTimer);
        if (!settled) {
          settled = true;
          reject(err);
        }
      });
      cr.on('response', (res) => {
        clearTimeout(connectTimer);
        settled = true;
        const out: Record<string, string | undefined> = {};
        for (const [k, v] of Object.entries(res.headers)) out[k] = Array.isArray(v) ? v.join(', ') : v;
        resolve({ status: res.statusCode ?? 0, headers: out, body: res, url: req.url });
      });
      if (req.body === undefined) {
        cr.end();
      } else if (req.body instanceof Uint8Array) {
        cr.end(req.body);
      } else {
        const src = bodyStream(req.body);
        src.on('error', (err) => cr.destroy(err));
        src.pipe(cr);
      }
    });
}

/** Only the proxy variables (Node reads nothing else from `proxyEnv`; the rest of the env stays out). */
export function proxyVariables(env: Readonly<Record<string, string | undefined>>): http.ProxyEnv | undefined {
  const names = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy'] as const;
  const out: http.ProxyEnv = {};
  for (const n of names) if (env[n]) out[n] = env[n];
  return Object.keys(out).length ? out : undefined;
}

function tlsRootCertificates(): readonly string[] {
  return tls.rootCertificates;
}

/** Read a whole response body (for JSON and error documents; they are small). */
export async function readBody(res: HttpResponse, limit = 16 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limit) {
      res.body.destroy();
      throw new OciError(`response from ${res.url} is larger than ${limit} bytes`);
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** Discard a body so the keep-alive socket can be reused. */
export async function drain(res: HttpResponse): Promise<void> {
  try {
    for await (const _ of res.body) {
      /* discard */
    }
  } catch {
    /* a broken body after we decided to ignore it does not matter */
  }
}
