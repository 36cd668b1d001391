import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
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
  it('reads content from memory: no copy of the credentials is written anywhere', async () => {
    const a = openKubeconfig({ content: config(), tempDir: temp, env: {} });
    expect(readdirSync(temp)).toEqual([]);
    expect(a).toMatchObject({ server: 'https://127.0.0.1:6443', context: 'main', namespace: 'shop', origin: 'kubeconfig content' });
    const conn = await connectionOf(a);
    expect(conn.headers.Authorization).toBe(`Bearer ${TOKEN}`);
    expect(conn.rejectUnauthorized).toBe(false);
    expect(secretsOf(a)).toContain(TOKEN);
    a.close();
    a.close();
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
  // The part at fault, for the action layer to name its input (this package names none).
  const fields: Record<string, [string, string]> = {
    'not YAML': ['file', 'not-yaml'],
    'a token instead of a file': ['file', 'not-kubeconfig'],
    'no clusters': ['file', 'invalid'],
    'unknown context': ['context', 'unknown-context'],
    'bad server': ['cluster', 'invalid'],
    'missing path': ['file', 'not-found'],
    'KUBECONFIG of missing files': ['source', 'env-missing'],
    'nothing at all': ['source', 'unconfigured'],
  };
  it.each(bad)('%s says which part is at fault, and its message and hint name no input', (why, src) => {
    const err = (() => {
      try {
        openKubeconfig(src());
      } catch (e) {
        return e as KubeconfigError;
      }
    })();
    expect([err?.field, err?.problem]).toEqual(fields[why]);
    expect(`${err?.message} ${err?.hint}`).not.toMatch(/kubeconfig-path|context input|kubeconfig input|secrets\./);
  });
});

describe('connectionOf', () => {
  const kc = (cluster: string, user: string, extra = '') => `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: https://10.0.0.1:6443
${cluster}
users:
- name: u
  user:
${user}
contexts:
- name: x
  context: {cluster: c, user: u}
current-context: x
${extra}`;
  const at = (name: string, text: string) => {
    const dir = join(temp, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config'), text);
    return join(dir, 'config');
  };

  it('reads CA, client certificate and key files relative to the kubeconfig, and a TLS server name', async () => {
    const f = at(
      'certs',
      kc('    certificate-authority: pki/ca.crt\n    tls-server-name: api.internal', '    client-certificate: pki/me.crt\n    client-key: pki/me.key'),
    );
    mkdirSync(join(temp, 'certs', 'pki'));
    for (const [n, v] of [
      ['ca.crt', '-----BEGIN CERTIFICATE-----CA'],
      ['me.crt', '-----BEGIN CERTIFICATE-----CERT'],
      ['me.key', '-----BEGIN PRIVATE KEY-----KEY'],
    ])
      writeFileSync(join(temp, 'certs', 'pki', n as string), v as string);
    const conn = await connectionOf(openKubeconfig({ path: f, tempDir: temp, env: {} }));
    expect(String(conn.ca)).toBe('-----BEGIN CERTIFICATE-----CA');
    expect(String(conn.cert)).toBe('-----BEGIN CERTIFICATE-----CERT');
    expect(String(conn.key)).toBe('-----BEGIN PRIVATE KEY-----KEY');
    expect(conn.servername).toBe('api.internal');
    expect(conn.rejectUnauthorized).toBe(true);
    expect(conn.headers).toEqual({});
  });

  it('takes base64 data fields, a token file and basic auth', async () => {
    const b64 = (t: string) => Buffer.from(t).toString('base64');
    const [CA, C, K] = ['-----BEGIN CERTIFICATE-----A', '-----BEGIN CERTIFICATE-----C', '-----BEGIN EC PRIVATE KEY-----K'];
    const data = await connectionOf(
      openKubeconfig({
        content: kc(`    certificate-authority-data: ${b64(CA)}`, `    client-certificate-data: ${b64(C)}\n    client-key-data: ${b64(K)}`),
        tempDir: temp,
        env: {},
      }),
    );
    expect([String(data.ca), String(data.cert), String(data.key)]).toEqual([CA, C, K]);
    writeFileSync(join(temp, 'token.txt'), `${TOKEN}\n`);
    const tf = await connectionOf(openKubeconfig({ path: at('tf', kc('', `    tokenFile: ${join(temp, 'token.txt')}`)), tempDir: temp, env: {} }));
    expect(tf.headers.Authorization).toBe(`Bearer ${TOKEN}`);
    const basic = await connectionOf(openKubeconfig({ path: at('basic', kc('', '    username: admin\n    password: pa55word-long')), tempDir: temp, env: {} }));
    expect(basic.headers.Authorization).toBe(`Basic ${b64('admin:pa55word-long')}`);
    expect(secretsOf(openKubeconfig({ path: join(temp, 'basic', 'config'), tempDir: temp, env: {} }))).toContain('pa55word-long');
  });

  // Found by the bad-input corpus (issue 14): non-PEM material failed later as a bare TLS error.
  it('refuses CA, certificate or key material that holds no PEM block, without quoting it', async () => {
    const b64 = (t: string) => Buffer.from(t).toString('base64');
    const open = (cluster: string, user: string) => connectionOf(openKubeconfig({ content: kc(cluster, user), tempDir: temp, env: {} }));
    await expect(open(`    certificate-authority-data: ${b64('not a cert')}`, `    token: ${TOKEN}`)).rejects.toThrow(
      /cluster "c" has a certificate-authority that holds no PEM block/,
    );
    const err = await open('', `    client-certificate-data: ${b64('-----BEGIN CERTIFICATE-----C')}\n    client-key-data: ${b64('raw-key-S3cret')}`).catch(
      (e) => e,
    );
    expect(String(err.message)).toMatch(/has a client-key that holds no PEM block/);
    expect(`${err.message} ${err.hint}`).not.toContain('raw-key-S3cret');
  });

  it('merges KUBECONFIG files as kubectl does: the first definition of a name and the first current-context win', async () => {
    const first = at('m1', kc('    insecure-skip-tls-verify: true', `    token: ${TOKEN}`));
    const second = at(
      'm2',
      `apiVersion: v1
kind: Config
clusters:
- {name: c, cluster: {server: https://10.9.9.9}}
- {name: other, cluster: {server: https://10.0.0.2}}
users:
- {name: u, user: {token: second-token-value}}
contexts:
- {name: y, context: {cluster: other, user: u, namespace: ns2}}
current-context: y
`,
    );
    const a = openKubeconfig({ tempDir: temp, env: { KUBECONFIG: `${first}:${second}` } });
    expect(a).toMatchObject({ context: 'x', server: 'https://10.0.0.1:6443' });
    expect((await connectionOf(a)).headers.Authorization).toBe(`Bearer ${TOKEN}`);
    const b = openKubeconfig({ tempDir: temp, env: { KUBECONFIG: `${first}:${second}` }, context: 'y' });
    expect(b).toMatchObject({ server: 'https://10.0.0.2', namespace: 'ns2' });
  });

  it('takes a KUBECONFIG list whose files each hold a part, and names what the whole lacks', async () => {
    const clusters = at(
      'part-c',
      'apiVersion: v1\nkind: Config\nclusters:\n- {name: c, cluster: {server: https://10.0.0.3}}\ncontexts:\n- {name: x, context: {cluster: c, user: u}}\ncurrent-context: x\n',
    );
    const users = at('part-u', `apiVersion: v1\nkind: Config\nusers:\n- {name: u, user: {token: ${TOKEN}}}\n`);
    const a = openKubeconfig({ tempDir: temp, env: { KUBECONFIG: `${clusters}:${users}` } });
    expect((await connectionOf(a)).headers.Authorization).toBe(`Bearer ${TOKEN}`);
    const only = at('part-u2', 'apiVersion: v1\nkind: Config\nusers: []\n');
    expect(() => openKubeconfig({ tempDir: temp, env: { KUBECONFIG: `${users}:${only}` } })).toThrow(/define no clusters/);
  });

  it('runs an exec credential plugin (through client-node) and uses the token it prints', async () => {
    const cred = JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token: 'exec-issued-token-1234' } });
    const f = at(
      'exec',
      kc(
        '    insecure-skip-tls-verify: true',
        `    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: /bin/sh\n      args: ["-c", ${JSON.stringify(`echo '${cred}'`)}]\n      interactiveMode: Never`,
      ),
    );
    const conn = await connectionOf(openKubeconfig({ path: f, tempDir: temp, env: {} }));
    expect(conn.headers.Authorization).toBe('Bearer exec-issued-token-1234');
    expect(conn.rejectUnauthorized).toBe(false);
  });

  const broken: [string, string, string, RegExp][] = [
    ['a certificate without its key', '', '    client-certificate-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t', /has a client certificate without a key/],
    [
      'a CA file that is not there',
      '    certificate-authority: missing/ca.crt',
      '    token: abcdefgh',
      /cannot read certificate-authority .*missing\/ca\.crt \(ENOENT\)/,
    ],
    ['a token file that is not there', '', '    tokenFile: /nonexistent/token', /cannot read tokenFile \/nonexistent\/token/],
    ['an exec plugin that fails', '', '    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: /bin/false', /the exec plugin failed/],
  ];
  it.each(broken)('%s is one KubeconfigError', async (name, cluster, user, msg) => {
    const f = at(`broken-${name.replace(/\W+/g, '-')}`, kc(cluster, user));
    const err = await connectionOf(openKubeconfig({ path: f, tempDir: temp, env: {} })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeconfigError);
    expect((err as Error).message).toMatch(msg);
    expect((err as KubeconfigError).field).toBe(name === 'a CA file that is not there' ? 'cluster' : 'user');
  });
});
