// Loopback servers for the security tests: a second origin that records what reached it, a
// CONNECT proxy that records what it forwarded, a small registry that can be told to misbehave,
// and the secret scan the leak corpus uses.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';

export interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

export interface Listening {
  url: string;
  host: string;
  port: number;
  /** Requests (or CONNECTs) in arrival order. */
  seen: Recorded[];
  close(): Promise<void>;
}

export async function listen(handler: (req: http.IncomingMessage, res: http.ServerResponse, seen: Recorded[]) => void, host = '127.0.0.1'): Promise<Listening> {
  const seen: Recorded[] = [];
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    handler(req, res, seen);
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    host,
    port,
    seen,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/**
 * An HTTP proxy: CONNECT tunnels (https) and absolute-form requests (http). It records each
 * request line and its headers, and drops Proxy-Authorization before forwarding, as real proxies do.
 */
export async function recordingProxy(): Promise<Listening> {
  const seen: Recorded[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    let target: URL;
    try {
      target = new URL(req.url ?? '');
    } catch {
      res.writeHead(400).end('absolute-form expected');
      return;
    }
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    delete headers['proxy-connection'];
    const up = http.request(target, { method: req.method, headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    seen.push({ method: 'CONNECT', url: req.url ?? '', headers: req.headers });
    const [host, port] = (req.url ?? '').split(':');
    const up = net.connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    sockets.add(up).add(client);
    up.on('error', () => client.destroy());
    client.on('error', () => up.destroy());
  });
  server.on('connection', (s) => sockets.add(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    seen,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

export interface FakeRegistryOptions {
  /** `basic` challenges for Basic auth; `bearer` points at `realm`. Undefined: open registry. */
  auth?: { scheme: 'basic'; user: string; password: string } | { scheme: 'bearer'; realm: string; token: string };
  /** Where upload sessions live (another origin, to test where credentials go). Default: itself. */
  uploadOrigin?: () => string;
  /** Answer every manifest PUT with this status and body (hostile error documents). */
  manifestFailure?: { status: number; body: string; contentType?: string };
  /** Answer the /v2/ ping with this status and body. */
  pingFailure?: { status: number; body: string };
  /** The Docker-Content-Digest a manifest PUT answers (a wrong or hostile one). */
  manifestDigest?: string;
}

/**
 * Just enough of the distribution API for a push: ping, blob HEAD (always missing), upload
 * start/PUT, manifest PUT. The upload PUT may land on another origin (see `uploadOrigin`).
 */
export async function fakeRegistry(opts: FakeRegistryOptions = {}): Promise<Listening> {
  const authorised = (req: http.IncomingMessage) => {
    const a = opts.auth;
    if (!a) return true;
    const h = req.headers.authorization ?? '';
    if (a.scheme === 'basic') return h === `Basic ${Buffer.from(`${a.user}:${a.password}`).toString('base64')}`;
    return h === `Bearer ${a.token}`;
  };
  const challenge = () => {
    const a = opts.auth;
    if (!a) return '';
    return a.scheme === 'basic' ? 'Basic realm="fake"' : `Bearer realm="${a.realm}",service="fake"`;
  };
  let self = '';
  const reg = await listen((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (!authorised(req)) {
      res.writeHead(401, { 'www-authenticate': challenge(), 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      return;
    }
    if (req.method === 'GET' && url.pathname === '/v2/') {
      if (opts.pingFailure) return void res.writeHead(opts.pingFailure.status, { 'content-type': 'text/plain' }).end(opts.pingFailure.body);
      return void res.writeHead(200).end('{}');
    }
    if (req.method === 'HEAD' && url.pathname.includes('/blobs/')) return void res.writeHead(404).end();
    if (req.method === 'POST' && url.pathname.endsWith('/blobs/uploads/')) {
      const origin = opts.uploadOrigin?.() ?? self;
      res.writeHead(202, { location: `${origin}/upload/${Math.random().toString(36).slice(2)}`, 'docker-upload-uuid': 'u' }).end();
      return;
    }
    if (req.method === 'PUT' && url.pathname.startsWith('/upload/')) {
      req.resume();
      req.on('end', () => res.writeHead(201).end());
      return;
    }
    if (req.method === 'PUT' && url.pathname.includes('/manifests/')) {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const f = opts.manifestFailure;
        if (f) {
          res.writeHead(f.status, { 'content-type': f.contentType ?? 'application/json' }).end(f.body);
          return;
        }
        const digest = opts.manifestDigest ?? `sha256:${createHash('sha256').update(Buffer.concat(chunks)).digest('hex')}`;
        res.writeHead(201, { 'docker-content-digest': digest }).end();
      });
      return;
    }
    res.writeHead(404).end();
  });
  self = reg.url;
  return reg;
}

/** A second origin that accepts upload PUTs and records their headers. */
export async function uploadSink(host = '127.0.0.2'): Promise<Listening> {
  return listen((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(201).end());
  }, host);
}

/** Every 8+-character piece of `secret`, its base64 (standard and url-safe), and itself. */
export function secretForms(secret: string, piece = 8): string[] {
  const forms = new Set<string>([secret]);
  for (const b of [Buffer.from(secret).toString('base64'), Buffer.from(secret).toString('base64url')]) forms.add(b.replace(/=+$/, ''));
  // Pieces of the raw value; base64 pieces shift with alignment, so only whole base64 forms count.
  if (secret.length > piece) for (let i = 0; i + piece <= secret.length; i++) forms.add(secret.slice(i, i + piece));
  return [...forms];
}

/** Where one of the secrets shows up in the texts (raw, base64, or an 8+-character piece). */
export function findLeaks(secrets: string[], texts: Record<string, string>): string[] {
  const hits: string[] = [];
  for (const s of secrets) {
    for (const form of secretForms(s)) {
      for (const [where, text] of Object.entries(texts)) if (text.includes(form)) hits.push(`${where} holds ${JSON.stringify(form)} (of a secret)`);
    }
  }
  return hits;
}

/** Every regular file under `dir`, by path, as text. */
export function filesUnder(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) out[p] = readFileSync(p, 'latin1');
    }
  };
  walk(dir);
  return out;
}

export interface FakeApiOptions {
  /** Live objects by `kind/namespace/name` (GET answers them; others are 404). */
  live?: Record<string, Record<string, unknown>>;
  /** Answer every PATCH (apply and dry-run) with this status and raw body instead. */
  patchFailure?: { status: number; body: string; contentType?: string };
  /** Answers any path this matches, before the API logic (a proxied service check, say). */
  custom?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean;
}

const KINDS: Record<string, { name: string; namespaced: boolean }> = {
  Namespace: { name: 'namespaces', namespaced: false },
  ConfigMap: { name: 'configmaps', namespaced: true },
  Secret: { name: 'secrets', namespaced: true },
  Service: { name: 'services', namespaced: true },
  ServiceAccount: { name: 'serviceaccounts', namespaced: true },
  PersistentVolumeClaim: { name: 'persistentvolumeclaims', namespaced: true },
  Pod: { name: 'pods', namespaced: true },
};

/**
 * Answers like a Kubernetes API server for core/v1: discovery, namespaces (all exist), GET of
 * the live objects it is given, and server-side apply (the body echoed back as the result). What
 * it says is scripted per test: hostile Status messages, bodies and live objects.
 */
export async function fakeApiServer(opts: FakeApiOptions = {}): Promise<Listening> {
  const plural = new Map(Object.entries(KINDS).map(([kind, k]) => [k.name, kind]));
  return listen((req, res) => {
    if (opts.custom?.(req, res)) return;
    const url = new URL(req.url ?? '/', 'http://x');
    const json = (status: number, doc: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
    if (url.pathname === '/api/v1') {
      return json(200, {
        kind: 'APIResourceList',
        groupVersion: 'v1',
        resources: Object.entries(KINDS).map(([kind, k]) => ({ name: k.name, namespaced: k.namespaced, kind, verbs: ['get', 'list', 'patch', 'delete'] })),
      });
    }
    if (url.pathname.startsWith('/apis/'))
      return json(404, { kind: 'Status', code: 404, reason: 'NotFound', message: 'the server could not find the requested resource' });
    const m = /^\/api\/v1\/(?:namespaces\/([^/]+)\/)?([a-z]+)(?:\/([^/]+))?$/.exec(url.pathname);
    if (!m) return json(404, { kind: 'Status', code: 404, reason: 'NotFound', message: 'not found' });
    const [, ns, resource, name] = m;
    if (resource === 'namespaces' && !ns && name) {
      if (req.method === 'GET') return json(200, { apiVersion: 'v1', kind: 'Namespace', metadata: { name, uid: `ns-${name}` } });
    }
    const kind = plural.get(resource ?? '') ?? '';
    if (req.method === 'GET' && name) {
      const obj = opts.live?.[`${kind}/${ns ?? ''}/${name}`];
      return obj ? json(200, obj) : json(404, { kind: 'Status', code: 404, reason: 'NotFound', message: `${resource} "${name}" not found` });
    }
    if (req.method === 'GET') {
      const items = Object.entries(opts.live ?? {})
        .filter(([k]) => k.startsWith(`${kind}/${ns ?? ''}/`))
        .map(([, v]) => v);
      return json(200, { kind: `${kind}List`, apiVersion: 'v1', metadata: { resourceVersion: '1' }, items });
    }
    if (req.method === 'PATCH') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const f = opts.patchFailure;
        if (f) return void res.writeHead(f.status, { 'content-type': f.contentType ?? 'application/json' }).end(f.body);
        const obj = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          metadata: Record<string, unknown>;
          stringData?: Record<string, string>;
          data?: Record<string, string>;
        };
        // A Secret's stringData is merged into data by the server, as a real one does.
        if (obj.stringData) {
          obj.data = { ...obj.data, ...Object.fromEntries(Object.entries(obj.stringData).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) };
          delete obj.stringData;
        }
        json(200, { ...obj, metadata: { ...obj.metadata, uid: `uid-${name}`, resourceVersion: '2', generation: 1 } });
      });
      return;
    }
    json(405, { kind: 'Status', code: 405, reason: 'MethodNotAllowed', message: 'no' });
  });
}

export { kubeconfigFor } from '../support/kubeconfig.ts';
