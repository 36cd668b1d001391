// An HTTP proxy in front of a real registry that injects failures for chosen requests.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault = 'reset' | { status: number; retryAfter?: string } | undefined;

export interface FaultProxy {
  /** host:port to use as the registry. */
  address: string;
  requests: Array<{ method: string; url: string; fault: string }>;
  close(): Promise<void>;
}

export async function startFaultProxy(upstream: string, decide: (req: http.IncomingMessage, index: number) => Fault): Promise<FaultProxy> {
  const [host, port] = upstream.split(':') as [string, string];
  const agent = new http.Agent({ keepAlive: true });
  const requests: FaultProxy['requests'] = [];
  const server = http.createServer((req, res) => {
    const index = requests.length;
    const fault = decide(req, index);
    requests.push({ method: req.method ?? '', url: req.url ?? '', fault: fault === undefined ? 'none' : fault === 'reset' ? 'reset' : String(fault.status) });
    if (fault === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault) {
      req.resume();
      req.on('end', () => {
        res.writeHead(fault.status, { 'content-type': 'application/json', ...(fault.retryAfter !== undefined ? { 'retry-after': fault.retryAfter } : {}) });
        res.end(JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: 'injected by the test proxy' }] }));
      });
      return;
    }
    const up = http.request({ host, port: Number(port), method: req.method, path: req.url, headers: req.headers, agent }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    address,
    requests,
    close: () =>
      new Promise((r) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
