// The HTTP behaviour of the client (retries, Retry-After, Status errors, unreachable servers)
// against a loopback server scripted per test; the API semantics are tested on the stack.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeClient } from './client.ts';
import { ApiError, UnreachableError } from './errors.ts';

let server: http.Server | undefined;
afterEach(() => server?.close());

async function serve(handler: http.RequestListener): Promise<URL> {
  server = http.createServer(handler);
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
}

const sleeps: number[] = [];
const client = (url: URL) =>
  new KubeClient(
    { server: url, rejectUnauthorized: true, headers: { Authorization: 'Bearer t' } },
    { sleep: async (ms) => void sleeps.push(ms), backoffMs: 10 },
  );

describe('KubeClient', () => {
  it('retries 503 and 429, honouring Retry-After, then succeeds', async () => {
    let n = 0;
    const url = await serve((req, res) => {
      n++;
      if (n === 1) return void res.writeHead(503).end();
      if (n === 2) return void res.writeHead(429, { 'retry-after': '2' }).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ auth: req.headers.authorization }));
    });
    sleeps.length = 0;
    const r = await client(url).request<{ auth: string }>('GET', '/api/v1');
    expect(r.body.auth).toBe('Bearer t');
    expect(n).toBe(3);
    expect(sleeps[1]).toBe(2000);
  });

  it('turns a Status into an ApiError with its reason', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(422, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', reason: 'Invalid', message: 'ConfigMap "x" is invalid: data: bad', code: 422 }));
    });
    const err = await client(url)
      .request('PATCH', '/api/v1/namespaces/a/configmaps/x')
      .catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 422, reason: 'Invalid', message: 'ConfigMap "x" is invalid: data: bad' });
  });

  it('names the server when nothing listens', async () => {
    const url = await serve(() => {});
    await new Promise<void>((r) => server?.close(() => r()));
    const err = await client(url)
      .request('GET', '/api')
      .catch((e) => e);
    expect(err).toBeInstanceOf(UnreachableError);
    expect(err.message).toBe(`cannot reach the Kubernetes API server at ${url.origin}: connection refused (ECONNREFUSED)`);
  });

  it('builds resource paths', () => {
    const r = { name: 'deployments', namespaced: true, kind: 'Deployment', apiVersion: 'apps/v1', verbs: [] };
    expect(KubeClient.pathOf(r, 'shop', 'web')).toBe('/apis/apps/v1/namespaces/shop/deployments/web');
    expect(KubeClient.pathOf({ ...r, name: 'namespaces', namespaced: false, apiVersion: 'v1' }, 'x')).toBe('/api/v1/namespaces');
  });
});
