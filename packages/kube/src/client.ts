// A small REST client for the API server: keep-alive connections, timeouts, the kit's retry policy
// (@shipline/kit/retry: 408/429/5xx and connection resets, Retry-After), Status objects turned into
// ApiError, and discovery of kinds to resource paths (cached per group/version).
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { isRetryableError, isRetryableStatus, NETWORK_ERROR_WORDS, type RetryOptions, RetrySchedule } from '@shipline/kit/retry';
import { untrusted } from '@shipline/kit/untrusted';
import { ApiError, UnreachableError } from './errors.ts';
import type { Connection } from './kubeconfig.ts';
import { isRecord, type KubeObject } from './object.ts';

export interface ClientOptions {
  /** Parallel connections to the API server. */
  maxSockets?: number;
  /** Time limit of one request. */
  timeoutMs?: number;
  /** Attempts per request, the first included (the kit's retry policy: 408/429/5xx and resets). */
  attempts?: number;
  /** Ceiling of the first backoff delay; doubles each retry, with full jitter. */
  backoffMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /**
   * HTTPS_PROXY/HTTP_PROXY/NO_PROXY (usually the process environment). A cluster's own
   * `proxy-url` (Connection.proxyUrl) wins over it and, as with kubectl, ignores NO_PROXY.
   */
  proxyEnv?: Readonly<Record<string, string | undefined>>;
}

const PROXY_VARIABLES = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy'] as const;

/** The proxy settings Node's agents take (`proxyEnv`), or undefined for a direct connection. */
export function proxySettings(conn: Pick<Connection, 'proxyUrl'>, env?: Readonly<Record<string, string | undefined>>): http.ProxyEnv | undefined {
  if (conn.proxyUrl) return { HTTPS_PROXY: conn.proxyUrl, HTTP_PROXY: conn.proxyUrl };
  if (!env) return undefined;
  const out: http.ProxyEnv = {};
  for (const n of PROXY_VARIABLES) if (env[n]) out[n] = env[n];
  return Object.keys(out).length ? out : undefined;
}

export interface Resource {
  /** Plural resource name, e.g. `deployments`. */
  name: string;
  namespaced: boolean;
  kind: string;
  apiVersion: string;
  verbs: string[];
}

export interface Response<T> {
  status: number;
  body: T;
}

type Query = Record<string, string | undefined>;

/** One line of a watch stream. ERROR carries a Status (410 Gone: the version is too old, re-list). */
export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: KubeObject | { kind: 'Status'; code?: number; reason?: string; message?: string };
}

export class KubeClient {
  readonly server: URL;
  private readonly conn: Connection;
  private readonly agent: http.Agent;
  private readonly timeoutMs: number;
  private readonly retry: RetryOptions;
  private readonly groups = new Map<string, Promise<Resource[] | undefined>>();

  constructor(conn: Connection, opts: ClientOptions = {}) {
    this.conn = conn;
    this.server = conn.server;
    const isHttps = conn.server.protocol === 'https:';
    const agentOpts: https.AgentOptions = { keepAlive: true, maxSockets: opts.maxSockets ?? 16 };
    // Node's agents speak the proxy protocol themselves (CONNECT for https, absolute-form for
    // http), with the proxy URL's userinfo sent to the proxy only.
    const proxyEnv = proxySettings(conn, opts.proxyEnv);
    if (proxyEnv) agentOpts.proxyEnv = proxyEnv;
    if (isHttps) {
      agentOpts.rejectUnauthorized = conn.rejectUnauthorized;
      // One secure context for every connection: parsing the CA, certificate and key per socket
      // costs a few ms each.
      agentOpts.secureContext = tls.createSecureContext({
        ...(conn.ca ? { ca: conn.ca } : {}),
        ...(conn.cert ? { cert: conn.cert } : {}),
        ...(conn.key ? { key: conn.key } : {}),
      });
      if (conn.servername) agentOpts.servername = conn.servername;
    }
    this.agent = isHttps ? new https.Agent(agentOpts) : new http.Agent(agentOpts);
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.retry = {
      ...(opts.attempts !== undefined ? { retries: Math.max(0, opts.attempts - 1) } : {}),
      ...(opts.backoffMs !== undefined ? { baseMs: opts.backoffMs } : {}),
      ...(opts.sleep ? { sleep: opts.sleep } : {}),
    };
  }

  close(): void {
    this.agent.destroy();
  }

  /** One API call, retried where that is safe (every verb used here is idempotent). */
  async request<T = unknown>(method: string, path: string, opts: { query?: Query; body?: unknown; contentType?: string } = {}): Promise<Response<T>> {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) qs.set(k, v);
    const url = new URL(this.server.href.replace(/\/$/, '') + path + (qs.size ? `?${qs}` : ''));
    const body = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    const res = await this.retried(method, url, body, opts.contentType ?? 'application/json');
    if (res.status < 400) return { status: res.status, body: parseBody(res.text) as T };
    throw apiError(res.status, res.text, method, path);
  }

  /**
   * One call under the kit's retry policy (bodies here are strings, so every attempt can re-send
   * them): the last answer, or UnreachableError when no answer came.
   */
  private async retried(
    method: string,
    url: URL,
    body: string | undefined,
    contentType: string,
  ): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
    const schedule = new RetrySchedule(this.retry);
    for (;;) {
      let res: { status: number; headers: http.IncomingHttpHeaders; text: string };
      try {
        res = await this.once(method, url, body, contentType);
      } catch (e) {
        const delay = isRetryableError(e) ? schedule.next() : undefined;
        if (delay === undefined) throw new UnreachableError(this.server.origin, describeNetError(e), { cause: e });
        await schedule.wait(delay);
        continue;
      }
      const delay = isRetryableStatus(res.status) ? schedule.next(res.headers['retry-after']) : undefined;
      if (delay === undefined) return res;
      await schedule.wait(delay);
    }
  }

  private once(
    method: string,
    url: URL,
    body: string | undefined,
    contentType: string,
  ): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': 'shipline', ...this.conn.headers };
      if (body !== undefined) {
        headers['Content-Type'] = contentType;
        headers['Content-Length'] = String(Buffer.byteLength(body));
      }
      const mod = url.protocol === 'https:' ? https : http;
      const req = mod.request(url, { method, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', reject);
      });
      const timer = setTimeout(() => {
        const e = new Error(`no answer within ${this.timeoutMs} ms`) as NodeJS.ErrnoException;
        e.code = 'ETIMEDOUT';
        req.destroy(e);
      }, this.timeoutMs);
      req.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      req.end(body);
    });
  }

  /** Resources of one group/version, or undefined when the cluster does not serve it. */
  resources(apiVersion: string): Promise<Resource[] | undefined> {
    let p = this.groups.get(apiVersion);
    if (!p) {
      const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
      p = this.request<{ resources?: { name: string; namespaced: boolean; kind: string; verbs?: string[] }[] }>('GET', path).then(
        (r) =>
          (r.body.resources ?? [])
            .filter((x) => !x.name.includes('/'))
            .map((x) => ({ name: x.name, namespaced: x.namespaced, kind: x.kind, apiVersion, verbs: x.verbs ?? [] })),
        (e) => {
          if (e instanceof ApiError && e.status === 404) return undefined;
          this.groups.delete(apiVersion);
          throw e;
        },
      );
      this.groups.set(apiVersion, p);
    }
    return p;
  }

  /** Forgets what discovery said about a group/version (after a CRD is established). */
  forget(apiVersion: string): void {
    this.groups.delete(apiVersion);
  }

  async resourceFor(apiVersion: string, kind: string): Promise<Resource | undefined> {
    return (await this.resources(apiVersion))?.find((r) => r.kind === kind);
  }

  /** Path of a collection (name undefined) or an object. */
  static pathOf(r: Resource, namespace: string | undefined, name?: string): string {
    const base = r.apiVersion.includes('/') ? `/apis/${r.apiVersion}` : `/api/${r.apiVersion}`;
    const ns = r.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
    return `${base}${ns}/${r.name}${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;
  }

  /** The live object, or undefined when it does not exist. */
  async get(r: Resource, namespace: string | undefined, name: string): Promise<KubeObject | undefined> {
    try {
      return (await this.request<KubeObject>('GET', KubeClient.pathOf(r, namespace, name))).body;
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return undefined;
      throw e;
    }
  }

  /** Server-side apply of one object. */
  async apply(r: Resource, obj: KubeObject, opts: { fieldManager: string; force: boolean; dryRun: boolean }): Promise<KubeObject> {
    const query: Query = { fieldManager: opts.fieldManager, force: String(opts.force) };
    if (opts.dryRun) query.dryRun = 'All';
    const res = await this.request<KubeObject>('PATCH', KubeClient.pathOf(r, obj.metadata.namespace, obj.metadata.name), {
      query,
      body: obj,
      contentType: 'application/apply-patch+yaml',
    });
    return res.body;
  }

  async list(r: Resource, namespace: string | undefined, labelSelector: string): Promise<KubeObject[]> {
    const res = await this.request<{ items?: KubeObject[] }>('GET', KubeClient.pathOf(r, namespace), { query: { labelSelector: labelSelector || undefined } });
    return (res.body.items ?? []).map((o) => ({ ...o, apiVersion: r.apiVersion, kind: r.kind }));
  }

  async delete(r: Resource, namespace: string | undefined, name: string, dryRun: boolean): Promise<void> {
    try {
      await this.request('DELETE', KubeClient.pathOf(r, namespace, name), {
        query: dryRun ? { dryRun: 'All' } : {},
        body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' },
      });
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return;
      throw e;
    }
  }

  // ---- Status engine: versioned lists, watch streams, text bodies (pod logs) ----

  /** A LIST with the collection's resourceVersion (the point a watch starts from), paged by 500. */
  async listVersioned(r: Resource, namespace: string | undefined, query: Query = {}): Promise<{ items: KubeObject[]; resourceVersion: string }> {
    const items: KubeObject[] = [];
    let next: string | undefined;
    let resourceVersion = '';
    do {
      const res = await this.request<{ items?: KubeObject[]; metadata?: { resourceVersion?: string; continue?: string } }>(
        'GET',
        KubeClient.pathOf(r, namespace),
        {
          query: { ...query, limit: '500', continue: next },
        },
      );
      for (const o of res.body.items ?? []) items.push({ ...o, apiVersion: r.apiVersion, kind: r.kind });
      resourceVersion = res.body.metadata?.resourceVersion ?? resourceVersion;
      next = res.body.metadata?.continue || undefined;
    } while (next);
    return { items, resourceVersion };
  }

  /**
   * One WATCH request: calls `onEvent` for each line of the server's newline-delimited JSON
   * stream and resolves when the server ends it (timeoutSeconds) or `signal` aborts. Rejects on a
   * refused request (ApiError), a stream cut short (ECONNRESET), a stream silent for `idleMs`
   * (ETIMEDOUT: a dead connection sends nothing, and bookmarks come about every minute) or a line
   * that is not JSON. The caller re-watches or re-lists; no retry happens here.
   */
  watch(r: Resource, namespace: string | undefined, query: Query, onEvent: (e: WatchEvent) => void, signal?: AbortSignal, idleMs = 90_000): Promise<void> {
    const qs = new URLSearchParams({ watch: 'true' });
    for (const [k, v] of Object.entries(query)) if (v !== undefined) qs.set(k, v);
    const path = KubeClient.pathOf(r, namespace);
    const url = new URL(`${this.server.href.replace(/\/$/, '')}${path}?${qs}`);
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return resolve();
      let settled = false;
      const finish = (err?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(idle);
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve();
      };
      const onAbort = () => {
        finish();
        req.destroy();
      };
      const fail = (code: string, message: string) => {
        const e = new Error(`${message} (GET ${path})`) as NodeJS.ErrnoException;
        e.code = code;
        finish(e);
        req.destroy();
      };
      let idle = setTimeout(() => fail('ETIMEDOUT', `watch silent for ${idleMs} ms`), idleMs);
      const touch = () => {
        clearTimeout(idle);
        idle = setTimeout(() => fail('ETIMEDOUT', `watch silent for ${idleMs} ms`), idleMs);
      };
      const mod = url.protocol === 'https:' ? https : http;
      const headers = { Accept: 'application/json', 'User-Agent': 'shipline', ...this.conn.headers };
      const req = mod.request(url, { method: 'GET', headers, agent: this.agent }, (res) => {
        const status = res.statusCode ?? 0;
        res.setEncoding('utf8');
        if (status >= 400) {
          let text = '';
          res.on('data', (c: string) => {
            text += c;
          });
          res.on('end', () => finish(apiError(status, text, 'GET', path)));
          res.on('error', (e) => finish(e));
          return;
        }
        let buf = '';
        let ended = false;
        res.on('data', (chunk: string) => {
          touch();
          buf += chunk;
          let nl = buf.indexOf('\n');
          while (nl >= 0 && !settled) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            nl = buf.indexOf('\n');
            if (line === '') continue;
            let event: WatchEvent;
            try {
              event = JSON.parse(line) as WatchEvent;
            } catch {
              return fail('EPROTO', 'watch stream sent a line that is not JSON');
            }
            try {
              onEvent(event);
            } catch (e) {
              finish(e);
              req.destroy();
              return;
            }
          }
        });
        res.on('end', () => {
          ended = true;
          finish();
        });
        res.on('error', (e) => finish(e));
        res.on('close', () => {
          if (!ended && !settled) fail('ECONNRESET', 'watch stream closed before its end');
        });
      });
      req.on('error', (e) => finish(e));
      signal?.addEventListener('abort', onAbort, { once: true });
      req.end();
    });
  }

  /**
   * A GET whose answer is text, not JSON (pod logs), retried like `request`. Raw, untrusted
   * text: the caller passes it through `untrusted()` before showing any of it.
   */
  async getText(path: string, query: Query = {}): Promise<string> {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) qs.set(k, v);
    const url = new URL(this.server.href.replace(/\/$/, '') + path + (qs.size ? `?${qs}` : ''));
    const res = await this.retried('GET', url, undefined, 'application/json');
    if (res.status < 400) return res.text;
    throw apiError(res.status, res.text, 'GET', path);
  }

  /** The last `tailLines` lines of a container's log (`previous`: of its last terminated instance). */
  logs(namespace: string, pod: string, opts: { container: string; previous?: boolean; tailLines: number; limitBytes?: number }): Promise<string> {
    return this.getText(`/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/log`, {
      container: opts.container,
      previous: opts.previous ? 'true' : undefined,
      tailLines: String(opts.tailLines),
      limitBytes: String(opts.limitBytes ?? 256 * 1024),
    });
  }
}

function parseBody(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A Status cause with its server-written text made printable. */
function cleanCause(c: unknown): unknown {
  if (!isRecord(c)) return c;
  const out: Record<string, unknown> = { ...c };
  for (const k of ['message', 'field', 'reason']) if (typeof out[k] === 'string') out[k] = untrusted(out[k], { max: 300, oneLine: true });
  return out;
}

/**
 * The API server's answer as an error. Its message, causes and any non-Status body are the
 * server's text (admission webhooks write whatever they like there): masked, then cut, then made inert.
 */
function apiError(status: number, text: string, method: string, path: string): ApiError {
  const body = parseBody(text);
  if (isRecord(body) && body.kind === 'Status') {
    const causes = isRecord(body.details) && Array.isArray(body.details.causes) ? body.details.causes.map(cleanCause) : [];
    return new ApiError({
      status,
      reason: typeof body.reason === 'string' && body.reason ? untrusted(body.reason, { max: 60, oneLine: true }) : String(status),
      message: typeof body.message === 'string' ? untrusted(body.message, { max: 2000, oneLine: true }) : `HTTP ${status}`,
      method,
      path,
      details: causes,
    });
  }
  const reason = status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : status === 404 ? 'NotFound' : String(status);
  // Masked before it is cut: a cut inside a reflected token would leave most of it readable.
  const snippet = typeof body === 'string' ? untrusted(body, { max: 200, oneLine: true }) : '';
  return new ApiError({ status, reason, message: `HTTP ${status} from ${method} ${path}${snippet ? `: ${snippet}` : ''}`, method, path });
}

const NET_REASONS: Record<string, string> = {
  ...NETWORK_ERROR_WORDS,
  DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS: self-signed certificate (the kubeconfig lacks the cluster CA)',
  SELF_SIGNED_CERT_IN_CHAIN: 'TLS: self-signed certificate in chain (the kubeconfig lacks the cluster CA)',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'TLS: certificate not signed by the kubeconfig CA',
  ERR_TLS_CERT_ALTNAME_INVALID: 'TLS: certificate does not name this host',
  CERT_HAS_EXPIRED: 'TLS: certificate has expired',
};

export function describeNetError(e: unknown): string {
  const err = e as NodeJS.ErrnoException | undefined;
  const code = err?.code;
  if (code && NET_REASONS[code]) return code === 'ETIMEDOUT' && err?.message ? `${err.message} (ETIMEDOUT)` : `${NET_REASONS[code]} (${code})`;
  return err?.message ? `${err.message}${code && !err.message.includes(code) ? ` (${code})` : ''}` : String(e);
}
