import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { request } from '../../actions/smoke-test/src/http.ts';
import { schema } from '../../actions/smoke-test/src/inputs.ts';
import { run } from '../../actions/smoke-test/src/run.ts';
import { MemoryHost, parseInputs } from '../../packages/kit/src/index.ts';
import { injectedCommands } from '../support/runner-commands.ts';
import { makeCa } from '../support/servers.ts';
import { findLeaks, listen, recordingProxy } from './support.ts';

const deps = (env: Record<string, string> = {}) => {
  const host = new MemoryHost();
  return { host, deps: { request, now: () => performance.now(), sleep: async () => {}, log: host, mask: (s: string) => host.mask(s), env } };
};
const inputs = (raw: Record<string, string>) => parseInputs(schema, (n) => ({ interval: '100ms', deadline: '5s', timeout: '2s', ...raw })[n]);

describe('smoke-test keeps credentials with their origin', () => {
  it('drops every secret-classed header on a redirect to another origin, keeps them on the same origin', async () => {
    const other = await listen((_req, res) => res.writeHead(200).end('ok'), '127.0.0.2');
    const first = await listen((req, res) => {
      if (req.url === '/same') return void res.writeHead(302, { location: '/hop' }).end();
      if (req.url === '/hop') return void res.writeHead(302, { location: `${other.url}/landed` }).end();
      res.writeHead(404).end();
    });
    try {
      const headers = [
        'Authorization: Bearer authz-S3cret',
        'Cookie: sid=cookie-S3cret',
        'Proxy-Authorization: Basic cHJveHk=',
        'X-Api-Key: apikey-S3cret',
        'X-Auth-Token: authtoken-S3cret',
        'X-Session-Id: session-S3cret',
        'X-Request-Id: req-42',
      ].join('\n');
      const { deps: d } = deps();
      const r = await run(inputs({ url: `${first.url}/same`, headers }), d);
      expect(r.passed, JSON.stringify(r.results)).toBe(true);
      // Same origin hop kept them all.
      expect(first.seen[1]?.headers['x-api-key']).toBe('apikey-S3cret');
      const landed = other.seen[0]?.headers ?? {};
      for (const h of ['authorization', 'cookie', 'proxy-authorization', 'x-api-key', 'x-auth-token', 'x-session-id']) expect(landed[h], h).toBeUndefined();
      expect(landed['x-request-id']).toBe('req-42');
    } finally {
      await other.close();
      await first.close();
    }
  });
});

describe('smoke-test reasons quote bodies safely', () => {
  it('masks a reflected token before cutting the 80-character excerpt, and keeps it inert', async () => {
    const token = 'reflected-T0ken-0123456789abcdefghij';
    const app = await listen((req, res) => {
      // 70 characters of padding: an excerpt cut at 80 would end inside the token.
      res
        .writeHead(200, { 'content-type': 'text/plain' })
        .end(`${'p'.repeat(70)}${req.headers.authorization}\n::set-output name=PWNED::x\r::stop-commands::tok`);
    });
    try {
      const { host, deps: d } = deps();
      const r = await run(inputs({ url: `${app.url}/`, headers: `Authorization: ${token}`, 'expect-body': 'never-there', retries: '0' }), d);
      expect(r.passed).toBe(false);
      const shown = `${JSON.stringify(r.results)}\n${host.log.join('')}`;
      expect(findLeaks([token], { shown })).toEqual([]);
      expect(injectedCommands(host.log.join(''), { markers: ['PWNED'], hostileTokens: ['tok'] })).toEqual([]);
    } finally {
      await app.close();
    }
  });

  it('replaces token query parameters and userinfo in every target label, and masks their values', async () => {
    const app = await listen((_req, res) => res.writeHead(200).end('ok'));
    try {
      const { host, deps: d } = deps();
      const port = app.port;
      const r = await run(inputs({ url: `http://user:ui-Pa55word@127.0.0.1:${port}/h?token=qtok-S3cret-abc&page=1` }), d);
      expect(r.results[0]?.target).toBe(`http://***:***@127.0.0.1:${port}/h?token=***&page=1`);
      host.info('echo qtok-S3cret-abc ui-Pa55word');
      expect(findLeaks(['qtok-S3cret-abc', 'ui-Pa55word'], { log: host.log.join(''), results: JSON.stringify(r.results) })).toEqual([]);
    } finally {
      await app.close();
    }
  });
});

describe('smoke-test through a proxy', () => {
  it('uses HTTP_PROXY (absolute-form) with the proxy’s own credentials, and NO_PROXY', async () => {
    const proxy = await recordingProxy();
    const app = await listen((_req, res) => res.writeHead(200).end('ok'));
    try {
      const { host, deps: d } = deps({ HTTP_PROXY: `http://pu:px-Pa55word@127.0.0.1:${proxy.port}` });
      const r = await run(inputs({ url: `${app.url}/health` }), d);
      expect(r.passed).toBe(true);
      expect(proxy.seen.map((s) => s.url)).toEqual([`${app.url}/health`]);
      expect(proxy.seen[0]?.headers['proxy-authorization']).toBe(`Basic ${Buffer.from('pu:px-Pa55word').toString('base64')}`);
      expect(app.seen[0]?.headers['proxy-authorization']).toBeUndefined();
      host.info('px-Pa55word');
      expect(host.log.at(-1)).toBe('***\n');
      const again = deps({ HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' });
      expect((await run(inputs({ url: `${app.url}/health` }), again.deps)).passed).toBe(true);
      expect(proxy.seen).toHaveLength(1);
    } finally {
      await proxy.close();
      await app.close();
    }
  });

  it('verifies an https target against ca-file through the CONNECT tunnel', async () => {
    const ca = makeCa();
    const proxy = await recordingProxy();
    const server = https.createServer({ key: ca.key, cert: ca.cert }, (_req, res) => res.writeHead(200).end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const { deps: d } = deps({ HTTPS_PROXY: proxy.url });
      const r = await run(inputs({ url: `https://127.0.0.1:${port}/`, 'ca-file': ca.caFile }), d);
      expect(r.passed, JSON.stringify(r.results)).toBe(true);
      expect(proxy.seen.map((s) => `${s.method} ${s.url}`)).toEqual([`CONNECT 127.0.0.1:${port}`]);
      // Without the CA the tunnelled handshake must fail: the tunnel does not skip verification.
      const bad = await run(inputs({ url: `https://127.0.0.1:${port}/`, retries: '0' }), deps({ HTTPS_PROXY: proxy.url }).deps);
      expect(bad.passed).toBe(false);
      expect(bad.results[0]?.reason).toMatch(/TLS|certificate/);
    } finally {
      server.close();
      await proxy.close();
      ca.cleanup();
    }
  });

  it('tunnels https targets with CONNECT through HTTPS_PROXY', async () => {
    const proxy = await recordingProxy();
    try {
      const { deps: d } = deps({ HTTPS_PROXY: proxy.url });
      // Nothing listens on port 1: the CONNECT is what is checked.
      const r = await run(inputs({ url: 'https://127.0.0.1:1/', retries: '0' }), d);
      expect(r.passed).toBe(false);
      expect(proxy.seen.map((s) => `${s.method} ${s.url}`)).toEqual(['CONNECT 127.0.0.1:1']);
    } finally {
      await proxy.close();
    }
  });
});
