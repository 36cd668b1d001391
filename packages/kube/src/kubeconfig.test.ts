import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeconfigError } from './errors.ts';
import { connectionOf, openKubeconfig, secretsOf } from './kubeconfig.ts';

const TOKEN = 'tok-0123456789-secret';
const config = (server = 'https://127.0.0.1:6443', extra = '') => `apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: ${server}
    insecure-skip-tls-verify: true
users:
- name: deployer
  user:
    token: ${TOKEN}
contexts:
- name: main
  context: {cluster: local, user: deployer, namespace: shop}
- name: other
  context: {cluster: local, user: deployer}
current-context: main
${extra}`;

let temp: string;
beforeAll(() => {
  temp = mkdtempSync(join(tmpdir(), 'shipline-kc-test-'));
});
afterAll(() => rmSync(temp, { recursive: true, force: true }));

describe('openKubeconfig', () => {
  it('writes content 0600 in a private dir and removes it on close', async () => {
    const a = openKubeconfig({ content: config(), tempDir: temp, env: {} });
    expect(a.tempPath).toBeDefined();
    const path = a.tempPath as string;
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(path, '..')).mode & 0o077).toBe(0);
    expect(a).toMatchObject({ server: 'https://127.0.0.1:6443', context: 'main', namespace: 'shop', origin: 'kubeconfig input' });
    const conn = await connectionOf(a);
    expect(conn.headers.Authorization).toBe(`Bearer ${TOKEN}`);
    expect(conn.rejectUnauthorized).toBe(false);
    expect(secretsOf(a)).toContain(TOKEN);
    a.close();
    a.close();
    expect(existsSync(path)).toBe(false);
    expect(readdirSync(temp)).toEqual([]);
  });

  it('takes a path, then KUBECONFIG (merged list), and switches context', () => {
    const f = join(temp, 'a.yaml');
    writeFileSync(f, config());
    expect(openKubeconfig({ path: f, tempDir: temp, env: {} }).origin).toBe(f);
    const viaEnv = openKubeconfig({ tempDir: temp, env: { KUBECONFIG: `${join(temp, 'missing')}:${f}` }, context: 'other' });
    expect(viaEnv).toMatchObject({ context: 'other', namespace: undefined });
  });

  const bad: [string, () => Parameters<typeof openKubeconfig>[0], RegExp][] = [
    ['not YAML', () => ({ content: 'a: [b', tempDir: temp, env: {} }), /not valid YAML/],
    ['a token instead of a file', () => ({ content: 'eyJhbGciOi.x.y', tempDir: temp, env: {} }), /not a kubeconfig/],
    ['no clusters', () => ({ content: 'apiVersion: v1\nkind: Config\nclusters: []\n', tempDir: temp, env: {} }), /defines no clusters/],
    ['unknown context', () => ({ content: config(), context: 'prod', tempDir: temp, env: {} }), /context "prod" is not in the kubeconfig.*main, other/],
    ['bad server', () => ({ content: config('not a url'), tempDir: temp, env: {} }), /no valid server URL/],
    ['missing path', () => ({ path: join(temp, 'nope'), tempDir: temp, env: {} }), /does not exist/],
    ['KUBECONFIG of missing files', () => ({ tempDir: temp, env: { KUBECONFIG: join(temp, 'nope') } }), /KUBECONFIG names no existing file/],
    ['nothing at all', () => ({ tempDir: temp, env: { HOME: temp } }), /no cluster access configured/],
  ];
  it.each(bad)('%s is a KubeconfigError that does not echo the content', (_why, src, msg) => {
    let err: unknown;
    try {
      openKubeconfig(src());
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KubeconfigError);
    expect(`${(err as KubeconfigError).message} ${(err as KubeconfigError).hint}`).toMatch(msg);
    expect((err as Error).message).not.toContain(TOKEN);
    expect(readdirSync(temp).filter((n) => n.startsWith('shipline-kube-'))).toEqual([]);
  });
});
