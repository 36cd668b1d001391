import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { secrets } from '../../packages/kit/src/mask.ts';
import { createNodeTransport, ociLayoutSource, pushImage, RegistryError } from '../../packages/oci/src/index.ts';
import { makeOciLayout } from '../support/oci/layout.ts';
import { injectedCommands } from '../support/runner-commands.ts';
import { fakeRegistry, findLeaks, type Listening, listen, recordingProxy, uploadSink } from './support.ts';

// Where registry credentials go (their own origin and the token realm only), what of a hostile
// registry's answers reaches an error, and the proxy variables. Real sockets on loopback; the
// second origin is 127.0.0.2, which Linux routes to lo like 127.0.0.1.
let dir: string;
let layout: string;
const open: Listening[] = [];
const track = (l: Listening) => {
  open.push(l);
  return l;
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'shipline-sec-oci-'));
  layout = join(dir, 'layout');
  await makeOciLayout(layout, [{ layers: [512] }]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  await Promise.all(open.splice(0).map((l) => l.close()));
});

const creds = (user: string, password: string) => async () => ({ kind: 'basic' as const, username: user, password });
const push = async (registry: Listening, extra: Partial<Parameters<typeof pushImage>[0]> = {}) =>
  pushImage({
    source: await ociLayoutSource(layout),
    destinations: [`${registry.host}:${registry.port}/team/app:1`],
    insecure: [`${registry.host}:${registry.port}`],
    backoff: { retries: 0 },
    ...extra,
  });

describe('registry credentials stay with their origin', () => {
  it('sends Basic credentials to the registry but not to an upload Location on another host', async () => {
    const sink = track(await uploadSink('127.0.0.2'));
    const reg = track(await fakeRegistry({ auth: { scheme: 'basic', user: 'ci', password: 'basic-Pa55word-xyz' }, uploadOrigin: () => sink.url }));
    await push(reg, { credentials: creds('ci', 'basic-Pa55word-xyz') });
    expect(sink.seen.length).toBeGreaterThan(0);
    for (const r of sink.seen) expect(r.headers.authorization, `${r.method} ${r.url}`).toBeUndefined();
    expect(reg.seen.some((r) => r.headers.authorization?.startsWith('Basic '))).toBe(true);
  });

  it('sends Basic to the token realm, the Bearer token to the registry, and neither to another upload host', async () => {
    const token = 'bearer-T0ken-abcdefghijkl';
    const realm = track(
      await listen((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, expires_in: 300 }));
      }),
    );
    const sink = track(await uploadSink('127.0.0.2'));
    const reg = track(await fakeRegistry({ auth: { scheme: 'bearer', realm: `${realm.url}/token`, token }, uploadOrigin: () => sink.url }));
    await push(reg, { credentials: creds('ci', 'realm-Pa55word-xyz') });
    expect(realm.seen[0]?.headers.authorization).toBe(`Basic ${Buffer.from('ci:realm-Pa55word-xyz').toString('base64')}`);
    expect(reg.seen.filter((r) => r.headers.authorization).every((r) => r.headers.authorization === `Bearer ${token}`)).toBe(true);
    for (const r of sink.seen) expect(r.headers.authorization).toBeUndefined();
  });
});

describe('hostile registry answers', () => {
  it('masks a reflected secret before cutting the error body, and keeps it inert', async () => {
    const secret = 'reflected-S3cret-0123456789abcdef';
    secrets.add(secret);
    // 190 characters of padding put the cut inside the secret: cut first, and most of it would show.
    const body = `${'x'.repeat(190)}${secret}\n::set-output name=PWNED::y\n##[set-output name=PWNED;]y\r::stop-commands::tok`;
    const reg = track(await fakeRegistry({ manifestFailure: { status: 400, body, contentType: 'text/plain' } }));
    const err = (await push(reg).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(RegistryError);
    expect(findLeaks([secret], { message: err.message })).toEqual([]);
    expect(injectedCommands(`${err.message}\n`, { markers: ['PWNED'], hostileTokens: ['tok'] })).toEqual([]);
  });

  it('masks registry error documents ({errors:[…]}) too', async () => {
    const body = JSON.stringify({ errors: [{ code: 'DENIED', message: 'line one\n::add-mask::PWNED\n##[error]PWNED' }] });
    const reg = track(await fakeRegistry({ manifestFailure: { status: 400, body } }));
    const err = (await push(reg).catch((e: unknown) => e)) as Error;
    expect(err.message).toContain('DENIED');
    expect(injectedCommands(`${err.message}\n`, { markers: ['PWNED'] })).toEqual([]);
  });

  it('names the registry and the status when the token service answers HTML', async () => {
    const realm = track(await listen((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Sign in</body></html>')));
    const reg = track(await fakeRegistry({ auth: { scheme: 'bearer', realm: `${realm.url}/token`, token: 'never' } }));
    const err = (await push(reg, { credentials: creds('ci', 'pw-123456789') }).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.message).toContain(`registry ${reg.host}:${reg.port}`);
    expect(err.message).toContain('HTTP 200');
    expect(err.message).toContain('text/html');
    expect(err.message).not.toMatch(/JSON\.parse|Unexpected token/);
  });
});

describe('proxies', () => {
  it('goes through HTTP_PROXY (absolute-form), sending the proxy URL’s credentials to the proxy only', async () => {
    const proxy = track(await recordingProxy());
    const reg = track(await fakeRegistry());
    const proxyUrl = `http://pxuser:px-Pa55word@127.0.0.1:${proxy.port}`;
    await push(reg, { proxyEnv: { HTTP_PROXY: proxyUrl } });
    expect(proxy.seen.length).toBeGreaterThan(0);
    expect(proxy.seen.every((r) => r.url.startsWith(`${reg.url}/`))).toBe(true);
    expect(proxy.seen[0]?.headers['proxy-authorization']).toBe(`Basic ${Buffer.from('pxuser:px-Pa55word').toString('base64')}`);
    for (const r of reg.seen) expect(r.headers['proxy-authorization']).toBeUndefined();
    expect(reg.seen.length).toBe(proxy.seen.length);
  });

  it('tunnels https through HTTPS_PROXY with CONNECT and skips hosts in NO_PROXY', async () => {
    const proxy = track(await recordingProxy());
    // No TLS server is needed to see the tunnel: the CONNECT line is recorded before any handshake.
    const transport = createNodeTransport({ proxyEnv: { HTTPS_PROXY: proxy.url }, connectTimeoutMs: 2000 });
    await transport({ method: 'GET', url: 'https://127.0.0.1:1/v2/' }).catch(() => undefined);
    expect(proxy.seen.map((r) => `${r.method} ${r.url}`)).toEqual(['CONNECT 127.0.0.1:1']);
    const reg = track(await fakeRegistry());
    await push(reg, { proxyEnv: { HTTP_PROXY: proxy.url, NO_PROXY: `localhost,${reg.host}` } });
    expect(proxy.seen).toHaveLength(1);
    expect(reg.seen.length).toBeGreaterThan(0);
  });
});
