// Issue 14, TLS: certificate verification is on by default for every kind of endpoint (registries,
// the API server, smoke targets, Prometheus, Pushgateway), and each explicit way to turn it off
// (smoke-test `insecure`, rollout-verify `smoke-insecure`, kubeconfig `insecure-skip-tls-verify`,
// registry-push `insecure-registries`) is a warning in the log AND in the job summary. The servers
// are real: the stack's API server and TLS registry (their own CAs) and loopback HTTPS servers with a
// throwaway CA. SHIPLINE_FROM_SOURCE=1 runs the actions' sources instead of the bundles (for
// checking a change before the bundles are rebuilt).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { Run } from '../support/run-action.ts';
import { FROM_SOURCE, runGitHubAction, stackLines } from '../support/run-action.ts';
import { makeCa, type Served, serve, type TestCa } from '../support/servers.ts';

const seed = Number(process.env.SHIPLINE_SEED ?? Math.floor(Math.random() * 1e9));
const ns = `hf-tls-${seed.toString(36).slice(-6)}`;
const KCFG = process.env.KUBECONFIG ?? '';
const TLS_REGISTRY = process.env.SHIPLINE_REGISTRY_TLS ?? '127.0.0.1:5001';
const NODE_IMAGE = process.env.SHIPLINE_NODE_IMAGE ?? '127.0.0.1:5000/shipline/node:24';
const WARNING = /^::warning::TLS certificate verification is OFF for (.+)$/;
let dir: string;
let ca: TestCa;
let site: Served;
let prometheus: Served;
let pushgateway: Served;
let pushes = 0;

const run = (action: string, inputs: Record<string, string>) =>
  runGitHubAction(action, inputs, { env: { HOME: dir, RUNNER_TEMP: dir, DOCKER_HOST: process.env.DOCKER_HOST ?? '', KUBECONFIG: KCFG }, timeoutMs: 180_000 });

/** The stack's kubeconfig with its cluster's CA removed, and verification off when `insecure`. */
function kubeconfigWithoutCa(insecure: boolean): string {
  const kc = parse(readFileSync(KCFG, 'utf8')) as { clusters: { cluster: Record<string, unknown> }[] };
  for (const c of kc.clusters) {
    delete c.cluster['certificate-authority-data'];
    delete c.cluster['certificate-authority'];
    if (insecure) c.cluster['insecure-skip-tls-verify'] = true;
  }
  const path = join(dir, insecure ? 'insecure.kubeconfig' : 'noca.kubeconfig');
  writeFileSync(path, stringify(kc), { mode: 0o600 });
  return path;
}

interface Expect {
  /** The run must succeed (verification off, or a trusted CA given) or fail on the certificate. */
  ok: boolean;
  /** The warning must name this target; undefined: no TLS warning at all. */
  warns?: RegExp;
}

interface Case {
  why: string;
  action: string;
  inputs: () => Record<string, string>;
  expect: Expect;
}

const manifest = () => join(dir, 'cm.yaml');
const cases: Case[] = [
  // smoke targets
  {
    why: 'smoke-test: untrusted certificate refused by default',
    action: 'smoke-test',
    inputs: () => ({ url: `${site.url}/health`, deadline: '3s', timeout: '1s' }),
    expect: { ok: false },
  },
  {
    why: 'smoke-test: ca-file trusts it, no warning',
    action: 'smoke-test',
    inputs: () => ({ url: `${site.url}/health`, 'ca-file': ca.caFile, deadline: '15s' }),
    expect: { ok: true },
  },
  {
    why: 'smoke-test: insecure warns',
    action: 'smoke-test',
    inputs: () => ({ url: `${site.url}/health`, insecure: 'true', deadline: '15s' }),
    expect: { ok: true, warns: /https:\/\/127\.0\.0\.1:\d+ \(input `insecure: true`\)/ },
  },
  // the API server
  {
    why: 'k8s-deploy: API server without its CA refused',
    action: 'k8s-deploy',
    inputs: () => ({ manifests: manifest(), namespace: ns, 'kubeconfig-path': kubeconfigWithoutCa(false) }),
    expect: { ok: false },
  },
  {
    why: 'k8s-deploy: insecure-skip-tls-verify warns',
    action: 'k8s-deploy',
    inputs: () => ({ manifests: manifest(), namespace: ns, 'kubeconfig-path': kubeconfigWithoutCa(true) }),
    expect: { ok: true, warns: /the API server 127\.0\.0\.1:6443 \(kubeconfig `insecure-skip-tls-verify: true`\)/ },
  },
  {
    why: 'k8s-deploy: the stack kubeconfig verifies, no warning',
    action: 'k8s-deploy',
    inputs: () => ({ manifests: manifest(), namespace: ns, 'kubeconfig-path': KCFG }),
    expect: { ok: true },
  },
  {
    why: 'rollout-verify: API server without its CA refused',
    action: 'rollout-verify',
    inputs: () => ({ selector: 'app=hf-none', namespace: ns, 'kubeconfig-path': kubeconfigWithoutCa(false), timeout: '5s' }),
    expect: { ok: false },
  },
  // A failed verdict (nothing matches) still carries the warning in its summary.
  {
    why: 'rollout-verify: insecure-skip-tls-verify warns, in a failed run too',
    action: 'rollout-verify',
    inputs: () => ({ workloads: 'deploy/hf-none', namespace: ns, 'kubeconfig-path': kubeconfigWithoutCa(true), timeout: '5s' }),
    expect: { ok: false, warns: /the API server 127\.0\.0\.1:6443 \(kubeconfig `insecure-skip-tls-verify: true`\)/ },
  },
  {
    why: 'smoke-test: service target through an insecure kubeconfig warns',
    action: 'smoke-test',
    inputs: () => ({ service: `${ns}/hf-none:80/`, 'kubeconfig-path': kubeconfigWithoutCa(true), deadline: '2s', timeout: '1s' }),
    expect: { ok: false, warns: /the API server 127\.0\.0\.1:6443/ },
  },
  // the smoke gate, Prometheus and Pushgateway
  {
    why: 'rollout-verify: smoke-insecure warns',
    action: 'rollout-verify',
    inputs: () => ({
      workloads: 'deploy/hf-none',
      namespace: ns,
      'kubeconfig-path': KCFG,
      timeout: '5s',
      'smoke-url': `${site.url}/health`,
      'smoke-insecure': 'true',
      'bake-time': '0s',
    }),
    expect: { ok: false, warns: /https:\/\/127\.0\.0\.1:\d+ \(input `smoke-insecure: true`\)/ },
  },
  {
    why: 'rollout-verify: Prometheus with an untrusted certificate is not believed',
    action: 'rollout-verify',
    inputs: () => ({
      workloads: 'deploy/hf-web',
      namespace: ns,
      'kubeconfig-path': KCFG,
      timeout: '60s',
      metrics: 'up: up > 0',
      'prometheus-url': prometheus.url,
      'bake-time': '0s',
      'error-limit': '0',
    }),
    expect: { ok: false },
  },
  // registries
  {
    why: 'registry-push: TLS registry without its CA refused',
    action: 'registry-push',
    inputs: () => ({
      image: NODE_IMAGE,
      destinations: `${TLS_REGISTRY}/hf-tls/app:a${seed}`,
      username: process.env.SHIPLINE_REGISTRY_USER ?? '',
      password: process.env.SHIPLINE_REGISTRY_PASSWORD ?? '',
    }),
    expect: { ok: false },
  },
  {
    why: 'registry-push: ca-file trusts it, no warning',
    action: 'registry-push',
    inputs: () => ({
      image: NODE_IMAGE,
      destinations: `${TLS_REGISTRY}/hf-tls/app:b${seed}`,
      username: process.env.SHIPLINE_REGISTRY_USER ?? '',
      password: process.env.SHIPLINE_REGISTRY_PASSWORD ?? '',
      'ca-file': process.env.SHIPLINE_REGISTRY_CA ?? '',
    }),
    expect: { ok: true },
  },
  {
    why: 'registry-push: insecure-registries warns',
    action: 'registry-push',
    inputs: () => ({
      image: NODE_IMAGE,
      destinations: `${TLS_REGISTRY}/hf-tls/app:c${seed}`,
      username: process.env.SHIPLINE_REGISTRY_USER ?? '',
      password: process.env.SHIPLINE_REGISTRY_PASSWORD ?? '',
      'insecure-registries': TLS_REGISTRY,
    }),
    expect: { ok: true, warns: /registry 127\.0\.0\.1:5001 \(input `insecure-registries`, which allows plain HTTP too/ },
  },
];

function judge(c: Case, r: Run): string {
  const all = `${r.stdout}\n${r.stderr}`;
  if (stackLines(all).length) return `stack trace: ${stackLines(all)[0]}`;
  if (c.expect.ok && r.code !== 0)
    return `failed: ${all
      .split('\n')
      .filter((l) => l.startsWith('::error'))
      .join(' | ')
      .slice(0, 300)}`;
  if (!c.expect.ok && r.code === 0) return 'succeeded although the certificate is not trusted';
  if (!c.expect.ok && !c.expect.warns && !/certificate|self.signed|TLS|CERT_|issuer/i.test(all))
    return `failed without naming the certificate: ${all
      .split('\n')
      .filter((l) => l.startsWith('::error'))
      .join(' | ')
      .slice(0, 300)}`;
  const warnings = r.stdout.split('\n').filter((l) => WARNING.test(l));
  if (!c.expect.warns) return warnings.length ? `unexpected TLS warning: ${warnings[0]}` : '';
  if (warnings.length !== 1 || !c.expect.warns.test(warnings[0] as string)) return `log warnings: ${JSON.stringify(warnings)}`;
  if (!/TLS verification off/.test(r.summary) || !c.expect.warns.test(r.summary)) return `summary lacks the warning: ${r.summary.slice(-300)}`;
  return '';
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'shipline-hf-tls-'));
  ca = makeCa();
  site = await serve((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
  }, ca);
  prometheus = await serve((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [Date.now() / 1000, '1'] }] } }));
  }, ca);
  pushgateway = await serve((_req, res) => {
    pushes++;
    res.writeHead(200);
    res.end();
  }, ca);
  writeFileSync(manifest(), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hf-tls\ndata:\n  a: "1"\n');
  const kubectl = (args: string[], input?: string) => spawnSync('kubectl', args, { encoding: 'utf8', input, env: { ...process.env, KUBECONFIG: KCFG } });
  expect(kubectl(['create', 'namespace', ns]).status).toBe(0);
  // A Deployment that becomes Available, so the Prometheus gate is reached.
  const web = `apiVersion: apps/v1
kind: Deployment
metadata: {name: hf-web, namespace: ${ns}}
spec:
  replicas: 1
  selector: {matchLabels: {app: hf-web}}
  template:
    metadata: {labels: {app: hf-web}}
    spec:
      containers:
      - name: web
        image: ${NODE_IMAGE}
        command: ["node", "-e", "require('http').createServer((q,s)=>s.end('ok')).listen(8080)"]
`;
  expect(kubectl(['apply', '-f', '-'], web).status).toBe(0);
}, 120_000);

afterAll(async () => {
  spawnSync('kubectl', ['delete', 'namespace', ns, '--wait=false'], { env: { ...process.env, KUBECONFIG: KCFG } });
  await Promise.all([site?.close(), prometheus?.close(), pushgateway?.close()]);
  ca?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('TLS verification (issue 14)', () => {
  it('is on by default everywhere, and turning it off warns in the log and the summary', async () => {
    const wrong: string[] = [];
    const pushCase: Case = {
      why: 'rollout-verify: Pushgateway with an untrusted certificate gets nothing',
      action: 'rollout-verify',
      inputs: () => ({ workloads: 'deploy/hf-web', namespace: ns, 'kubeconfig-path': KCFG, timeout: '60s', 'pushgateway-url': pushgateway.url }),
      expect: { ok: true },
    };
    for (const c of [...cases, pushCase]) {
      const r = await run(c.action, c.inputs());
      let why = judge(c, r);
      if (c === pushCase && !why) {
        if (pushes !== 0) why = `the Pushgateway got ${pushes} request(s) over an unverified connection`;
        else if (!/::warning::.*(certificate|self.signed|TLS|issuer)/i.test(r.stdout)) why = 'the failed push is not a warning naming the certificate';
      }
      // What the run said about it: its error, else its warnings.
      const said = r.stdout.split('\n').filter((l) => l.startsWith('::error') || l.startsWith('::warning'));
      console.log(
        `${why ? 'WRONG' : 'ok   '} ${c.why} (exit ${r.code}, ${(r.ms / 1000).toFixed(1)} s)${why ? `: ${why}` : ''}\n      ${said.join('\n      ').slice(0, 600)}`,
      );
      if (why) wrong.push(`${c.why}: ${why}`);
    }
    const n = cases.length + 1;
    console.log(
      `FIGURE tls cases: ${n} tried, ${n - wrong.length} correct — ${FROM_SOURCE ? 'sources' : 'bundles'}; smoke targets, API server, smoke gate, Prometheus, Pushgateway, TLS registry; seed ${seed}`,
    );
    expect(wrong).toEqual([]);
  });
});
