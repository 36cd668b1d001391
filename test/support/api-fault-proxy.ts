// A plain-HTTP front for the stack's API server (TLS and the admin's client certificate on the far
// side) that injects the faults a real control plane's clients meet: requests answered 429 or 503
// (a Status body, Retry-After), watches cut mid-stream (a load balancer's idle cut, a restart) and
// watches ended with a 410 Expired event (the client must re-list). What to inject is the caller's
// policy; the proxy counts what it did, and writes a kubeconfig that points at itself.
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { connectionOf, openKubeconfig } from '../../packages/kube/src/access.ts';

export interface ApiFaultPolicy {
  /** For a request (not a watch's stream): answer this status instead of forwarding, or undefined. */
  reject(url: URL, n: number): 429 | 503 | undefined;
  /** For the n-th watch: when to end it (ms) and how — cut the connection or send 410 Expired. */
  watchEnd(n: number): { afterMs: number; how: 'cut' | 'expire' };
}

export interface ApiFaultCounts {
  requests: number;
  throttled: number;
  unavailable: number;
  cutWatches: number;
  expired: number;
}

export interface ApiFaultProxy {
  url: string;
  counts: ApiFaultCounts;
  /** Writes a kubeconfig for the proxy (no credentials: the proxy holds them) and returns its path. */
  kubeconfig(path: string): string;
  close(): Promise<void>;
}

const status = (code: number) =>
  JSON.stringify({
    kind: 'Status',
    apiVersion: 'v1',
    status: 'Failure',
    code,
    reason: code === 429 ? 'TooManyRequests' : 'ServiceUnavailable',
    message: 'injected by the test proxy',
  });

export async function startApiFaultProxy(kubeconfigPath: string, policy: ApiFaultPolicy): Promise<ApiFaultProxy> {
  const access = openKubeconfig({ path: kubeconfigPath, env: {} });
  const conn = await connectionOf(access);
  const agent = new https.Agent({ ca: conn.ca, cert: conn.cert, key: conn.key, keepAlive: true });
  const counts: ApiFaultCounts = { requests: 0, throttled: 0, unavailable: 0, cutWatches: 0, expired: 0 };
  let watches = 0;
  const server = http.createServer((req, res) => {
    const n = ++counts.requests;
    const url = new URL(req.url ?? '/', 'http://proxy');
    const isWatch = url.searchParams.get('watch') === 'true';
    const code = policy.reject(url, n);
    if (code) {
      if (code === 429) counts.throttled++;
      else counts.unavailable++;
      req.resume();
      res.writeHead(code, { 'content-type': 'application/json', 'retry-after': '1' });
      res.end(status(code));
      return;
    }
    const up = https.request(
      { host: conn.server.hostname, port: conn.server.port, method: req.method, path: req.url, headers: { ...req.headers, host: conn.server.host }, agent },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
        if (!isWatch) return;
        const end = policy.watchEnd(++watches);
        const timer = setTimeout(() => {
          if (end.how === 'expire') {
            counts.expired++;
            res.end(
              `${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 410, reason: 'Expired', message: 'too old resource version' } })}\n`,
            );
          } else {
            counts.cutWatches++;
            res.destroy();
          }
          up.destroy();
        }, end.afterMs);
        res.on('close', () => clearTimeout(timer));
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    counts,
    kubeconfig: (path) => {
      writeFileSync(
        path,
        `apiVersion: v1\nkind: Config\nclusters:\n- name: proxy\n  cluster: {server: "${url}"}\ncontexts:\n- name: proxy\n  context: {cluster: proxy}\ncurrent-context: proxy\n`,
      );
      return path;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
        access.close();
      }),
  };
}
