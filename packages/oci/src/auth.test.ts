import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RegistryAuth, repositoryScope } from './auth.ts';
import { RegistryError } from './errors.ts';
import { createNodeTransport } from './transport.ts';

// A token endpoint on loopback: the caching and expiry logic is what is under test here; the
// full flow against the real registry in token mode is in auth-token.stack.test.ts.
const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function tokenServer(): Promise<{ realm: string; requests: URL[] }> {
  const requests: URL[] = [];
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    requests.push(u);
    if (req.headers.authorization !== `Basic ${Buffer.from('u:p').toString('base64')}`) {
      res.writeHead(401);
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token: `tok-${requests.length}`, expires_in: 120 }));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { realm: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`, requests };
}

describe('RegistryAuth', () => {
  it('caches bearer tokens per scope set until shortly before expiry, fetching once for concurrent callers', async () => {
    const ts = await tokenServer();
    let now = 1_000_000;
    const secrets: string[] = [];
    const auth = new RegistryAuth({
      transport: createNodeTransport(),
      credentials: async () => ({ kind: 'basic', username: 'u', password: 'p' }),
      onSecret: (s) => secrets.push(s),
      now: () => now,
    });
    auth.setChallenge('reg:5000', `Bearer realm="${ts.realm}",service="reg"`);
    const push = [repositoryScope('team/app', ['pull', 'push'])];
    const [a, b] = await Promise.all([auth.header('reg:5000', push), auth.header('reg:5000', push)]);
    expect(a).toBe('Bearer tok-1');
    expect(b).toBe('Bearer tok-1');
    expect(ts.requests).toHaveLength(1);
    expect(ts.requests[0]!.searchParams.get('service')).toBe('reg');
    expect(ts.requests[0]!.searchParams.getAll('scope')).toEqual(['repository:team/app:pull,push']);
    expect(secrets).toEqual(['p', 'tok-1']);

    // Scope order does not matter; a different scope set is a different token.
    const mount = [repositoryScope('team/app', ['pull', 'push']), repositoryScope('team/base', ['pull'])];
    expect(await auth.header('reg:5000', mount)).toBe('Bearer tok-2');
    expect(await auth.header('reg:5000', [...mount].reverse())).toBe('Bearer tok-2');

    now += 105_000;
    expect(await auth.header('reg:5000', push)).toBe('Bearer tok-1');
    now += 10_000; // within 10 s of the 120 s lifetime: refresh
    expect(await auth.header('reg:5000', push)).toBe('Bearer tok-3');
    auth.invalidate('reg:5000', push);
    expect(await auth.header('reg:5000', push)).toBe('Bearer tok-4');
  });

  it('needs no header when the registry sent no challenge, basic when it asked for basic', async () => {
    const auth = new RegistryAuth({ transport: createNodeTransport(), credentials: async () => ({ kind: 'basic', username: 'u', password: 'p' }) });
    auth.setChallenge('open:5000', undefined);
    expect(await auth.header('open:5000', [])).toBeUndefined();
    auth.setChallenge('basic:5000', 'Basic realm="x"');
    expect(await auth.header('basic:5000', [])).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
  });

  it('fails clearly without credentials for basic, and with the wrong ones for bearer', async () => {
    const none = new RegistryAuth({ transport: createNodeTransport(), credentials: async () => undefined });
    none.setChallenge('basic:5000', 'Basic realm="x"');
    await expect(none.header('basic:5000', [])).rejects.toThrow(/requires a username and password/);
    const ts = await tokenServer();
    const wrong = new RegistryAuth({ transport: createNodeTransport(), credentials: async () => ({ kind: 'basic', username: 'u', password: 'bad' }) });
    wrong.setChallenge('reg:5000', `Bearer realm="${ts.realm}"`);
    const err = await wrong.header('reg:5000', ['repository:a:pull']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as RegistryError).status).toBe(401);
    expect((err as Error).message).not.toContain('bad');
  });

  it('rejects challenges it cannot answer', () => {
    const auth = new RegistryAuth({ transport: createNodeTransport(), credentials: async () => undefined });
    expect(() => auth.setChallenge('x', 'Negotiate abc')).toThrow(/unsupported authentication/);
  });
});
