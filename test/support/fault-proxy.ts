// An HTTP proxy in front of a real registry that injects failures for chosen requests.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * What the proxy does to one request instead of (or while) forwarding it:
 * - `'reset'`: close the connection before anything reaches the registry.
 * - `{ status }`: answer that status (with a distribution error document) instead of the registry;
 *   `retryAfter` is sent as is (seconds or an HTTP date), `code` names the error (default UNAVAILABLE).
 * - `reset-body`: forward, then cut both connections after `afterBytes` of the request body (at most
 *   half of it), so the registry sees a body broken off mid-blob. A request without a body is
 *   forwarded whole and its connection cut when the registry answers: the registry acted, the client
 *   never hears of it.
 * - `lose-answer`: forward the whole request; when the registry answers, close the client's
 *   connection instead: the registry acted, the client never hears of it.
 * - `truncate`: forward; the registry's answer reaches the client cut short (half its body, or
 *   none of a body whose length the proxy then overstates).
 * - `stall`: hold the request `ms` without an answer (after forwarding it when `forward`), then
 *   close the connection; a client with a shorter timeout gives up first.
 */
export type Fault =
  | 'reset'
  | { status: number; retryAfter?: string; code?: string }
  | { kind: 'reset-body'; afterBytes: number }
  | { kind: 'lose-answer' }
  | { kind: 'truncate' }
  | { kind: 'stall'; ms: number; forward?: boolean }
  | undefined;

export interface ProxiedRequest {
  method: string;
  url: string;
  /** `none`, `reset`, the injected status, or the fault's kind. */
  fault: string;
  /** The registry's status, when the request reached it and it answered. */
  upstreamStatus?: number;
}

export interface FaultProxy {
  /** host:port to use as the registry. */
  address: string;
  requests: ProxiedRequest[];
  close(): Promise<void>;
}

export interface FaultProxyOptions {
  /** Wait this long before handling each request (to stretch a push over time). */
  delayMs?: number;
  /** Pass request bodies on at this rate, per request (a slow uplink, so a push takes a while). */
  bytesPerSecond?: number;
}

function faultName(fault: Fault): string {
  if (fault === undefined) return 'none';
  if (fault === 'reset') return 'reset';
  if ('status' in fault) return String(fault.status);
  return fault.kind;
}

export async function startFaultProxy(
  upstream: string,
  decide: (req: http.IncomingMessage, index: number) => Fault,
  options: FaultProxyOptions = {},
): Promise<FaultProxy> {
  const [host, port] = upstream.split(':') as [string, string];
  const agent = new http.Agent({ keepAlive: true });
  const requests: ProxiedRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  /** Send the request on to the registry; `onResponse` gets its answer. */
  const forward = (req: http.IncomingMessage, record: ProxiedRequest, onResponse: (ur: http.IncomingMessage) => void): http.ClientRequest => {
    const up = http.request({ host, port: Number(port), method: req.method, path: req.url, headers: req.headers, agent }, (ur) => {
      record.upstreamStatus = ur.statusCode;
      onResponse(ur);
    });
    up.on('error', () => req.socket.destroy());
    return up;
  };

  /** The request body on to the registry, at the configured rate. */
  const send = (req: http.IncomingMessage, up: http.ClientRequest) => {
    const rate = options.bytesPerSecond;
    if (!rate) {
      req.pipe(up);
      return;
    }
    req.on('data', (chunk: Buffer) => {
      up.write(chunk);
      req.pause();
      later((chunk.length / rate) * 1000, () => req.resume());
    });
    req.on('end', () => up.end());
  };

  const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const index = requests.length;
    const fault = decide(req, index);
    const record: ProxiedRequest = { method: req.method ?? '', url: req.url ?? '', fault: faultName(fault) };
    requests.push(record);
    if (fault === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault !== undefined && 'status' in fault) {
      req.resume();
      req.on('end', () => {
        res.writeHead(fault.status, { 'content-type': 'application/json', ...(fault.retryAfter !== undefined ? { 'retry-after': fault.retryAfter } : {}) });
        res.end(JSON.stringify({ errors: [{ code: fault.code ?? 'UNAVAILABLE', message: 'injected by the test proxy' }] }));
      });
      return;
    }
    if (fault?.kind === 'stall') {
      const close = () => later(fault.ms, () => req.socket.destroy());
      if (!fault.forward) {
        req.resume();
        close();
        return;
      }
      const up = forward(req, record, (ur) => {
        ur.resume();
        close();
      });
      req.pipe(up);
      return;
    }
    if (fault?.kind === 'reset-body' || fault?.kind === 'lose-answer') {
      const length = Number(req.headers['content-length'] ?? '0');
      const up = forward(req, record, (ur) => {
        // The registry answered (a whole request reached it); the client hears nothing.
        ur.resume();
        req.socket.destroy();
      });
      if (fault.kind === 'lose-answer' || !(length > 0)) {
        send(req, up);
        return;
      }
      const cut = Math.max(1, Math.min(fault.afterBytes, Math.floor(length / 2)));
      let sent = 0;
      req.on('data', (chunk: Buffer) => {
        if (sent >= cut) return;
        const part = chunk.subarray(0, cut - sent);
        sent += part.length;
        up.write(part);
        if (sent >= cut) {
          // Let the bytes reach the registry before both connections drop.
          later(50, () => {
            up.destroy();
            req.socket.destroy();
          });
        }
      });
      return;
    }
    const truncate = fault?.kind === 'truncate';
    const up = forward(req, record, (ur) => {
      if (!truncate) {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
        return;
      }
      const length = Number(ur.headers['content-length'] ?? '0');
      const headers = { ...ur.headers };
      if (!(length > 0)) headers['content-length'] = '64';
      res.writeHead(ur.statusCode ?? 502, headers);
      // The status line and headers go out whole; only the body is cut.
      res.flushHeaders();
      const keep = length > 0 ? Math.floor(length / 2) : 0;
      let sent = 0;
      ur.on('data', (chunk: Buffer) => {
        if (sent < keep) res.write(chunk.subarray(0, keep - sent));
        sent += chunk.length;
      });
      ur.on('end', () => {
        // Flush what was written, then drop the connection before the promised length.
        res.socket?.end(() => res.socket?.destroy());
        later(50, () => req.socket.destroy());
      });
    });
    send(req, up);
  };

  const server = http.createServer((req, res) => {
    if (options.delayMs) later(options.delayMs, () => handle(req, res));
    else handle(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    address,
    requests,
    close: () =>
      new Promise((r) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        agent.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
