import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { secrets } from '../../packages/kit/src/mask.ts';
import { KubeClient } from '../../packages/kube/src/client.ts';
import { diffObject } from '../../packages/kube/src/diff.ts';
import { ApiError } from '../../packages/kube/src/errors.ts';
import { connectionOf, openKubeconfig, secretsOf } from '../../packages/kube/src/kubeconfig.ts';
import type { KubeObject } from '../../packages/kube/src/object.ts';
import { dockerConfigSecret, secretValuesOf } from '../../packages/kube/src/pull-secret.ts';
import { injectedCommands } from '../support/runner-commands.ts';
import { makeCa } from '../support/servers.ts';
import { findLeaks, type Listening, listen, recordingProxy } from './support.ts';

const open: Listening[] = [];
const track = (l: Listening) => {
  open.push(l);
  return l;
};
afterEach(async () => {
  await Promise.all(open.splice(0).map((l) => l.close()));
});
const tmp = mkdtempSync(join(tmpdir(), 'shipline-sec-kube-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const client = (url: string, opts: ConstructorParameters<typeof KubeClient>[1] = {}) =>
  new KubeClient({ server: new URL(url), rejectUnauthorized: true, headers: {} }, { attempts: 1, ...opts });

describe('API server answers are untrusted', () => {
  it('makes Status messages and causes inert and masks them', async () => {
    const secret = 'status-S3cret-abcdefghijklmnop';
    secrets.add(secret);
    const message = `admission webhook denied: ${secret}\n::set-output name=PWNED::1\r::stop-commands::tok\n##[error]PWNED`;
    const api = track(
      await listen((_req, res) => {
        res
          .writeHead(422, { 'content-type': 'application/json' })
          .end(
            JSON.stringify({ kind: 'Status', reason: 'Invalid', message, details: { causes: [{ field: 'spec', message: `\n::add-mask::PWNED ${secret}` }] } }),
          );
      }),
    );
    const err = (await client(api.url)
      .request('GET', '/api/v1/x')
      .catch((e: unknown) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    const shown = `${err.message}\n${JSON.stringify(err.details)}\n`;
    expect(findLeaks([secret], { shown })).toEqual([]);
    expect(injectedCommands(err.message, { markers: ['PWNED'], hostileTokens: ['tok'] })).toEqual([]);
    expect(injectedCommands(((err.details as { message: string }[])[0] as { message: string }).message, { markers: ['PWNED'] })).toEqual([]);
  });

  it('masks a non-Status body before cutting it to 200 characters', async () => {
    const secret = 'cut-S3cret-0123456789abcdefghij';
    secrets.add(secret);
    const api = track(await listen((_req, res) => res.writeHead(500, { 'content-type': 'text/html' }).end(`${'y'.repeat(190)}${secret}`)));
    const err = (await client(api.url)
      .request('GET', '/healthz')
      .catch((e: unknown) => e)) as ApiError;
    expect(err.message).toContain('HTTP 500');
    expect(findLeaks([secret], { message: err.message })).toEqual([]);
  });
});

describe('Secret values in dry-run diffs', () => {
  const secret = (data: Record<string, string>, extra: Partial<KubeObject> = {}): KubeObject => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 's', namespace: 'n' },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    ...extra,
  });

  it('shows sizes and whether each key changes, never a value', () => {
    const live = secret({ same: 'kept-value-000001', other: 'old-value-22', gone: 'removed-value-333' });
    const next = secret({ same: 'kept-value-000001', other: 'new-value-22', added: 'added-value-4444' });
    const diff = diffObject(live, next);
    expect(diff).toContain('+   added: (redacted, 16 bytes, changed)');
    expect(diff).toContain('-   other: (redacted, 12 bytes)');
    expect(diff).toContain('+   other: (redacted, 12 bytes, changed)');
    expect(diff).toContain('-   gone: (redacted, 17 bytes)');
    // Unchanged, equal on both sides: at most a context line.
    expect(diff).not.toMatch(/^[-+] +same:/m);
    expect(diff).toMatch(/^ {4}same: \(redacted, 17 bytes, unchanged\)$/m);
    const values = ['kept-value-000001', 'old-value-22', 'new-value-22', 'removed-value-333', 'added-value-4444'];
    expect(findLeaks(values, { diff })).toEqual([]);
    expect(diffObject(live, live)).toBe('');
  });

  it('redacts stringData and a new Secret too', () => {
    const next = secret({}, { stringData: { password: 'hunter2-hunter2' } });
    const diff = diffObject(undefined, next);
    expect(diff).toContain('password: (redacted, 15 bytes, changed)');
    expect(findLeaks(['hunter2-hunter2'], { diff })).toEqual([]);
  });

  it('lists every value of an image-pull secret to mask, one by one', () => {
    const s = dockerConfigSecret('pull', 'n', 'reg.example:5000', 'robot', 'pull-Pa55word-xyz');
    const values = secretValuesOf(s);
    const config = Buffer.from((s.data as Record<string, string>)['.dockerconfigjson'] as string, 'base64').toString();
    expect(values).toContain((s.data as Record<string, string>)['.dockerconfigjson']);
    expect(values).toContain(config);
    expect(values).toContain('pull-Pa55word-xyz');
    expect(values).toContain(Buffer.from('robot:pull-Pa55word-xyz').toString('base64'));
    expect(values.every((v) => !v.includes('\n'))).toBe(true);
  });
});

describe('kubeconfig secrets are masked value by value', () => {
  it('includes exec env values, auth-provider config, token, password, client key data and proxy userinfo', () => {
    const key = '-----BEGIN PRIVATE KEY-----\nMIIBkeyline\n-----END PRIVATE KEY-----\n';
    const content = JSON.stringify({
      apiVersion: 'v1',
      clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443', 'proxy-url': 'http://pu:proxy-Pa55@127.0.0.1:3128' } }],
      users: [
        {
          name: 'e',
          user: {
            exec: {
              command: 'x',
              apiVersion: 'client.authentication.k8s.io/v1',
              env: [
                { name: 'CLOUD_SECRET', value: 'exec-env-S3cret' },
                { name: 'N', value: '1' },
              ],
            },
          },
        },
        { name: 'a', user: { 'auth-provider': { name: 'oidc', config: { 'id-token': 'idtok-abc.def', 'client-secret': 'oidc-client-S3cret' } } } },
        { name: 't', user: { token: 'kube-T0ken-value' } },
        { name: 'p', user: { username: 'u', password: 'basic-pw-xyz' } },
        { name: 'k', user: { 'client-certificate-data': 'QQ==', 'client-key-data': Buffer.from(key).toString('base64') } },
      ],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 't' } }],
      'current-context': 'x',
    });
    const access = openKubeconfig({ content, tempDir: tmp, env: {} });
    try {
      const list = secretsOf(access);
      for (const v of ['exec-env-S3cret', 'idtok-abc.def', 'oidc-client-S3cret', 'kube-T0ken-value', 'basic-pw-xyz', key, 'proxy-Pa55', 'pu'])
        expect(list).toContain(v);
      expect(list).not.toContain('1');
      expect(list).not.toContain(content);
    } finally {
      access.close();
    }
  });
});

describe('proxies for the API server', () => {
  it('uses HTTP_PROXY from the environment and respects NO_PROXY', async () => {
    const proxy = track(await recordingProxy());
    const api = track(await listen((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"kind":"APIVersions"}')));
    await client(api.url, { proxyEnv: { HTTP_PROXY: `http://pxu:px-Pa55@127.0.0.1:${proxy.port}` } }).request('GET', '/api');
    expect(proxy.seen.map((r) => r.url)).toEqual([`${api.url}/api`]);
    expect(proxy.seen[0]?.headers['proxy-authorization']).toBe(`Basic ${Buffer.from('pxu:px-Pa55').toString('base64')}`);
    expect(api.seen[0]?.headers['proxy-authorization']).toBeUndefined();
    await client(api.url, { proxyEnv: { HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' } }).request('GET', '/api');
    expect(proxy.seen).toHaveLength(1);
    expect(api.seen).toHaveLength(2);
  });

  it('tunnels https to the cluster through its kubeconfig proxy-url with CONNECT', async () => {
    const ca = makeCa();
    const proxy = track(await recordingProxy());
    const server = https.createServer({ key: ca.key, cert: ca.cert }, (req, res) => {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ auth: req.headers.authorization ?? null, proxyAuth: req.headers['proxy-authorization'] ?? null }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const content = JSON.stringify({
        apiVersion: 'v1',
        clusters: [
          {
            name: 'c',
            cluster: { server: `https://127.0.0.1:${port}`, 'certificate-authority': ca.caFile, 'proxy-url': `http://pxu:px-Pa55@127.0.0.1:${proxy.port}` },
          },
        ],
        users: [{ name: 'u', user: { token: 'cluster-T0ken-abc' } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      });
      const access = openKubeconfig({ content, tempDir: tmp, env: {} });
      const conn = await connectionOf(access);
      access.close();
      // NO_PROXY in the environment does not apply to a cluster's own proxy-url (as in kubectl).
      const c = new KubeClient(conn, { attempts: 1, proxyEnv: { NO_PROXY: '*' } });
      const r = await c.request<{ auth: string; proxyAuth: string | null }>('GET', '/api');
      c.close();
      expect(r.body).toEqual({ auth: 'Bearer cluster-T0ken-abc', proxyAuth: null });
      expect(proxy.seen.map((s) => `${s.method} ${s.url}`)).toEqual([`CONNECT 127.0.0.1:${port}`]);
      expect(proxy.seen[0]?.headers['proxy-authorization']).toBe(`Basic ${Buffer.from('pxu:px-Pa55').toString('base64')}`);
      expect(proxy.seen[0]?.headers.authorization).toBeUndefined();
    } finally {
      server.close();
      ca.cleanup();
    }
  });

  it('refuses a SOCKS proxy-url without quoting its credentials', async () => {
    const content = JSON.stringify({
      apiVersion: 'v1',
      clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443', 'proxy-url': 'socks5://su:socks-Pa55word@127.0.0.1:1080' } }],
      users: [{ name: 'u', user: {} }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'x',
    });
    const access = openKubeconfig({ content, tempDir: tmp, env: {} });
    const err = (await connectionOf(access).catch((e: unknown) => e)) as Error;
    access.close();
    expect(err.message).toMatch(/proxy-url .*socks5/);
    expect(findLeaks(['socks-Pa55word'], { message: err.message })).toEqual([]);
  });
});
