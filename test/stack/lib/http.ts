// Minimal HTTP(S) client for health checks (loopback and unix sockets only).
import http from 'node:http';
import https from 'node:https';

export interface GetOptions {
  socketPath?: string;
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  insecure?: boolean;
  headers?: Record<string, string>;
  method?: string;
  timeoutMs?: number;
}

export interface GetResult {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

export function httpGet(url: string, opts: GetOptions = {}): Promise<GetResult> {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      u,
      {
        method: opts.method ?? 'GET',
        socketPath: opts.socketPath,
        ca: opts.ca,
        cert: opts.cert,
        key: opts.key,
        rejectUnauthorized: !opts.insecure,
        headers: opts.headers,
        timeout: opts.timeoutMs ?? 5000,
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end();
  });
}

export async function isStatus(url: string, want: number | number[], opts: GetOptions = {}): Promise<boolean> {
  const r = await httpGet(url, opts);
  return Array.isArray(want) ? want.includes(r.status) : r.status === want;
}
