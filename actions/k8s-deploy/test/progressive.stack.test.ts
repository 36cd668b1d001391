// Canary and blue-green through the real action on the stack: pods really run and serve a marker,
// the host reaches Services by ClusterIP (kube-proxy), and every step is a separate run of the
// action (its committed bundle, as test/support/run-action.ts runs it) that knows only what the
// objects carry.
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as exec, need, sh, tempDir, uniq } from '../../../test/stack/index.ts';
import { type Run, runGitHubAction } from '../../../test/support/run-action.ts';
import { deployment, pinnedNodeImage, service, serving, yaml } from '../../../test/support/workloads.ts';

const id = uniq();
const namespaces: string[] = [];
let work: string;
let tagged: string;
let pinned: { repo: string; digest: string; ref: string };

beforeAll(async () => {
  work = tempDir('k8s-deploy-progressive');
  tagged = need('SHIPLINE_NODE_IMAGE');
  pinned = await pinnedNodeImage(tagged);
});
afterAll(async () => {
  if (namespaces.length) await exec('kubectl', ['delete', 'namespace', ...namespaces, '--wait=false', '--ignore-not-found'], { allowFail: true });
});

/** k8s-deploy under the GitHub contract, with a run context for its provenance annotations. */
function k8sDeploy(inputs: Record<string, string>, timeoutMs = 300_000): Promise<Run> {
  return runGitHubAction('k8s-deploy', inputs, {
    env: { GITHUB_REPOSITORY: 'shop/web', GITHUB_SHA: 'c0ffee', GITHUB_RUN_ID: '42', KUBECONFIG: need('KUBECONFIG'), RUNNER_TEMP: work },
    timeoutMs,
  });
}

function manifests(name: string, objects: Record<string, unknown>[]): string {
  const dir = join(work, `m-${name}-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'app.yaml'), yaml(...objects));
  return dir;
}

const kubectlJson = async (ns: string, what: string[]): Promise<Record<string, unknown> & { items?: Record<string, unknown>[] }> =>
  JSON.parse(await sh('kubectl', ['get', '-n', ns, ...what, '-o', 'json']));

async function podUids(ns: string, selector: string): Promise<string[]> {
  const pods = await kubectlJson(ns, ['pods', '-l', selector]);
  return (pods.items ?? []).map((p) => (p.metadata as { uid: string }).uid).sort();
}

async function exists(ns: string, what: string): Promise<boolean> {
  const r = await exec('kubectl', ['get', '-n', ns, what, '--ignore-not-found', '-o', 'name'], { allowFail: true });
  return r.stdout.trim() !== '';
}

const clusterIp = async (ns: string, svc: string): Promise<string> =>
  (await sh('kubectl', ['get', '-n', ns, 'service', svc, '-o', 'jsonpath={.spec.clusterIP}'])).trim();

/** One GET on a new connection (no keep-alive: every request is balanced anew by kube-proxy). */
function get(ip: string, timeoutMs = 2000): Promise<{ ok: boolean; marker?: string; error?: string }> {
  return new Promise((resolve) => {
    const req = http.get({ host: ip, port: 80, path: '/probe', agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (c) => {
        body += c;
      });
      res.on('end', () => {
        try {
          resolve({ ok: res.statusCode === 200, marker: JSON.parse(body).marker });
        } catch {
          resolve({ ok: false, error: `HTTP ${res.statusCode}: ${body.slice(0, 80)}` });
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ ok: false, error: e.message }));
  });
}

/** Until the Service answers once: kube-proxy programs a new Service a moment after it exists. */
async function reachable(ip: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await get(ip)).ok) {
    if (Date.now() > deadline) throw new Error(`${ip}:80 never answered`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function markers(ip: string, n: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const r = await get(ip);
    const k = r.ok ? (r.marker ?? '?') : `error: ${r.error}`;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/** A client probing every 200 ms until stopped: the figures of a switch under load. */
function probe(ip: string) {
  const seen: Record<string, number> = {};
  const errors: string[] = [];
  let sent = 0;
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      const t = performance.now();
      sent++;
      const r = await get(ip);
      if (r.ok) seen[r.marker ?? '?'] = (seen[r.marker ?? '?'] ?? 0) + 1;
      else errors.push(r.error ?? 'failed');
      await new Promise((res) => setTimeout(res, Math.max(0, 200 - (performance.now() - t))));
    }
  })();
  return async () => {
    stop = true;
    await loop;
    return { sent, failed: errors.length, errors: errors.slice(0, 5), seen };
  };
}

async function replicas(ns: string, deploymentName: string): Promise<number> {
  return Number((await sh('kubectl', ['get', '-n', ns, 'deployment', deploymentName, '-o', 'jsonpath={.spec.replicas}'])).trim());
}

const imageOf = async (ns: string, d: string) =>
  (await sh('kubectl', ['get', '-n', ns, 'deployment', d, '-o', 'jsonpath={.spec.template.spec.containers[0].image}'])).trim();

/** Creates the stable version with a rolling deploy (the step every progressive release starts from). */
async function stableVersion(ns: string, marker: string, replicaCount: number) {
  const dir = manifests(`stable-${marker}`, [deployment('web', serving(marker), { image: tagged, replicas: replicaCount }), service('web')]);
  const r = await k8sDeploy({ manifests: dir, namespace: ns, 'create-namespace': 'true', wait: 'true', timeout: '3m' });
  expect(r.code, r.stdout).toBe(0);
}

const newVersion = (marker: string, replicaCount = 1) =>
  manifests(`new-${marker}`, [deployment('web', serving(marker), { image: tagged, replicas: replicaCount }), service('web')]);

describe.concurrent('k8s-deploy progressive delivery', () => {
  it('canary: refused without a stable version, nothing applied', async () => {
    const ns = `pa-${id}-none`;
    namespaces.push(ns);
    await sh('kubectl', ['create', 'namespace', ns]);
    const r = await k8sDeploy({ manifests: newVersion('v2'), namespace: ns, strategy: 'canary', images: pinned.ref });
    expect(r.code, r.stdout).toBe(1);
    const errors = r.stdout.split('\n').filter((l) => l.startsWith('::error::'));
    expect(errors, r.stdout).toHaveLength(1);
    expect(errors[0]).toMatch(/input "strategy": a canary needs a live stable Deployment; not found: .*\/web.*deploy it with the rolling strategy first/);
    expect(await exists(ns, 'deployment/web-canary')).toBe(false);
    expect(await exists(ns, 'service/web')).toBe(false);
  });

  it('canary: serves a share of the Service traffic beside the untouched stable, then reject removes only the canary', async () => {
    const ns = `pa-${id}-canary`;
    namespaces.push(ns);
    await stableVersion(ns, 'v1', 3);
    const stableBefore = await podUids(ns, 'app=web,!shipline.dev/track');
    const stableUid = (await kubectlJson(ns, ['deployment', 'web'])).metadata as { uid: string; generation: number };

    const d = await k8sDeploy({
      manifests: newVersion('v2'),
      namespace: ns,
      strategy: 'canary',
      'canary-replicas': '34%',
      images: pinned.ref,
      wait: 'true',
      timeout: '3m',
    });
    expect(d.code, d.stdout).toBe(0);
    expect(d.outputs.strategy).toBe('canary');
    expect(d.outputs.canary).toBe(`${ns}/web-canary`);
    const resources = JSON.parse(d.outputs.resources ?? '[]') as { kind: string; name: string; action: string }[];
    expect(resources.map((x) => `${x.kind}/${x.name}`)).toEqual(['Deployment/web-canary']);
    expect(d.stdout).toMatch(/Service .*\/web: exists, left as it is/);
    expect(await replicas(ns, 'web-canary')).toBe(2); // 34% of 3, rounded up
    const canary = await kubectlJson(ns, ['deployment', 'web-canary']);
    expect((canary.metadata as { annotations: Record<string, string> }).annotations).toMatchObject({
      'shipline.dev/strategy': 'canary',
      'shipline.dev/canary-of': 'web',
      'shipline.dev/stable-revision': '1',
      'shipline.dev/run-url': 'https://github.com/shop/web/actions/runs/42',
    });

    const ip = await clusterIp(ns, 'web');
    const share = await markers(ip, 200);
    console.log(`canary share through Service web (3 stable + 2 canary pods): ${JSON.stringify(share)} of 200 requests`);
    expect(share.v1 ?? 0).toBeGreaterThan(0);
    expect(share.v2 ?? 0).toBeGreaterThan(0);
    expect((share.v1 ?? 0) + (share.v2 ?? 0)).toBe(200);
    expect(await podUids(ns, 'app=web,!shipline.dev/track')).toEqual(stableBefore);
    const stableNow = (await kubectlJson(ns, ['deployment', 'web'])).metadata as { uid: string; generation: number };
    expect(stableNow).toMatchObject({ uid: stableUid.uid, generation: stableUid.generation });

    // Another run, with no manifests: finds the canary in the namespace by its labels.
    const rej = await k8sDeploy({ namespace: ns, strategy: 'canary', action: 'reject' });
    expect(rej.code, rej.stdout).toBe(0);
    expect(JSON.parse(rej.outputs.releases ?? '[]')).toEqual([expect.objectContaining({ strategy: 'canary', workload: 'web', rejected: true })]);
    expect(await exists(ns, 'deployment/web-canary')).toBe(false);
    expect(await podUids(ns, 'app=web,!shipline.dev/track')).toEqual(stableBefore);
    const after = await markers(ip, 30);
    console.log(`after reject: ${JSON.stringify(after)} of 30 requests`);
    expect(after).toEqual({ v1: 30 });

    // Idempotent: rejecting again says so and succeeds.
    const again = await k8sDeploy({ manifests: newVersion('v2'), namespace: ns, strategy: 'canary', action: 'reject' });
    expect(again.code, again.stdout).toBe(0);
    expect(again.stdout).toMatch(/no canary web-canary to reject/);
  });

  it('canary: promote rolls the stable to the canary’s pinned template, verified, and removes the canary', async () => {
    const ns = `pa-${id}-promote`;
    namespaces.push(ns);
    await stableVersion(ns, 'v1', 2);
    expect(await imageOf(ns, 'web')).toBe(tagged);
    const d = await k8sDeploy({ manifests: newVersion('v2'), namespace: ns, strategy: 'canary', images: pinned.ref, wait: 'true', timeout: '3m' });
    expect(d.code, d.stdout).toBe(0);
    expect(await replicas(ns, 'web-canary')).toBe(1);

    const p = await k8sDeploy({ manifests: newVersion('v2'), namespace: ns, strategy: 'canary', action: 'promote', timeout: '3m' });
    expect(p.code, p.stdout).toBe(0);
    expect(p.stdout).toMatch(/promoted: web runs the canary's template and is Current; web-canary deleted/);
    expect(await exists(ns, 'deployment/web-canary')).toBe(false);
    expect(await imageOf(ns, 'web')).toBe(pinned.ref);
    expect(await replicas(ns, 'web')).toBe(2);
    const stable = await kubectlJson(ns, ['deployment', 'web']);
    const labels = (stable.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
    expect(labels).toEqual({ app: 'web' });
    const st = stable.status as { updatedReplicas: number; availableReplicas: number };
    expect(st).toMatchObject({ updatedReplicas: 2, availableReplicas: 2 });
    // kubectl is the oracle for the verdict.
    await sh('kubectl', ['rollout', 'status', '-n', ns, 'deployment/web', '--timeout=10s']);
    const served = await markers(await clusterIp(ns, 'web'), 20);
    console.log(`after promote: ${JSON.stringify(served)} of 20 requests`);
    expect(served).toEqual({ v2: 20 });

    const none = await k8sDeploy({ namespace: ns, strategy: 'canary', action: 'promote' });
    expect(none.code).toBe(1);
    expect(none.stdout).toMatch(/::error::input "action": no canary to promote/);
  });

  it('blue-green: preview, switch under load, reject after promote switches back, old colour scaled to zero', async () => {
    const ns = `pa-${id}-bg`;
    namespaces.push(ns);
    await stableVersion(ns, 'v1', 2);
    const ip = await clusterIp(ns, 'web');

    const d = await k8sDeploy({ manifests: newVersion('v2', 2), namespace: ns, strategy: 'blue-green', images: pinned.ref, wait: 'true', timeout: '3m' });
    expect(d.code, d.stdout).toBe(0);
    expect(d.outputs['preview-service']).toBe(`${ns}/web-preview:80`);
    const resources = JSON.parse(d.outputs.resources ?? '[]') as { kind: string; name: string }[];
    expect(resources.map((x) => `${x.kind}/${x.name}`).sort()).toEqual(['Deployment/web-blue', 'Service/web-preview']);
    const previewIp = await clusterIp(ns, 'web-preview');
    await reachable(previewIp);
    expect(await markers(previewIp, 10)).toEqual({ v2: 10 });
    const beforeSwitch = await markers(ip, 30);
    console.log(`blue-green before promote, main Service: ${JSON.stringify(beforeSwitch)} of 30`);
    expect(beforeSwitch).toEqual({ v1: 30 });

    let stop = probe(ip);
    const p = await k8sDeploy({
      manifests: newVersion('v2', 2),
      namespace: ns,
      strategy: 'blue-green',
      action: 'promote',
      'scale-down-delay': '3s',
      timeout: '3m',
    });
    let figures = await stop();
    console.log(
      `blue-green promote under load: ${figures.sent} requests sent, ${figures.failed} failed ${JSON.stringify(figures.seen)} ${figures.errors.join('; ')}`,
    );
    expect(p.code, p.stdout).toBe(0);
    expect(figures.failed).toBe(0);
    expect(figures.seen.v2 ?? 0).toBeGreaterThan(0);
    expect(await markers(ip, 20)).toEqual({ v2: 20 });
    expect(await replicas(ns, 'web')).toBe(0); // the old (plain) Deployment, after the delay
    expect(await exists(ns, 'service/web-preview')).toBe(false);
    const svc = (await kubectlJson(ns, ['service', 'web'])).metadata as { annotations: Record<string, string> };
    expect(svc.annotations).toMatchObject({
      'shipline.dev/live-workload': 'web-blue',
      'shipline.dev/live-color': 'blue',
      'shipline.dev/previous-workload': 'web',
    });

    stop = probe(ip);
    const r = await k8sDeploy({ namespace: ns, strategy: 'blue-green', action: 'reject', 'scale-down-delay': '3s', timeout: '3m' });
    figures = await stop();
    console.log(
      `blue-green reject after promote under load: ${figures.sent} requests sent, ${figures.failed} failed ${JSON.stringify(figures.seen)} ${figures.errors.join('; ')}`,
    );
    expect(r.code, r.stdout).toBe(0);
    expect(figures.failed).toBe(0);
    expect(JSON.parse(r.outputs.releases ?? '[]')).toEqual([expect.objectContaining({ strategy: 'blue-green', workload: 'web', rejected: true })]);
    expect(await markers(ip, 20)).toEqual({ v1: 20 });
    expect(await replicas(ns, 'web')).toBe(2);
    expect(await exists(ns, 'deployment/web-blue')).toBe(false);
    // Back on the plain Deployment with no colour left: the Service's own selector again.
    expect(((await kubectlJson(ns, ['service', 'web'])).spec as { selector: unknown }).selector).toEqual({ app: 'web' });

    // A second release, promoted, then a third: colours alternate and the old one goes to zero.
    const d2 = await k8sDeploy({ manifests: newVersion('v2', 2), namespace: ns, strategy: 'blue-green', images: pinned.ref });
    expect(d2.code, d2.stdout).toBe(0);
    const p2 = await k8sDeploy({
      manifests: newVersion('v2', 2),
      namespace: ns,
      strategy: 'blue-green',
      action: 'promote',
      'scale-down-delay': '1s',
      timeout: '3m',
    });
    expect(p2.code, p2.stdout).toBe(0);
    const d3 = await k8sDeploy({ manifests: newVersion('v3', 2), namespace: ns, strategy: 'blue-green' });
    expect(d3.code, d3.stdout).toBe(0);
    expect(d3.outputs.releases).toMatch(/"workload":"web-green"/);
    stop = probe(ip);
    const p3 = await k8sDeploy({ namespace: ns, strategy: 'blue-green', action: 'promote', 'scale-down-delay': '3s', timeout: '3m' });
    figures = await stop();
    console.log(
      `blue-green blue → green under load: ${figures.sent} requests sent, ${figures.failed} failed ${JSON.stringify(figures.seen)} ${figures.errors.join('; ')}`,
    );
    expect(p3.code, p3.stdout).toBe(0);
    expect(figures.failed).toBe(0);
    expect(await markers(ip, 20)).toEqual({ v3: 20 });
    expect(await replicas(ns, 'web-blue')).toBe(0);

    // Reject before promote: the new colour and preview go, Service untouched.
    const d4 = await k8sDeploy({ manifests: newVersion('v4', 1), namespace: ns, strategy: 'blue-green' });
    expect(d4.code, d4.stdout).toBe(0);
    // The blue left at zero replicas is applied again by the same field manager: no conflict.
    expect(JSON.parse(d4.outputs.resources ?? '[]')).toContainEqual(expect.objectContaining({ kind: 'Deployment', name: 'web-blue', action: 'configured' }));
    const r4 = await k8sDeploy({ manifests: newVersion('v4', 1), namespace: ns, strategy: 'blue-green', action: 'reject' });
    expect(r4.code, r4.stdout).toBe(0);
    expect(await exists(ns, 'deployment/web-blue')).toBe(false);
    expect(await exists(ns, 'service/web-preview')).toBe(false);
    expect(await markers(ip, 10)).toEqual({ v3: 10 });
  }, 900_000);
});
