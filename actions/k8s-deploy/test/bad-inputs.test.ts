// Every bad input: exit 1, exactly one ::error line naming the input, no stack trace, no request to
// the cluster (the kubeconfig points at a loopback server that counts what reaches it).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeconfigFor } from '../../../test/support/kubeconfig.ts';
import { expectRejected, runGitHubAction } from '../../../test/support/run-action.ts';
import { type Served, serve } from '../../../test/support/servers.ts';

let api: Served;
let requests = 0;
let dir: string;
const TOKEN = 'tok-secret-0123456789abcdef';
const D1 = `sha256:${'a'.repeat(64)}`;
const D2 = `sha256:${'b'.repeat(64)}`;

const kubeconfig = (server: string) => kubeconfigFor(server, TOKEN);

const f = (name: string) => join(dir, name);

beforeAll(async () => {
  api = await serve((_req, res) => {
    requests++;
    res.writeHead(500);
    res.end();
  });
  dir = mkdtempSync(join(tmpdir(), 'shipline-k8s-bad-'));
  writeFileSync(f('kubeconfig'), kubeconfig(api.url));
  writeFileSync(f('ok.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n');
  writeFileSync(f('bad.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [x\n');
  writeFileSync(f('nokind.yaml'), 'apiVersion: v1\nmetadata:\n  name: x\n');
  writeFileSync(f('dupkeys.yaml'), 'apiVersion: v1\nkind: ConfigMap\nkind: Secret\nmetadata:\n  name: x\n');
  writeFileSync(f('generate.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: x-\n');
  writeFileSync(f('scalar.yaml'), 'just some text\n');
  mkdirSync(f('empty'));
  mkdirSync(f('kust'));
  writeFileSync(f('kust/kustomization.yaml'), 'resources: [../ok.yaml]\n');
});
afterAll(async () => {
  await api?.close();
  rmSync(dir, { recursive: true, force: true });
});

const base = () => ({ manifests: f('ok.yaml'), 'kubeconfig-path': f('kubeconfig') });

// [why, inputs, input named in the error, text the error must contain]
const cases: [string, () => Record<string, string>, string, RegExp][] = [
  ['missing manifests', () => ({ 'kubeconfig-path': f('kubeconfig') }), 'manifests', /is required/],
  ['manifest file missing', () => ({ ...base(), manifests: f('missing.yaml') }), 'manifests', /does not exist/],
  ['glob matching nothing', () => ({ ...base(), manifests: `${dir}/nothing/*.yaml` }), 'manifests', /matches no \.yaml/],
  ['directory without manifests', () => ({ ...base(), manifests: f('empty') }), 'manifests', /holds no \.yaml/],
  ['invalid YAML', () => ({ ...base(), manifests: f('bad.yaml') }), 'manifests', /bad\.yaml:\d+:\d+: invalid YAML/],
  ['document without kind', () => ({ ...base(), manifests: f('nokind.yaml') }), 'manifests', /nokind\.yaml:1: kind is missing/],
  ['duplicate keys', () => ({ ...base(), manifests: f('dupkeys.yaml') }), 'manifests', /invalid YAML/],
  ['generateName', () => ({ ...base(), manifests: f('generate.yaml') }), 'manifests', /generateName cannot be applied/],
  ['a scalar document', () => ({ ...base(), manifests: f('scalar.yaml') }), 'manifests', /must be a mapping/],
  ['kustomization without kubectl', () => ({ ...base(), manifests: f('kust') }), 'manifests', /kustomization directory and kubectl is not available/],
  ['uppercase repository', () => ({ ...base(), images: '127.0.0.1:5000/Shop/app:1' }), 'images', /must be lowercase/],
  ['short digest', () => ({ ...base(), images: '127.0.0.1:5000/app@sha256:abc' }), 'images', /digest/],
  ['URL as image', () => ({ ...base(), images: 'https://reg/app:1' }), 'images', /URL scheme/],
  ['JSON array of non-strings', () => ({ ...base(), images: '[1, 2]' }), 'images', /only strings/],
  ['broken JSON array', () => ({ ...base(), images: '["a",' }), 'images', /not valid JSON/],
  ['two digests for one repository', () => ({ ...base(), images: `reg:5000/app@${D1}\nreg:5000/app@${D2}` }), 'images', /also given as/],
  ['var without =', () => ({ ...base(), vars: 'TAG' }), 'vars', /is not KEY=VALUE/],
  ['var with a bad name', () => ({ ...base(), vars: '1TAG=x' }), 'vars', /not a variable name/],
  ['var declared twice', () => ({ ...base(), vars: 'A=1\nA=2' }), 'vars', /declared twice/],
  ['bad namespace', () => ({ ...base(), namespace: 'Shop_1' }), 'namespace', /lowercase DNS label/],
  ['YAML 1.1 boolean', () => ({ ...base(), 'create-namespace': 'yes' }), 'create-namespace', /YAML 1\.2 booleans/],
  ['kubeconfig that is not YAML', () => ({ manifests: f('ok.yaml'), kubeconfig: 'a: [b' }), 'kubeconfig', /not valid YAML/],
  ['kubeconfig that is a token', () => ({ manifests: f('ok.yaml'), kubeconfig: 'eyJhbGciOiJSUzI1NiJ9.e30.sig' }), 'kubeconfig', /not a kubeconfig/],
  [
    'kubeconfig without contexts',
    () => ({ manifests: f('ok.yaml'), kubeconfig: 'apiVersion: v1\nclusters:\n- name: c\n  cluster: {server: https://x}\n' }),
    'kubeconfig',
    /defines no contexts/,
  ],
  ['kubeconfig with a bad server', () => ({ manifests: f('ok.yaml'), kubeconfig: kubeconfig('::not a url') }), 'kubeconfig', /no valid server URL/],
  ['kubeconfig-path missing', () => ({ ...base(), 'kubeconfig-path': f('nope') }), 'kubeconfig-path', /does not exist/],
  ['both kubeconfig and kubeconfig-path', () => ({ ...base(), kubeconfig: kubeconfig(api.url) }), 'kubeconfig-path', /both `kubeconfig` and `kubeconfig-path`/],
  ['unknown context', () => ({ ...base(), context: 'prod' }), 'context', /context "prod" is not in the kubeconfig — use one of: fake/],
  ['prune without set', () => ({ ...base(), prune: 'true' }), 'set', /needs a set name/],
  ['bad set value', () => ({ ...base(), set: '-orders-' }), 'set', /wrong form/],
  ['zero concurrency', () => ({ ...base(), concurrency: '0' }), 'concurrency', /out of range/],
  ['bad request-timeout', () => ({ ...base(), 'request-timeout': 'soon' }), 'request-timeout', /not a duration/],
  ['pull secret without credentials', () => ({ ...base(), 'image-pull-secret': 'regcred' }), 'registry-username', /needs registry credentials/],
  [
    'credentials without pull secret',
    () => ({ ...base(), 'registry-username': 'u', 'registry-password': 'p4ssw0rd' }),
    'image-pull-secret',
    /without `image-pull-secret`/,
  ],
  [
    'pull secret without a registry',
    () => ({ ...base(), 'image-pull-secret': 'regcred', 'registry-username': 'u', 'registry-password': 'p4ssw0rd', images: 'a.io/x:1, b.io/y:1' }),
    'registry',
    /cannot tell which registry/,
  ],
];

describe('k8s-deploy rejects bad input', () => {
  it.each(cases)('%s', async (_why, inputs, name, text) => {
    const before = requests;
    const r = await runGitHubAction('k8s-deploy', inputs(), { env: { PATH: '/nonexistent', HOME: dir, RUNNER_TEMP: dir } });
    expectRejected(r, name, text);
    expect(r.stdout.replace(/::add-mask::.*\n/g, '')).not.toContain(TOKEN);
    expect(requests - before).toBe(0);
  });

  it('has at least 20 distinct cases', () => expect(new Set(cases.map((c) => c[0])).size).toBeGreaterThanOrEqual(20));
});
