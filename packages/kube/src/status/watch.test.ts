// KubeClient.watch / logs against a loopback server scripted per test: the stream framing and the
// ways a stream ends. The engine's use of them is in engine/verify.test.ts.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { KubeClient, type Resource, type WatchEvent } from '../client.ts';
import { ApiError } from '../errors.ts';

let server: http.Server | undefined;
let client: KubeClient | undefined;
afterEach(async () => {
  client?.close();
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
});

async function serve(handler: http.RequestListener): Promise<KubeClient> {
  server = http.createServer(handler);
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
  client = new KubeClient(
    { server: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`), rejectUnauthorized: true, headers: {} },
    { sleep: async () => {} },
  );
  return client;
}

const pods: Resource = { name: 'pods', namespaced: true, kind: 'Pod', apiVersion: 'v1', verbs: [] };
const ev = (type: string, name: string, rv: string) =>
  JSON.stringify({ type, object: { kind: 'Pod', apiVersion: 'v1', metadata: { name, resourceVersion: rv } } });

describe('KubeClient.watch', () => {
  test('events split across chunks and several in one chunk, then a normal end', async () => {
    let query = '';
    const c = await serve((req, res) => {
      query = req.url ?? '';
      res.writeHead(200, { 'content-type': 'application/json' });
      const a = ev('ADDED', 'a', '5');
      res.write(a.slice(0, 10));
      setTimeout(() => {
        res.write(`${a.slice(10)}\n${ev('MODIFIED', 'a', '6')}\n${ev('DELETED', 'a', '7')}`);
        setTimeout(() => res.end('\n'), 10);
      }, 10);
    });
    const got: WatchEvent[] = [];
    await c.watch(pods, 'shop', { resourceVersion: '4', allowWatchBookmarks: 'true' }, (e) => got.push(e));
    expect(got.map((e) => `${e.type} ${(e.object as { metadata: { resourceVersion: string } }).metadata.resourceVersion}`)).toEqual([
      'ADDED 5',
      'MODIFIED 6',
      'DELETED 7',
    ]);
    expect(query).toMatch(/^\/api\/v1\/namespaces\/shop\/pods\?watch=true&resourceVersion=4&allowWatchBookmarks=true$/);
  });

  test('a stream cut short rejects with ECONNRESET', async () => {
    const c = await serve((req, res) => {
      res.writeHead(200);
      res.write(`${ev('ADDED', 'a', '5')}\n`);
      setTimeout(() => req.socket.destroy(), 20);
    });
    const got: WatchEvent[] = [];
    await expect(c.watch(pods, 'shop', {}, (e) => got.push(e))).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(got).toHaveLength(1);
  });

  test('a silent stream is given up after idleMs', async () => {
    const c = await serve((_req, res) => {
      res.writeHead(200);
      res.write('\n');
    });
    const t0 = Date.now();
    await expect(c.watch(pods, 'shop', {}, () => {}, undefined, 150)).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
  });

  test('a refused watch is an ApiError with the Status', async () => {
    const c = await serve((_req, res) => {
      res
        .writeHead(403, { 'content-type': 'application/json' })
        .end(JSON.stringify({ kind: 'Status', code: 403, reason: 'Forbidden', message: 'pods is forbidden' }));
    });
    const err = await c.watch(pods, 'shop', {}, () => {}).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 403, reason: 'Forbidden', message: 'pods is forbidden' });
  });

  test('a line that is not JSON rejects', async () => {
    const c = await serve((_req, res) => {
      res.writeHead(200);
      res.write('<html>proxy error</html>\n');
    });
    await expect(c.watch(pods, 'shop', {}, () => {})).rejects.toMatchObject({ code: 'EPROTO' });
  });

  test('an abort ends the watch quietly', async () => {
    const c = await serve((_req, res) => {
      res.writeHead(200);
      res.write(`${ev('ADDED', 'a', '5')}\n`);
    });
    const ac = new AbortController();
    const got: WatchEvent[] = [];
    const p = c.watch(
      pods,
      'shop',
      {},
      (e) => {
        got.push(e);
        ac.abort();
      },
      ac.signal,
    );
    await expect(p).resolves.toBeUndefined();
    expect(got).toHaveLength(1);
  });
});

describe('KubeClient.logs', () => {
  test('the body is text as sent (a JSON log line stays a line), with the query kubectl sends', async () => {
    let url = '';
    const c = await serve((req, res) => {
      url = req.url ?? '';
      res.writeHead(200, { 'content-type': 'text/plain' }).end('{"level":"error","msg":"boom"}\n');
    });
    expect(await c.logs('shop', 'web-x', { container: 'app', previous: true, tailLines: 40 })).toBe('{"level":"error","msg":"boom"}\n');
    expect(url).toBe('/api/v1/namespaces/shop/pods/web-x/log?container=app&previous=true&tailLines=40&limitBytes=262144');
  });

  test('400 for a missing previous instance is an ApiError the caller can tell apart', async () => {
    const c = await serve((_req, res) => {
      res
        .writeHead(400, { 'content-type': 'application/json' })
        .end(JSON.stringify({ kind: 'Status', code: 400, reason: 'BadRequest', message: 'previous terminated container "app" in pod "web-x" not found' }));
    });
    await expect(c.logs('shop', 'web-x', { container: 'app', previous: true, tailLines: 5 })).rejects.toMatchObject({ status: 400 });
  });

  test('a 503 is retried', async () => {
    let n = 0;
    const c = await serve((_req, res) => {
      n++;
      if (n === 1) return void res.writeHead(503).end();
      res.writeHead(200).end('ok\n');
    });
    expect(await c.logs('shop', 'p', { container: 'c', tailLines: 1 })).toBe('ok\n');
    expect(n).toBe(2);
  });
});
