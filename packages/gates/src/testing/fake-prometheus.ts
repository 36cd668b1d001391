// A stand-in Prometheus for unit tests: a real HTTP server on loopback that answers each request
// with what the test's handler returns (canned API JSON), and records what it was asked.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeAnswer {
  status?: number;
  body: unknown;
  headers?: Record<string, string>;
  /** Milliseconds to hold the answer (timeouts). */
  delayMs?: number;
}

export interface FakeRequest {
  url: URL;
  headers: http.IncomingHttpHeaders;
}

export interface FakePrometheus {
  url: string;
  requests: FakeRequest[];
  close(): Promise<void>;
}

export async function fakePrometheus(answer: (req: FakeRequest, n: number) => FakeAnswer): Promise<FakePrometheus> {
  const requests: FakeRequest[] = [];
  const server = http.createServer((req, res) => {
    const r = { url: new URL(req.url ?? '/', 'http://127.0.0.1'), headers: req.headers };
    requests.push(r);
    const a = answer(r, requests.length);
    const send = () => {
      const text = typeof a.body === 'string' ? a.body : JSON.stringify(a.body);
      res.writeHead(a.status ?? 200, { 'content-type': 'application/json', connection: 'close', ...a.headers });
      res.end(text);
    };
    if (a.delayMs) setTimeout(send, a.delayMs).unref();
    else send();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** `{status: success}` with a vector of `[labels, "value"]`. */
export function vector(...series: [Record<string, string>, string][]): unknown {
  return { status: 'success', data: { resultType: 'vector', result: series.map(([metric, v]) => ({ metric, value: [1_700_000_000, v] })) } };
}

/** A port nothing listens on: bound, then closed. */
export async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise((resolve) => s.close(resolve));
  return port;
}
