import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CaFileError, RegistryError } from './errors.ts';
import { withRetry } from './retrying-transport.ts';
import { createNodeTransport, readBody } from './transport.ts';

// Local loopback servers that misbehave at the socket level, to check the transport's own
// timeouts and retries (registry behaviour is tested against the real registry).
const servers: Array<net.Server> = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function listen(server: net.Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

describe('node transport', () => {
  it('gives up on a server that accepts but never answers, naming the endpoint', async () => {
    const sockets: net.Socket[] = [];
    const addr = await listen(
      net.createServer((s) => {
        sockets.push(s);
      }),
    );
    const delays: number[] = [];
    const transport = withRetry(createNodeTransport({ idleTimeoutMs: 100 }), {
      sleep: async (ms) => {
        delays.push(ms);
      },
      backoff: { retries: 2 },
    });
    const err = await transport({ method: 'GET', url: `http://${addr}/v2/?secret=state` }).catch((e: unknown) => e);
    for (const s of sockets) s.destroy();
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as Error).message).toMatch(new RegExp(`^GET http://${addr}/v2/ failed after 3 attempts: .*no data for 100 ms`));
    expect((err as Error).message).not.toContain('secret=state');
    expect(delays).toHaveLength(2);
  });

  it('retries a connection reset and then succeeds', async () => {
    let n = 0;
    const addr = await listen(
      http.createServer((req, res) => {
        n++;
        if (n === 1) {
          req.socket.destroy();
          return;
        }
        res.end('ok');
      }),
    );
    const retries: string[] = [];
    const transport = withRetry(createNodeTransport(), { sleep: async () => {}, onRetry: (i) => retries.push(i.reason) });
    const res = await transport({ method: 'GET', url: `http://${addr}/x` });
    expect(res.status).toBe(200);
    expect((await readBody(res)).toString()).toBe('ok');
    expect(retries).toEqual(['ECONNRESET']);
  });

  it('does not retry a one-shot stream body', async () => {
    const addr = await listen(
      http.createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          res.writeHead(503);
          res.end();
        });
      }),
    );
    const { Readable } = await import('node:stream');
    const transport = withRetry(createNodeTransport(), {
      sleep: async () => {
        throw new Error('must not sleep');
      },
    });
    const res = await transport({ method: 'PUT', url: `http://${addr}/x`, body: Readable.from([Buffer.from('abc')]) });
    expect(res.status).toBe(503);
  });

  it('names an unreadable CA file', () => {
    expect(() => createNodeTransport({ caFile: '/nonexistent/ca.pem' })).toThrow(/cannot read CA file \/nonexistent\/ca.pem/);
  });

  it('raises a typed error for an unreadable CA file, naming no input', () => {
    const err = (() => {
      try {
        createNodeTransport({ caFile: '/nonexistent/ca.pem' });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(CaFileError);
    expect(err).toMatchObject({ path: '/nonexistent/ca.pem' });
    expect(`${(err as CaFileError).message} ${(err as CaFileError).hint}`).not.toMatch(/ca-file/);
  });

  it('honours Retry-After under the one cap, and gives up after the retries with the last status', async () => {
    const answers: Array<[number, Record<string, string>]> = [
      [429, { 'retry-after': '2' }],
      [503, { 'retry-after': '86400' }],
      [502, {}],
    ];
    let n = 0;
    const addr = await listen(
      http.createServer((_req, res) => {
        const [status, headers] = answers[n++] ?? [500, {}];
        res.writeHead(status, headers).end();
      }),
    );
    const delays: number[] = [];
    const retried: string[] = [];
    const transport = withRetry(createNodeTransport(), {
      sleep: async (ms) => void delays.push(ms),
      backoff: { retries: 3, random: () => 0.5, baseMs: 100 },
      onRetry: (i) => retried.push(`${i.attempt} ${i.reason}`),
    });
    const err = await transport({ method: 'GET', url: `http://${addr}/v2/x` }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as Error).message).toBe(`GET http://${addr}/v2/x failed after 4 attempts: HTTP 500`);
    expect(delays).toEqual([2000, 30_000, 200]);
    expect(retried).toEqual(['1 HTTP 429', '2 HTTP 503', '3 HTTP 502']);
    expect(n).toBe(4);
  });

  it('does not retry what a retry cannot fix (501, 404)', async () => {
    for (const status of [501, 404]) {
      let n = 0;
      const addr = await listen(
        http.createServer((_req, res) => {
          n++;
          res.writeHead(status).end();
        }),
      );
      const transport = withRetry(createNodeTransport(), {
        sleep: async () => {
          throw new Error('must not sleep');
        },
      });
      const res = await transport({ method: 'GET', url: `http://${addr}/v2/` });
      expect(res.status).toBe(status);
      expect(n).toBe(1);
    }
  });
});
