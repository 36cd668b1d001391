// Issue 14, bad-input corpus: inputs the per-action corpora (actions/*/test/bad-inputs.test.ts,
// test/security/*) never tried, through what users run — the five bundles, the bundled CLI, and the
// GitLab components (gitlab-ci-local at include time, and the component's own script line). The base
// inputs of each action are valid against the real stack, so a bad input that slips through would
// apply, push or build for real; the registry (_catalog + our repos' tags) and the cluster (hf-
// namespaces and their objects) are listed before and after every case and must not change.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { component, createProject } from '../e2e/gitlab/project.ts';
import { GCL } from '../e2e/gitlab/run.ts';
import { cliEntry, FROM_SOURCE, parseOutputFile, type Run, repoRoot, runCli, runGitHubAction, stackLines } from '../support/run-action.ts';

const seed = Number(process.env.SHIPLINE_SEED ?? Math.floor(Math.random() * 1e9));
const ns = `hf-bad-${seed.toString(36).slice(-6)}`;
const REGISTRY = process.env.SHIPLINE_REGISTRY ?? '127.0.0.1:5000';
const REPO = `hf-bad/app`;
const KCFG = process.env.KUBECONFIG ?? '';
const NODE_IMAGE = process.env.SHIPLINE_NODE_IMAGE ?? `${REGISTRY}/shipline/node:24`;
let dir: string;
const f = (name: string) => join(dir, name);

function kubectl(args: string[]): { code: number | null; out: string } {
  const r = spawnSync('kubectl', args, { encoding: 'utf8', env: { ...process.env, KUBECONFIG: KCFG }, timeout: 60_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Every repository, page by page (the registry caps `n`); any failure fails the snapshot, never an empty list. */
async function catalog(): Promise<string[]> {
  const all: string[] = [];
  let next: string | undefined = `/v2/_catalog?n=1000`;
  while (next) {
    const r = await fetch(`http://${REGISTRY}${next}`);
    if (r.status !== 200) throw new Error(`registry catalog: HTTP ${r.status}`);
    all.push(...(((await r.json()) as { repositories: string[] | null }).repositories ?? []));
    next = /<([^>]+)>;\s*rel="next"/.exec(r.headers.get('link') ?? '')?.[1];
  }
  return all;
}

/** What must not change: hf- namespaces, every object in ours, our repositories and their tags. */
async function snapshot(): Promise<string> {
  const nsList = kubectl(['get', 'namespaces', '-o', 'jsonpath={range .items[*]}{.metadata.name}{"\\n"}{end}']);
  const objects = kubectl([
    'get',
    'all,configmaps,secrets,serviceaccounts,roles,rolebindings,ingresses',
    '-n',
    ns,
    '-o',
    'jsonpath={range .items[*]}{.kind}/{.metadata.name}@{.metadata.resourceVersion}{"\\n"}{end}',
  ]);
  const ours = (await catalog()).filter((r) => r.startsWith('hf-'));
  const tags: string[] = [];
  for (const r of ours) {
    const t = await fetch(`http://${REGISTRY}/v2/${r}/tags/list`);
    tags.push(`${r}: ${t.status} ${t.status === 200 ? JSON.stringify(((await t.json()) as { tags: string[] | null }).tags?.sort()) : ''}`);
  }
  return [
    `namespaces: ${nsList.out
      .split('\n')
      .filter((n) => n.startsWith('hf-'))
      .sort()
      .join(' ')}`,
    `objects in ${ns} (${objects.code}): ${objects.out.split('\n').filter(Boolean).sort().join(' ')}`,
    `registry hf- repos: ${ours.sort().join(' ')}`,
    ...tags,
  ].join('\n');
}

type Surface = 'github' | 'cli' | 'gitlab-include' | 'gitlab-script';
interface Case {
  why: string;
  surface: Surface;
  action: string;
  inputs: () => Record<string, string>;
  /** The input the error must name (any one of them, when the product may blame either). */
  input: string | string[];
}

const k8s = () => ({ manifests: f('ok.yaml'), namespace: ns, 'kubeconfig-path': KCFG });
const rv = () => ({ workloads: 'deploy/web', namespace: ns, 'kubeconfig-path': KCFG, timeout: '20s' });
const smoke = () => ({ url: 'http://127.0.0.1:9/', deadline: '2s', timeout: '1s' });
const svc = (target: Record<string, string>) => ({ ...target, 'kubeconfig-path': KCFG, deadline: '2s', timeout: '1s' });
const push = () => ({ image: NODE_IMAGE, destinations: `${REGISTRY}/${REPO}:c${seed}` });
const build = () => ({ context: f('ctx'), image: `${REGISTRY}/hf-bad/built`, load: 'false' });
const gate = (m: string) => ({ ...rv(), metrics: m, 'prometheus-url': process.env.PROMETHEUS_URL ?? 'http://127.0.0.1:9090', 'bake-time': '0s' });
const BOMB = [
  'a: &a ["x","x","x","x","x","x","x","x","x"]',
  ...'bcdefghi'
    .split('')
    .map(
      (c, i) =>
        `${c}: &${c} [*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)}]`,
    ),
].join('\n');

const gh = (action: string, why: string, inputs: () => Record<string, string>, input: string | string[]): Case => ({
  why,
  surface: 'github',
  action,
  inputs,
  input,
});
const cli = (action: string, why: string, inputs: () => Record<string, string>, input: string | string[]): Case => ({
  why,
  surface: 'cli',
  action,
  inputs,
  input,
});
const gli = (action: string, why: string, inputs: () => Record<string, string>, input: string): Case => ({
  why,
  surface: 'gitlab-include',
  action,
  inputs,
  input,
});
const gls = (action: string, why: string, inputs: () => Record<string, string>, input: string | string[]): Case => ({
  why,
  surface: 'gitlab-script',
  action,
  inputs,
  input,
});

const cases: Case[] = [
  // k8s-deploy: strategies, canary/blue-green inputs, booleans, ranges, references, YAML, kubeconfigs.
  gh('k8s-deploy', 'unknown strategy', () => ({ ...k8s(), strategy: 'canery' }), 'strategy'),
  gh('k8s-deploy', 'unknown action', () => ({ ...k8s(), action: 'rollback' }), 'action'),
  gh('k8s-deploy', 'zero canary replicas', () => ({ ...k8s(), strategy: 'canary', 'canary-replicas': '0' }), 'canary-replicas'),
  gh('k8s-deploy', 'canary percentage above 100', () => ({ ...k8s(), strategy: 'canary', 'canary-replicas': '150%' }), 'canary-replicas'),
  gh('k8s-deploy', 'negative canary replicas', () => ({ ...k8s(), strategy: 'canary', 'canary-replicas': '-1' }), 'canary-replicas'),
  gh('k8s-deploy', 'fractional canary replicas', () => ({ ...k8s(), strategy: 'canary', 'canary-replicas': '1.5' }), 'canary-replicas'),
  gh('k8s-deploy', 'canary replicas as words', () => ({ ...k8s(), strategy: 'canary', 'canary-replicas': 'two' }), 'canary-replicas'),
  gh('k8s-deploy', 'canary replicas without canary strategy', () => ({ ...k8s(), 'canary-replicas': '2' }), ['canary-replicas', 'strategy']),
  gh('k8s-deploy', 'canary replicas with blue-green', () => ({ ...k8s(), strategy: 'blue-green', 'canary-replicas': '2' }), ['canary-replicas', 'strategy']),
  gh('k8s-deploy', 'scale-down-delay without unit', () => ({ ...k8s(), strategy: 'blue-green', 'scale-down-delay': '30' }), 'scale-down-delay'),
  gh('k8s-deploy', 'scale-down-delay beyond timers', () => ({ ...k8s(), strategy: 'blue-green', 'scale-down-delay': '9000h' }), 'scale-down-delay'),
  gh('k8s-deploy', 'timeout with a space', () => ({ ...k8s(), wait: 'true', timeout: '5 m' }), 'timeout'),
  gh('k8s-deploy', 'wait as on', () => ({ ...k8s(), wait: 'on' }), 'wait'),
  gh('k8s-deploy', 'dry-run as no', () => ({ ...k8s(), 'dry-run': 'no' }), 'dry-run'),
  gh('k8s-deploy', 'force-conflicts as 1', () => ({ ...k8s(), 'force-conflicts': '1' }), 'force-conflicts'),
  gh('k8s-deploy', 'provenance as enabled', () => ({ ...k8s(), provenance: 'enabled' }), 'provenance'),
  gh('k8s-deploy', 'concurrency as words', () => ({ ...k8s(), concurrency: 'many' }), 'concurrency'),
  gh('k8s-deploy', 'negative concurrency', () => ({ ...k8s(), concurrency: '-4' }), 'concurrency'),
  gh('k8s-deploy', 'request-timeout with a space', () => ({ ...k8s(), 'request-timeout': '30 s' }), 'request-timeout'),
  gh('k8s-deploy', 'digest with non-hex', () => ({ ...k8s(), images: `${REGISTRY}/app@sha256:${'z'.repeat(64)}` }), 'images'),
  gh('k8s-deploy', 'image with two tags', () => ({ ...k8s(), images: `${REGISTRY}/app:1:2` }), 'images'),
  gh('k8s-deploy', 'image with dot-dot path', () => ({ ...k8s(), images: `${REGISTRY}/../evil:1` }), 'images'),
  gh('k8s-deploy', 'image with inner space', () => ({ ...k8s(), images: `${REGISTRY}/app :1` }), 'images'),
  gh('k8s-deploy', 'images as a JSON object', () => ({ ...k8s(), images: '{"app":"x:1"}' }), 'images'),
  gh('k8s-deploy', 'image with a 129-char tag', () => ({ ...k8s(), images: `${REGISTRY}/app:${'t'.repeat(129)}` }), 'images'),
  gh('k8s-deploy', 'var with a space in the name', () => ({ ...k8s(), vars: 'MY VAR=1' }), 'vars'),
  gh('k8s-deploy', 'namespace starting with -', () => ({ ...k8s(), namespace: '-shop' }), 'namespace'),
  gh('k8s-deploy', 'namespace of 64 chars', () => ({ ...k8s(), namespace: `hf-${'a'.repeat(61)}` }), 'namespace'),
  gh('k8s-deploy', 'set with a space', () => ({ ...k8s(), set: 'my set' }), 'set'),
  gh('k8s-deploy', 'set of 64 chars', () => ({ ...k8s(), set: 's'.repeat(64) }), 'set'),
  gh('k8s-deploy', 'YAML alias bomb', () => ({ ...k8s(), manifests: f('bomb.yaml') }), 'manifests'),
  gh('k8s-deploy', 'tab-indented YAML', () => ({ ...k8s(), manifests: f('tabs.yaml') }), 'manifests'),
  gh('k8s-deploy', 'second document broken', () => ({ ...k8s(), manifests: f('twodocs.yaml') }), 'manifests'),
  gh('k8s-deploy', 'document without apiVersion', () => ({ ...k8s(), manifests: f('noapi.yaml') }), 'manifests'),
  gh('k8s-deploy', 'document without a name', () => ({ ...k8s(), manifests: f('noname.yaml') }), 'manifests'),
  gh('k8s-deploy', 'document that is a list', () => ({ ...k8s(), manifests: f('seq.yaml') }), 'manifests'),
  gh('k8s-deploy', 'metadata that is a string', () => ({ ...k8s(), manifests: f('metastr.yaml') }), 'manifests'),
  gh('k8s-deploy', 'kubeconfig-path is a directory', () => ({ ...k8s(), 'kubeconfig-path': dir }), 'kubeconfig-path'),
  gh('k8s-deploy', 'kubeconfig-path is an empty file', () => ({ ...k8s(), 'kubeconfig-path': f('empty.kubeconfig') }), 'kubeconfig-path'),
  gh('k8s-deploy', 'kubeconfig current-context dangling', () => ({ ...k8s(), 'kubeconfig-path': f('dangling.kubeconfig') }), 'kubeconfig-path'),
  gh(
    'k8s-deploy',
    'kubeconfig clusters as a string',
    () => ({ manifests: f('ok.yaml'), namespace: ns, kubeconfig: 'apiVersion: v1\nkind: Config\nclusters: nope\n' }),
    'kubeconfig',
  ),
  gh('k8s-deploy', 'kubeconfig context without cluster', () => ({ ...k8s(), 'kubeconfig-path': f('nocluster.kubeconfig') }), 'kubeconfig-path'),
  gh('k8s-deploy', 'kubeconfig CA that is not base64 PEM', () => ({ ...k8s(), 'kubeconfig-path': f('badca.kubeconfig') }), 'kubeconfig-path'),
  gh(
    'k8s-deploy',
    'pull secret with a bad name',
    () => ({ ...k8s(), 'image-pull-secret': 'Reg_Cred', registry: REGISTRY, 'registry-username': 'u', 'registry-password': 'p4ssw0rd-hf' }),
    'image-pull-secret',
  ),
  gh(
    'k8s-deploy',
    'pull-secret registry with scheme',
    () => ({ ...k8s(), 'image-pull-secret': 'regcred', registry: `https://${REGISTRY}`, 'registry-username': 'u', 'registry-password': 'p4ssw0rd-hf' }),
    'registry',
  ),
  gh('k8s-deploy', 'environment-url that is not a URL', () => ({ ...k8s(), environment: 'staging', 'environment-url': 'not a url' }), 'environment-url'),
  // rollout-verify: PromQL gates, gate knobs, smoke gate, delivery metrics, references.
  gh('rollout-verify', 'gate without a name', () => gate('sum(rate(x[1m])) < 1'), 'metrics'),
  gh('rollout-verify', 'gate with unbalanced parens', () => gate('err: sum(rate(x[1m]) < 0.1'), 'metrics'),
  gh('rollout-verify', 'gate with unbalanced braces', () => gate('err: up{job="x" < 1'), 'metrics'),
  gh('rollout-verify', 'gate with unbalanced brackets', () => gate('err: rate(up[5m) < 1'), 'metrics'),
  gh('rollout-verify', 'gate without comparison', () => gate('err: up'), 'metrics'),
  gh('rollout-verify', 'gate with non-number threshold', () => gate('err: up < abc'), 'metrics'),
  gh('rollout-verify', 'gate with =< operator', () => gate('err: up =< 1'), 'metrics'),
  gh('rollout-verify', 'gate name twice', () => gate('err: up < 1\nerr: up < 2'), 'metrics'),
  gh('rollout-verify', 'gate name with space', () => gate('my gate: up < 1'), 'metrics'),
  gh('rollout-verify', 'samples line with <', () => gate('err: up < 1\n  samples: sum(up) < 5'), 'metrics'),
  gh('rollout-verify', 'gate with empty query', () => gate('err:  < 1'), 'metrics'),
  gh('rollout-verify', 'gates without prometheus-url', () => ({ ...rv(), metrics: 'err: up < 1' }), ['prometheus-url', 'metrics']),
  gh('rollout-verify', 'prometheus-url not a URL', () => ({ ...gate('err: up < 1'), 'prometheus-url': 'prometheus:9090' }), 'prometheus-url'),
  gh('rollout-verify', 'prometheus-url ftp', () => ({ ...gate('err: up < 1'), 'prometheus-url': 'ftp://127.0.0.1:9090' }), 'prometheus-url'),
  gh('rollout-verify', 'pushgateway-url not a URL', () => ({ ...rv(), 'pushgateway-url': 'push gateway' }), 'pushgateway-url'),
  gh('rollout-verify', 'bake-time in words', () => ({ ...gate('err: up < 1'), 'bake-time': '1 minute' }), 'bake-time'),
  gh('rollout-verify', 'interval in words', () => ({ ...gate('err: up < 1'), interval: 'often' }), 'interval'),
  gh('rollout-verify', 'negative failure-limit', () => ({ ...gate('err: up < 1'), 'failure-limit': '-1' }), 'failure-limit'),
  gh('rollout-verify', 'inconclusive-limit as words', () => ({ ...gate('err: up < 1'), 'inconclusive-limit': 'x' }), 'inconclusive-limit'),
  gh('rollout-verify', 'fractional error-limit', () => ({ ...gate('err: up < 1'), 'error-limit': '1.5' }), 'error-limit'),
  gh('rollout-verify', 'min-samples as words', () => ({ ...gate('err: up < 1'), 'min-samples': 'many' }), 'min-samples'),
  gh('rollout-verify', 'unknown on-failure', () => ({ ...gate('err: up < 1'), 'on-failure': 'rollback' }), 'on-failure'),
  gh('rollout-verify', 'unknown on-inconclusive', () => ({ ...gate('err: up < 1'), 'on-inconclusive': 'ignore' }), 'on-inconclusive'),
  gh('rollout-verify', 'smoke-url not a URL', () => ({ ...rv(), 'smoke-url': 'not a url' }), 'smoke-url'),
  gh('rollout-verify', 'unknown smoke-method', () => ({ ...rv(), 'smoke-url': 'http://127.0.0.1:9/', 'smoke-method': 'FETCH' }), 'smoke-method'),
  gh('rollout-verify', 'smoke-expect-status 9xx', () => ({ ...rv(), 'smoke-url': 'http://127.0.0.1:9/', 'smoke-expect-status': '9xx' }), 'smoke-expect-status'),
  gh('rollout-verify', 'smoke-timeout without unit', () => ({ ...rv(), 'smoke-url': 'http://127.0.0.1:9/', 'smoke-timeout': '10' }), 'smoke-timeout'),
  gh('rollout-verify', 'smoke-expect-json without =', () => ({ ...rv(), 'smoke-url': 'http://127.0.0.1:9/', 'smoke-expect-json': '$.a' }), 'smoke-expect-json'),
  gh('rollout-verify', 'smoke-headers without colon', () => ({ ...rv(), 'smoke-url': 'http://127.0.0.1:9/', 'smoke-headers': 'X-Token abc' }), 'smoke-headers'),
  gh('rollout-verify', 'smoke-insecure as yes', () => ({ ...rv(), 'smoke-url': 'https://127.0.0.1:9/', 'smoke-insecure': 'yes' }), 'smoke-insecure'),
  gh('rollout-verify', 'smoke-ca-file missing', () => ({ ...rv(), 'smoke-url': 'https://127.0.0.1:9/', 'smoke-ca-file': f('nope.pem') }), 'smoke-ca-file'),
  gh('rollout-verify', 'smoke-service without namespace', () => ({ ...rv(), 'smoke-service': 'web:8080/' }), 'smoke-service'),
  gh('rollout-verify', 'digest without algorithm', () => ({ ...rv(), digest: 'a'.repeat(64) }), 'digest'),
  gh('rollout-verify', 'started-at in words', () => ({ ...rv(), 'started-at': 'yesterday' }), 'started-at'),
  gh('rollout-verify', 'deployment-id not a number', () => ({ ...rv(), 'deployment-id': 'abc' }), 'deployment-id'),
  gh('rollout-verify', 'unterminated selector set', () => ({ namespace: ns, 'kubeconfig-path': KCFG, selector: 'app in (a,b' }), 'selector'),
  gh('rollout-verify', 'resources item without kind', () => ({ namespace: ns, 'kubeconfig-path': KCFG, resources: '[{"name":"web"}]' }), 'resources'),
  gh('rollout-verify', 'workload with empty name', () => ({ ...rv(), workloads: 'deploy/' }), 'workloads'),
  gh('rollout-verify', 'max-restarts negative', () => ({ ...rv(), 'max-restarts': '-2' }), 'max-restarts'),
  gh('rollout-verify', 'log-lines as words', () => ({ ...rv(), 'log-lines': 'all' }), 'log-lines'),
  // smoke-test
  gh('smoke-test', 'unclosed IPv6 host', () => ({ ...smoke(), url: 'http://[::1/health' }), 'url'),
  gh('smoke-test', 'port out of range', () => ({ ...smoke(), url: 'http://127.0.0.1:99999/' }), 'url'),
  gh('smoke-test', 'javascript: URL', () => ({ ...smoke(), url: 'javascript:alert(1)' }), 'url'),
  gh('smoke-test', 'max-latency without unit', () => ({ ...smoke(), 'max-latency': '5' }), 'max-latency'),
  gh('smoke-test', 'max-interval unknown unit', () => ({ ...smoke(), 'max-interval': '1x' }), 'max-interval'),
  gh('smoke-test', 'follow-redirects as on', () => ({ ...smoke(), 'follow-redirects': 'on' }), 'follow-redirects'),
  gh('smoke-test', 'negative max-redirects', () => ({ ...smoke(), 'max-redirects': '-1' }), 'max-redirects'),
  gh('smoke-test', 'status range syntax', () => ({ ...smoke(), 'expect-status': '200-299' }), 'expect-status'),
  gh('smoke-test', 'JSON rule with == and nothing after', () => ({ ...smoke(), 'expect-json': '$.a == ' }), 'expect-json'),
  gh('smoke-test', 'pod with two ports', () => svc({ pod: `${ns}/web:80:81/` }), 'pod'),
  gh('smoke-test', 'service with uppercase namespace', () => svc({ service: 'HF/web:80/' }), 'service'),
  gh('smoke-test', 'service port zero', () => svc({ service: `${ns}/web:0/` }), 'service'),
  gh('smoke-test', 'retries in exponent form', () => ({ ...smoke(), retries: '1e2' }), 'retries'),
  gh('smoke-test', 'ca-file is a directory', () => ({ ...smoke(), url: 'https://127.0.0.1:9/', 'ca-file': dir }), 'ca-file'),
  gh('smoke-test', 'unknown context on a real kubeconfig', () => svc({ service: `${ns}/web:80/`, context: 'hf-nope' }), 'context'),
  gh('smoke-test', 'body with HEAD', () => ({ ...smoke(), method: 'HEAD', body: 'x' }), 'body'),
  // registry-push
  gh('registry-push', 'destination with empty tag', () => ({ ...push(), destinations: `${REGISTRY}/${REPO}:` }), 'destinations'),
  gh('registry-push', 'destination that is only a tag', () => ({ ...push(), destinations: ':v1' }), 'destinations'),
  gh('registry-push', 'destination with 129-char tag', () => ({ ...push(), destinations: `${REGISTRY}/${REPO}:${'t'.repeat(129)}` }), 'destinations'),
  gh('registry-push', 'destination with a..b path', () => ({ ...push(), destinations: `${REGISTRY}/hf-bad/a..b:1` }), 'destinations'),
  gh('registry-push', 'destination with port 99999', () => ({ ...push(), destinations: '127.0.0.1:99999/hf-bad/app:1' }), 'destinations'),
  gh(
    'registry-push',
    'second destination bad',
    () => ({ ...push(), destinations: `${REGISTRY}/${REPO}:ok${seed}\n${REGISTRY}/${REPO}:bad tag` }),
    'destinations',
  ),
  gh('registry-push', 'source image uppercase', () => ({ ...push(), image: 'Shipline/Node:24' }), 'image'),
  gh('registry-push', 'gzip level negative', () => ({ ...push(), compression: 'gzip:-1' }), 'compression'),
  gh('registry-push', 'zstd level out of range', () => ({ ...push(), compression: 'zstd:99' }), 'compression'),
  gh('registry-push', 'docker-config missing', () => ({ ...push(), 'docker-config': f('nope.json') }), 'docker-config'),
  gh('registry-push', 'docker-config not JSON', () => ({ ...push(), 'docker-config': f('ok.yaml') }), 'docker-config'),
  gh('registry-push', 'ca-file without PEM', () => ({ ...push(), 'ca-file': f('ok.yaml') }), 'ca-file'),
  gh('registry-push', 'insecure registry with a path', () => ({ ...push(), 'insecure-registries': 'reg.example:5000/x' }), 'insecure-registries'),
  gh('registry-push', 'concurrency as words', () => ({ ...push(), concurrency: 'four' }), 'concurrency'),
  gh('registry-push', 'docker-host with unknown scheme', () => ({ ...push(), 'docker-host': 'bogus://x' }), 'docker-host'),
  // docker-build
  gh('docker-build', 'platform with too many parts', () => ({ ...build(), platforms: 'linux/amd64/v2/x' }), 'platforms'),
  gh('docker-build', 'raw tag with a space', () => ({ ...build(), tags: 'type=raw,value=bad tag' }), 'tags'),
  gh('docker-build', 'tag rule with unknown key', () => ({ ...build(), tags: 'type=raw,value=v1,colour=red' }), 'tags'),
  gh('docker-build', 'label with empty key', () => ({ ...build(), labels: '=x' }), 'labels'),
  gh('docker-build', 'build-arg with empty name', () => ({ ...build(), 'build-args': '=x' }), 'build-args'),
  gh('docker-build', 'secret with empty id', () => ({ ...build(), secrets: '=hf-build-secret-value' }), 'secrets'),
  gh('docker-build', 'target starting with -', () => ({ ...build(), target: '-x' }), 'target'),
  gh('docker-build', 'cache-ref uppercase', () => ({ ...build(), cache: 'registry', 'cache-ref': `${REGISTRY}/HF/cache` }), 'cache-ref'),
  gh('docker-build', 'pull as maybe', () => ({ ...build(), pull: 'maybe' }), 'pull'),
  gh('docker-build', 'file is a directory', () => ({ ...build(), file: f('ctx') }), 'file'),
  gh('docker-build', 'buildkit-image with a space', () => ({ ...build(), 'buildkit-image': 'moby/build kit' }), 'buildkit-image'),
  gh('docker-build', 'annotation with empty key', () => ({ ...build(), annotations: 'index:=x' }), 'annotations'),
  // The bundled CLI (`error: input "x"` on stderr).
  cli('k8s-deploy', 'cli: blue strategy', () => ({ ...k8s(), strategy: 'blue' }), 'strategy'),
  cli('k8s-deploy', 'cli: canary percentage 0%', () => ({ ...k8s(), strategy: 'canary', 'canary-replicas': '0%' }), 'canary-replicas'),
  cli('k8s-deploy', 'cli: namespace with dot', () => ({ ...k8s(), namespace: 'hf.bad' }), 'namespace'),
  cli('k8s-deploy', 'cli: kubeconfig-path missing', () => ({ ...k8s(), 'kubeconfig-path': f('nope') }), 'kubeconfig-path'),
  cli('rollout-verify', 'cli: gate with dangling operator', () => gate('err: up <'), 'metrics'),
  cli('rollout-verify', 'cli: unknown workload kind', () => ({ ...rv(), workloads: 'configmap/x' }), 'workloads'),
  cli('rollout-verify', 'cli: timeout in words', () => ({ ...rv(), timeout: 'five minutes' }), 'timeout'),
  cli('smoke-test', 'cli: insecure as y', () => ({ ...smoke(), insecure: 'y' }), 'insecure'),
  cli('smoke-test', 'cli: deadline negative', () => ({ ...smoke(), deadline: '-1s' }), 'deadline'),
  cli('smoke-test', 'cli: status class 6xx', () => ({ ...smoke(), 'expect-status': '6xx' }), 'expect-status'),
  cli('registry-push', 'cli: destination with scheme', () => ({ ...push(), destinations: `oci://${REGISTRY}/${REPO}:1` }), 'destinations'),
  cli('registry-push', 'cli: unknown manifest-format', () => ({ ...push(), 'manifest-format': 'v2s1' }), 'manifest-format'),
  cli('registry-push', 'cli: missing destinations', () => ({ image: NODE_IMAGE }), 'destinations'),
  cli('docker-build', 'cli: missing context', () => ({ ...build(), context: f('nope') }), 'context'),
  cli('docker-build', 'cli: cache local without dir', () => ({ ...build(), cache: 'local' }), 'cache-dir'),
  cli('k8s-deploy', 'cli: set with a slash', () => ({ ...k8s(), set: 'a/b' }), 'set'),
  // GitLab components: spec:inputs refused by gitlab-ci-local at include time.
  gli('smoke-test', 'include: job-prefix with uppercase', () => ({ url: 'http://x/', 'job-prefix': 'Smoke' }), 'job-prefix'),
  gli('smoke-test', 'include: method not in options', () => ({ url: 'http://x/', method: 'FETCH' }), 'method'),
  gli('k8s-deploy', 'include: wait as a string', () => ({ manifests: 'k8s', wait: 'yes' }), 'wait'),
  gli('k8s-deploy', 'include: strategy not in options', () => ({ manifests: 'k8s', strategy: 'canery' }), 'strategy'),
  gli('rollout-verify', 'include: bake-time in words', () => ({ workloads: 'deploy/web', 'bake-time': '1 minute' }), 'bake-time'),
  gli('registry-push', 'include: concurrency as words', () => ({ destinations: 'r/a:1', concurrency: 'four' }), 'concurrency'),
  // GitLab components: the job's own script line (its variables and quoting) running the CLI.
  gls('k8s-deploy', 'script: canary replicas 101%', () => ({ ...k8s(), strategy: 'canary', 'canary-replicas': '101%' }), 'canary-replicas'),
  gls('k8s-deploy', 'script: image with shell metacharacters', () => ({ ...k8s(), images: `${REGISTRY}/app:$(touch ${f('pwned')})` }), 'images'),
  gls(
    'rollout-verify',
    'script: gate with quotes and unbalanced paren',
    () => ({ ...rv(), metrics: `err: sum(rate(x{code=~"5.."}[1m]) < 0.1`, 'prometheus-url': 'http://127.0.0.1:9090' }),
    'metrics',
  ),
  gls('rollout-verify', 'script: workloads with a semicolon', () => ({ ...rv(), workloads: 'deploy/web; rm -rf /' }), 'workloads'),
  gls('smoke-test', 'script: url with backticks', () => ({ ...smoke(), url: `not a url \`touch ${f('pwned')}\`` }), 'url'),
  gls('smoke-test', 'script: headers with a newline injection', () => ({ ...smoke(), headers: 'X-A: 1\nBad Header: 2' }), 'headers'),
  gls('registry-push', 'script: destination with spaces', () => ({ ...push(), destinations: `${REGISTRY}/${REPO}:a b` }), 'destinations'),
  gls('docker-build', 'script: platform as a word', () => ({ ...build(), platforms: 'arm' }), 'platforms'),
];

/** The one contract, per surface; returns why the case failed, or '' when it was correct. */
function judge(c: Case, r: Run): string {
  const names = typeof c.input === 'string' ? [c.input] : c.input;
  const all = `${r.stdout}\n${r.stderr}`;
  if (r.code !== 1) return `exit ${r.code}`;
  if (stackLines(all).length > 0) return `stack trace: ${stackLines(all)[0]}`;
  if (Object.keys(r.outputs).length > 0) return `outputs: ${Object.keys(r.outputs).join(',')}`;
  const errors =
    c.surface === 'github'
      ? r.stdout.split('\n').filter((l) => /^::error( [^:]*)?::/.test(l))
      : all
          .split('\n')
          .map(plain)
          .filter((l) => /^(error|ERROR):/.test(l));
  if (errors.length !== 1) return `${errors.length} error lines`;
  const line = errors[0] as string;
  // GitHub: an ::error annotation; the CLI: `error: input "x"`; under GitLab CI the CLI's GitLab host
  // writes the same line as a red `ERROR:` (the job log's own error style).
  const named = names.some((n) =>
    c.surface === 'github' ? line.includes(`input "${n}"`) : line.startsWith(`${c.surface === 'cli' ? 'error' : 'ERROR'}: input "${n}"`),
  );
  if (!named) return `error names another input: ${line.slice(0, 200)}`;
  return '';
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes are what is stripped
const plain = (l: string) => l.replace(/\x1b\[[0-9;]*m/g, '');

const flags = (inputs: Record<string, string>) => Object.entries(inputs).flatMap(([k, v]) => [`--${k}`, v]);

function sh(script: string, env: NodeJS.ProcessEnv, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  return new Promise((res) => {
    const t = performance.now();
    const child = spawn('sh', ['-c', script], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (code) => res({ code, stdout, stderr, ms: performance.now() - t }));
  });
}

/** The component's job as GitLab would render it from `inputs` (spec defaults filled in), run by sh. */
async function runComponentScript(action: string, inputs: Record<string, string>): Promise<Run> {
  const [specDoc, jobDoc] = parseAllDocuments(readFileSync(join(repoRoot, 'templates', `${action}.yml`), 'utf8')).map((d) => d.toJS()) as [
    { spec: { inputs: Record<string, { default?: unknown }> } },
    Record<string, { variables: Record<string, string>; script: string[] }>,
  ];
  const values: Record<string, string> = {};
  for (const [k, v] of Object.entries(specDoc.spec.inputs)) values[k] = typeof v.default === 'string' ? v.default : JSON.stringify(v.default ?? '');
  Object.assign(values, inputs);
  const fill = (s: string) => s.replace(/\$\[\[ inputs\.([a-z0-9-]+) \]\]/g, (_m, k: string) => values[k] ?? '');
  const job = Object.values(jobDoc)[0] as { variables: Record<string, string>; script: string[] };
  const work = mkdtempSync(join(dir, 'job-'));
  const bin = join(work, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'shipline'), `#!/bin/sh\nexec "${process.execPath}" "${cliEntry()}" "$@"\n`);
  chmodSync(join(bin, 'shipline'), 0o755);
  const env: NodeJS.ProcessEnv = { PATH: `${bin}:${process.env.PATH}`, HOME: work, GITLAB_CI: 'true', CI_PROJECT_DIR: work, KUBECONFIG: KCFG };
  for (const [k, v] of Object.entries(job.variables)) env[k] = fill(String(v));
  const r = await sh(job.script.map(fill).join('\n'), env, work);
  const dotenvPath = join(work, String(env.SHIPLINE_DOTENV));
  let outputs: Record<string, string> = {};
  try {
    outputs = parseOutputFile(readFileSync(dotenvPath, 'utf8'));
  } catch {}
  return { ...r, outputs, summary: '' };
}

/** gitlab-ci-local reading a pipeline that includes the component with `inputs`. */
function runInclude(action: string, inputs: Record<string, string>): Run {
  const pdir = mkdtempSync(join(dir, 'gcl-'));
  createProject(pdir, `${REGISTRY}/${REPO}`).pipeline({ stages: ['build', 'deploy'], include: [{ component: component(action), inputs }] });
  const t = performance.now();
  const r = spawnSync(process.execPath, [GCL, '--list-json'], { cwd: pdir, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, outputs: {}, summary: '', ms: performance.now() - t };
}

/** gitlab-ci-local's own contract: refused (non-zero), the input named, no stack trace. */
function judgeInclude(c: Case, r: Run): string {
  const all = `${r.stdout}\n${r.stderr}`;
  if (r.code === 0) return 'accepted';
  if (stackLines(all).length > 0) return `stack trace: ${stackLines(all)[0]}`;
  const lines = all.split('\n').filter((l) => l.includes(c.input as string));
  if (lines.length === 0) return `input not named: ${all.trim().slice(0, 200)}`;
  return '';
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'shipline-hf-bad-'));
  const cm = (name: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  a: "1"\n`;
  writeFileSync(f('ok.yaml'), cm('hf-probe'));
  writeFileSync(f('bomb.yaml'), `${BOMB}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hf-bomb\n`);
  writeFileSync(f('tabs.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: hf-tabs\n');
  writeFileSync(f('twodocs.yaml'), `${cm('hf-first')}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: hf-second\n`);
  writeFileSync(f('noapi.yaml'), 'kind: ConfigMap\nmetadata:\n  name: hf-noapi\n');
  writeFileSync(f('noname.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels: {a: b}\n');
  writeFileSync(f('seq.yaml'), '- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: hf-seq}\n');
  writeFileSync(f('metastr.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: hf-metastr\n');
  writeFileSync(f('empty.kubeconfig'), '');
  const real = readFileSync(KCFG, 'utf8');
  writeFileSync(f('dangling.kubeconfig'), real.replace(/current-context:.*/, 'current-context: hf-missing'));
  writeFileSync(
    f('nocluster.kubeconfig'),
    'apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts:\n- name: c\n  context: {cluster: gone, user: u}\nusers:\n- name: u\n  user: {token: hf-tok-0123456789}\n',
  );
  writeFileSync(f('badca.kubeconfig'), real.replace(/certificate-authority-data:.*/, 'certificate-authority-data: bm90IGEgY2VydA=='));
  mkdirSync(f('ctx'));
  writeFileSync(f('ctx/Dockerfile'), 'FROM scratch\nCOPY a /a\n');
  writeFileSync(f('ctx/a'), 'a\n');
  expect(kubectl(['create', 'namespace', ns]).code).toBe(0);
});

afterAll(() => {
  kubectl(['delete', 'namespace', ns, '--wait=false']);
  rmSync(dir, { recursive: true, force: true });
});

describe('bad-input corpus (issue 14)', () => {
  it(`at least 100 cases across the bundles, the CLI and the GitLab components, all refused cleanly`, async () => {
    expect(cases.length).toBeGreaterThanOrEqual(100);
    expect(new Set(cases.map((c) => `${c.action} ${c.why}`)).size).toBe(cases.length);
    const wrong: string[] = [];
    const surfaces: Record<string, number> = {};
    const baseline = await snapshot();
    // Each case against the state just before it, so one slip is blamed on its case alone.
    let before = baseline;
    let ms = 0;
    for (const c of cases) {
      surfaces[c.surface] = (surfaces[c.surface] ?? 0) + 1;
      const inputs = c.inputs();
      const env = { HOME: dir, RUNNER_TEMP: dir, KUBECONFIG: KCFG, DOCKER_HOST: process.env.DOCKER_HOST ?? '' };
      const r =
        c.surface === 'github'
          ? await runGitHubAction(c.action, inputs, { env, timeoutMs: 60_000 })
          : c.surface === 'cli'
            ? await runCli([c.action, ...flags(inputs)], { env })
            : c.surface === 'gitlab-script'
              ? await runComponentScript(c.action, inputs)
              : runInclude(c.action, inputs);
      ms += r.ms;
      let why = c.surface === 'gitlab-include' ? judgeInclude(c, r) : judge(c, r);
      const now = await snapshot();
      if (now !== before) {
        const was = new Set(before.split('\n'));
        const is = new Set(now.split('\n'));
        const diff = [...[...was].filter((l) => !is.has(l)).map((l) => `- ${l}`), ...[...is].filter((l) => !was.has(l)).map((l) => `+ ${l}`)];
        why = `${why ? `${why}; ` : ''}state changed:\n${diff.join('\n')}`;
      }
      before = now;
      if (readdirSync(dir).includes('pwned')) why = `${why ? `${why}; ` : ''}a shell ran an input`;
      if (why) wrong.push(`${c.surface} ${c.action} "${c.why}": ${why}\n  ${(r.stdout + r.stderr).split('\n').slice(0, 6).join('\n  ')}`);
    }
    for (const w of wrong) console.log(`WRONG ${w}`);
    const detail = Object.entries(surfaces)
      .map(([s, n]) => `${s} ${n}`)
      .join(', ');
    console.log(`state before/after each case:\n${baseline}`);
    console.log(
      `FIGURE bad-input corpus: ${cases.length} tried, ${cases.length - wrong.length} correct — ${detail}; ${FROM_SOURCE ? 'sources' : 'bundles'}; registry and cluster unchanged after each; seed ${seed}; ${(ms / cases.length).toFixed(0)} ms/case`,
    );
    expect(wrong).toEqual([]);
  });
});
