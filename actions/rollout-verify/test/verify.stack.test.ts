// rollout-verify's bundle against the stack's real API server, controllers, scheduler and kubelet.
// Each scenario deploys with k8s-deploy's bundle (so `resources` is the real hand-off), then runs
// rollout-verify and, at the same time, `kubectl rollout status --timeout` on the same object as the
// oracle of the success/failure verdict. Every scenario has its own namespace (deleted afterwards);
// vitest runs them five at a time.
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as exec, need, sh, tempDir, uniq } from '../../../test/stack/index.ts';
import { type Run, runGitHubAction } from '../../../test/support/run-action.ts';
import {
  CRASH,
  CRASH_WITHOUT_PROBE,
  daemonSet,
  deployment,
  EAT_MEMORY,
  EXIT_AFTER_5S,
  job,
  type KubectlVerdict,
  kubectlRolloutStatus,
  node,
  type Obj,
  pinnedNodeImage,
  secret,
  service,
  serving,
  statefulSet,
  yaml,
} from '../../../test/support/workloads.ts';

const id = uniq();
const namespaces: string[] = [];
let work: string;
let image: string;
let repo: string;
let privateImage: string;

interface Row {
  scenario: string;
  status: string;
  reason: string;
  seconds: number;
  kubectl: string;
  kubectlSeconds: number | null;
}
const rows: Row[] = [];

const env = () => ({ KUBECONFIG: need('KUBECONFIG'), RUNNER_TEMP: work });

async function namespace(name: string): Promise<string> {
  const ns = `rv-${id}-${name}`.slice(0, 63).replace(/-+$/, '');
  namespaces.push(ns);
  await sh('kubectl', ['create', 'namespace', ns]);
  return ns;
}

/** Applies objects with k8s-deploy's bundle and returns its `resources` output. */
async function deploy(ns: string, objects: Obj[], name: string): Promise<string> {
  const dir = join(work, ns, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'app.yaml'), yaml(...objects));
  const r = await runGitHubAction('k8s-deploy', { manifests: dir, namespace: ns }, { env: env(), timeoutMs: 180_000 });
  if (r.code !== 0) throw new Error(`k8s-deploy failed in ${ns}: ${r.stdout}${r.stderr}`);
  return r.outputs.resources as string;
}

async function verify(inputs: Record<string, string>): Promise<Run & { seconds: number }> {
  const started = performance.now();
  const r = await runGitHubAction('rollout-verify', inputs, { env: env(), timeoutMs: 400_000 });
  return { ...r, seconds: (performance.now() - started) / 1000 };
}

const errors = (r: Run) => r.stdout.split('\n').filter((l) => l.startsWith('::error'));

/** The contract every verdict keeps: outputs, diagnostics file, summary, one annotation per failure. */
function checkReport(r: Run, status: string): void {
  expect(r.outputs.status, r.stdout).toBe(status);
  expect(r.code).toBe(status === 'success' ? 0 : 1);
  const failed = JSON.parse(r.outputs['failed-resources'] ?? 'null') as { ref: string; reason: string }[];
  expect(errors(r)).toHaveLength(failed.length);
  for (const f of failed) expect(errors(r).some((l) => l.includes(f.ref) && l.includes(f.reason))).toBe(true);
  const path = r.outputs.diagnostics as string;
  expect(statSync(path).mode & 0o777).toBe(0o600);
  const diag = JSON.parse(readFileSync(path, 'utf8'));
  expect(diag.status).toBe(status);
  expect(Number(r.outputs['duration-ms'])).toBeGreaterThan(0);
  expect(r.summary).toContain('| Resource | Verdict | Reason | Progress | Time | Message |');
  if (status !== 'success') expect(r.summary).toContain('<details><summary>');
}

beforeAll(async () => {
  work = tempDir('rollout-verify');
  const pinned = await pinnedNodeImage(need('SHIPLINE_NODE_IMAGE'));
  image = pinned.ref;
  repo = pinned.repo;
  // A private copy in the TLS registry with auth: the kubelet trusts its CA but has no credentials.
  const tls = need('SHIPLINE_REGISTRY_TLS');
  privateImage = `${tls}/rv-private/node:24`;
  const certs = join(work, 'certs');
  mkdirSync(certs);
  writeFileSync(join(certs, 'ca.crt'), readFileSync(need('SHIPLINE_REGISTRY_CA')));
  const auth = join(work, 'auth.json');
  const basic = Buffer.from(`${need('SHIPLINE_REGISTRY_USER')}:${need('SHIPLINE_REGISTRY_PASSWORD')}`).toString('base64');
  writeFileSync(auth, JSON.stringify({ auths: { [tls]: { auth: basic } } }), { mode: 0o600 });
  await sh('skopeo', [
    'copy',
    '--src-tls-verify=false',
    '--dest-cert-dir',
    certs,
    '--dest-authfile',
    auth,
    `docker://${need('SHIPLINE_NODE_IMAGE')}`,
    `docker://${privateImage}`,
  ]);
});

afterAll(async () => {
  if (namespaces.length) await exec('kubectl', ['delete', 'namespace', ...namespaces, '--wait=false', '--ignore-not-found'], { allowFail: true });
  const table = rows
    .sort((a, b) => a.scenario.localeCompare(b.scenario))
    .map(
      (r) =>
        `${r.scenario.padEnd(34)} ${r.status.padEnd(8)} ${r.reason.padEnd(26)} ${r.seconds.toFixed(1).padStart(6)} s   kubectl ${r.kubectl.padEnd(8)} ${r.kubectlSeconds === null ? '' : `${r.kubectlSeconds.toFixed(1)} s`}`,
    );
  console.log(`rollout-verify on the stack:\n${table.join('\n')}`);
  writeFileSync(join(process.env.SHIPLINE_RESULTS_DIR ?? work, 'rollout-verify-stack.json'), JSON.stringify(rows, null, 2));
});

interface Scenario {
  name: string;
  /** Deployed and awaited first (the revision being replaced). */
  before?: () => Obj[];
  /** Waits after `before` until this holds, instead of `kubectl rollout status`. */
  beforeReady?: (ns: string) => Promise<void>;
  objects: () => Obj[];
  inputs?: Record<string, string>;
  status: 'success' | 'failed' | 'timeout';
  reasons: string[];
  /** `kubectl rollout status` on the same object, with a timeout: where kubectl can decide. */
  kubectl?: { target: string; timeoutS: number; recordOnly?: boolean };
  /** What else to check in the report. */
  check?: (r: Run, ns: string) => Promise<void> | void;
}

const web = (container: Obj, o: { replicas?: number; spec?: Obj; pod?: Obj } = {}) => deployment('web', container, { image, ...o });

/** Waits until a pod of `app` has restarted (the old revision is really crash-looping). */
const restarted = (app: string) => async (ns: string) => {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const out = await sh('kubectl', ['get', 'pods', '-n', ns, '-l', `app=${app}`, '-o', 'jsonpath={.items[*].status.containerStatuses[*].restartCount}']);
    if (out.split(' ').some((n) => Number(n) >= 1)) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`no pod of ${app} restarted in ${ns}`);
};

const podOf = (r: Run) => (JSON.parse(r.outputs['failed-resources'] ?? '[]') as { pods: { pod: string; exitCode?: number }[] }[])[0]?.pods[0];

const scenarios: Scenario[] = [
  {
    name: 'healthy rolling update',
    before: () => [web(serving('v1'), { replicas: 2 })],
    objects: () => [web(serving('v2'), { replicas: 2 })],
    status: 'success',
    reasons: ['Current'],
    kubectl: { target: 'deployment/web', timeoutS: 180 },
    check: (r) => {
      expect(r.stdout).toMatch(/web: \d\/2 updated, \d\/2 ready, \d\/2 available/);
      expect(JSON.parse(r.outputs['failed-resources'] ?? '')).toEqual([]);
    },
  },
  {
    name: 'nonexistent tag',
    before: () => [web(serving('v1'))],
    objects: () => [deployment('web', serving('v2'), { image: `${repo}:no-such-tag-${id}` })],
    status: 'failed',
    reasons: ['ImageNotFound'],
    kubectl: { target: 'deployment/web', timeoutS: 60 },
    check: (r) => {
      expect(r.summary).toMatch(/no-such-tag/);
      expect(podOf(r)?.pod).toMatch(/^web-/);
    },
  },
  {
    name: 'private image without credentials',
    objects: () => [deployment('web', serving('v1'), { image: privateImage })],
    status: 'failed',
    reasons: ['ImageAccessDenied'],
    kubectl: { target: 'deployment/web', timeoutS: 60 },
  },
  {
    name: 'crash loop',
    before: () => [web(serving('v1'))],
    objects: () => [web(CRASH)],
    status: 'failed',
    reasons: ['CrashLoopBackOff', 'TooManyRestarts'],
    kubectl: { target: 'deployment/web', timeoutS: 60 },
    check: (r) => {
      expect(podOf(r)?.exitCode).toBe(3);
      // The last log lines of the crashed container are the evidence.
      expect(r.summary).toContain('fatal: cannot open /data/db.sqlite');
      expect(readFileSync(r.outputs.diagnostics as string, 'utf8')).toContain('fatal: cannot open /data/db.sqlite');
    },
  },
  {
    // kubectl calls this a success as soon as the pod is Running for a moment (kubectl#738).
    name: 'crash loop without a readiness probe',
    objects: () => [web(CRASH_WITHOUT_PROBE)],
    status: 'failed',
    reasons: ['CrashLoopBackOff', 'TooManyRestarts'],
    // Recorded, not compared: kubectl's verdict here is the bug this action exists for.
    kubectl: { target: 'deployment/web', timeoutS: 60, recordOnly: true },
  },
  {
    name: 'exit after 5 s (restarts)',
    objects: () => [web(EXIT_AFTER_5S)],
    status: 'failed',
    reasons: ['TooManyRestarts', 'CrashLoopBackOff'],
    kubectl: { target: 'deployment/web', timeoutS: 90 },
    check: (r) => expect(r.summary).toContain('worker lost its lease'),
  },
  {
    name: 'OOM',
    objects: () => [web(EAT_MEMORY)],
    status: 'failed',
    reasons: ['OOMKilled'],
    kubectl: { target: 'deployment/web', timeoutS: 60 },
    check: (r) => expect(podOf(r)?.exitCode).toBe(137),
  },
  {
    name: 'missing ConfigMap',
    objects: () => [web({ ...serving('v1'), envFrom: [{ configMapRef: { name: 'settings' } }] })],
    status: 'failed',
    reasons: ['CreateContainerConfigError'],
    kubectl: { target: 'deployment/web', timeoutS: 60 },
    check: (r) => expect(r.outputs['failed-resources']).toMatch(/configmap \\"settings\\" not found/),
  },
  {
    name: 'missing Secret key',
    objects: () => [
      secret('creds', { user: 'app' }),
      web({ ...serving('v1'), env: [{ name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'creds', key: 'password' } } }] }),
    ],
    status: 'failed',
    reasons: ['CreateContainerConfigError'],
    kubectl: { target: 'deployment/web', timeoutS: 60 },
    check: (r) => expect(r.outputs['failed-resources']).toMatch(/password/),
  },
  {
    name: 'unschedulable request',
    objects: () => [web({ ...serving('v1'), resources: { requests: { cpu: '500' } } })],
    status: 'failed',
    reasons: ['Unschedulable'],
    kubectl: { target: 'deployment/web', timeoutS: 60 },
    check: (r) => expect(r.outputs['failed-resources']).toMatch(/Insufficient cpu/),
  },
  {
    name: 'readiness never passes, short progress deadline',
    objects: () => [
      web(
        { ...node('setInterval(() => {}, 1000)'), readinessProbe: { httpGet: { path: '/', port: 9999 }, periodSeconds: 1 } },
        { spec: { progressDeadlineSeconds: 15 } },
      ),
    ],
    status: 'failed',
    reasons: ['ProgressDeadlineExceeded'],
    kubectl: { target: 'deployment/web', timeoutS: 90 },
  },
  {
    name: 'StatefulSet with a partition',
    before: () => [service('db', { headless: true }), statefulSet('db', serving('v1'), { image, replicas: 3 })],
    objects: () => [
      service('db', { headless: true }),
      statefulSet('db', serving('v2'), { image, replicas: 3, spec: { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 2 } } } }),
    ],
    status: 'success',
    reasons: ['Current'],
    kubectl: { target: 'statefulset/db', timeoutS: 180 },
    check: async (_r, ns) => {
      // Only the ordinal at or above the partition runs the new revision.
      const images = await sh('kubectl', [
        'get',
        'pods',
        '-n',
        ns,
        '-l',
        'app=db',
        '-o',
        'jsonpath={range .items[*]}{.metadata.name}={.metadata.labels.controller-revision-hash} {end}',
      ]);
      expect(
        new Set(
          images
            .trim()
            .split(' ')
            .map((p) => p.split('=')[1]),
        ).size,
      ).toBe(2);
    },
  },
  {
    name: 'DaemonSet rolling update',
    before: () => [daemonSet('agent', serving('v1'), { image })],
    objects: () => [daemonSet('agent', serving('v2'), { image })],
    status: 'success',
    reasons: ['Current'],
    kubectl: { target: 'daemonset/agent', timeoutS: 180 },
  },
  {
    name: 'Job success',
    objects: () => [job('migrate', node('console.log("migrated 3 tables")'), { image })],
    status: 'success',
    reasons: ['Current'],
  },
  {
    name: 'Job failure',
    objects: () => [job('migrate', node('console.error("migration 0042 failed: duplicate column"); process.exit(2)'), { image })],
    status: 'failed',
    reasons: ['JobFailed', 'PodFailed'],
    check: (r) => expect(r.summary).toContain('migration 0042 failed'),
  },
  {
    name: 'paused Deployment',
    before: () => [web(serving('v1'))],
    objects: () => [web(serving('v2'), { spec: { paused: true } })],
    status: 'failed',
    reasons: ['Paused'],
    // kubectl waits on a paused Deployment until its timeout: it cannot decide.
    kubectl: { target: 'deployment/web', timeoutS: 20 },
    check: (r) => expect(Number(r.outputs['duration-ms'])).toBeLessThan(10_000),
  },
  {
    name: 'old pods crash, new ones healthy',
    before: () => [web(CRASH)],
    beforeReady: restarted('web'),
    objects: () => [web(serving('v2'))],
    status: 'success',
    reasons: ['Current'],
    kubectl: { target: 'deployment/web', timeoutS: 180 },
  },
];

describe.concurrent('rollout-verify on the stack', () => {
  it.each(scenarios)('$name', async (s) => {
    const ns = await namespace(s.name.toLowerCase().replace(/[^a-z0-9]+/g, '-'));
    if (s.before) {
      await deploy(ns, s.before(), 'before');
      if (s.beforeReady) await s.beforeReady(ns);
      else {
        const target = s.kubectl?.target ?? 'deployment/web';
        const v = await kubectlRolloutStatus(ns, target, 180);
        if (v.verdict !== 'success') throw new Error(`the revision before did not roll out: ${v.output}`);
      }
    }
    const resources = await deploy(ns, s.objects(), 'after');
    const [r, k] = await Promise.all([
      verify({ resources, ...s.inputs }),
      s.kubectl ? kubectlRolloutStatus(ns, s.kubectl.target, s.kubectl.timeoutS) : Promise.resolve(undefined as KubectlVerdict | undefined),
    ]);
    rows.push({
      scenario: s.name,
      status: r.outputs.status ?? `exit ${r.code}`,
      reason: r.outputs.reason ?? '',
      seconds: Number(r.outputs['duration-ms'] ?? Number.NaN) / 1000,
      kubectl: k?.verdict ?? '—',
      kubectlSeconds: k?.seconds ?? null,
    });
    checkReport(r, s.status);
    expect(s.reasons).toContain(r.outputs.reason);
    if (k && !s.kubectl?.recordOnly) {
      if (k.verdict !== 'timeout') {
        // Where kubectl decides, it agrees on success or failure.
        expect(k.verdict === 'success', k.output).toBe(s.status === 'success');
      } else {
        // kubectl gave up without a verdict: never on a rollout that we call a success.
        expect(s.status).not.toBe('success');
      }
    }
    await s.check?.(r, ns);
  });

  it('rolls back a failed rollout, the old version serves again, and a Deployment the deploy created stays', async () => {
    const ns = await namespace('rollback');
    const marker = `v1-${id}`;
    await deploy(ns, [web(serving(marker), { replicas: 2 }), service('web')], 'v1');
    expect((await kubectlRolloutStatus(ns, 'deployment/web', 180)).verdict).toBe('success');
    const resources = await deploy(
      ns,
      [deployment('web', serving('v2'), { image: `${repo}:no-such-tag-${id}`, replicas: 2 }), service('web'), deployment('extra', CRASH, { image })],
      'v2',
    );
    const r = await verify({ resources, 'rollback-on-failure': 'true' });
    const restoreMs = (JSON.parse(r.outputs['rolled-back'] ?? '[]') as { restoreMs?: number }[])[0]?.restoreMs ?? Number.NaN;
    rows.push({
      scenario: `rollback (restored in ${(restoreMs / 1000).toFixed(1)} s)`,
      status: r.outputs.status ?? '',
      reason: r.outputs.reason ?? '',
      seconds: Number(r.outputs['duration-ms']) / 1000,
      kubectl: '—',
      kubectlSeconds: null,
    });
    checkReport(r, 'failed');
    const failed = JSON.parse(r.outputs['failed-resources'] ?? '[]') as { ref: string; reason: string }[];
    expect(failed.map((f) => f.ref).sort()).toEqual([`Deployment ${ns}/extra`, `Deployment ${ns}/web`]);
    const back = JSON.parse(r.outputs['rolled-back'] ?? '[]') as { ref: string; restored: boolean; restoreMs: number }[];
    expect(back).toHaveLength(1);
    expect(back[0]).toMatchObject({ ref: `Deployment ${ns}/web`, restored: true });
    expect(back[0]?.restoreMs).toBeGreaterThan(0);
    expect(r.summary).toContain('The previous revision is back and verified');
    // Created by this deploy: reported, never deleted.
    expect(r.summary).toMatch(new RegExp(`Deployment ${ns}/extra \\| no \\|`));
    expect((await exec('kubectl', ['get', 'deployment', 'extra', '-n', ns], { allowFail: true })).code).toBe(0);
    expect(await sh('kubectl', ['get', 'deployment', 'web', '-n', ns, '-o', 'jsonpath={.spec.template.spec.containers[0].image}'])).toBe(image);
    expect((await kubectlRolloutStatus(ns, 'deployment/web', 60)).verdict).toBe('success');
    const smoke = await runGitHubAction(
      'smoke-test',
      { service: `${ns}/web:80/healthz`, 'expect-json': `$.marker = "${marker}"`, 'consecutive-successes': '3', interval: '500ms', deadline: '60s' },
      { env: { KUBECONFIG: need('KUBECONFIG') } },
    );
    expect(smoke.code, smoke.stdout).toBe(0);
  });

  it.each([
    {
      what: 'a Deployment named in `workloads`, to the revision before the current one',
      before: () => [web(serving(`v1-${id}`), { replicas: 2 })],
      after: () => [web(CRASH, { replicas: 2 })],
      inputs: (ns: string, _resources: string) => ({ workloads: 'deployment/web', namespace: ns }),
      ref: (ns: string) => `Deployment ${ns}/web`,
      target: 'deployment/web',
    },
    {
      what: 'a StatefulSet from `resources`, through its ControllerRevisions',
      before: () => [service('db', { headless: true }), statefulSet('db', serving(`v1-${id}`), { image, replicas: 2 })],
      after: () => [service('db', { headless: true }), statefulSet('db', CRASH, { image, replicas: 2 })],
      inputs: (_ns: string, resources: string) => ({ resources }),
      ref: (ns: string) => `StatefulSet ${ns}/db`,
      target: 'statefulset/db',
    },
  ])('rolls back $what, and verifies the restored revision', async (c) => {
    const ns = await namespace(`rollback-${c.target.split('/')[0]}`);
    await deploy(ns, c.before(), 'v1');
    expect((await kubectlRolloutStatus(ns, c.target, 180)).verdict).toBe('success');
    const template = await sh('kubectl', ['get', c.target, '-n', ns, '-o', 'jsonpath={.spec.template.spec.containers[0].command}']);
    const resources = await deploy(ns, c.after(), 'v2');
    const r = await verify({ ...c.inputs(ns, resources), 'rollback-on-failure': 'true' });
    const back = JSON.parse(r.outputs['rolled-back'] ?? '[]') as { ref: string; restored: boolean; restoreMs: number }[];
    rows.push({
      scenario: `rollback ${c.target.split('/')[0]} (restored in ${((back[0]?.restoreMs ?? Number.NaN) / 1000).toFixed(1)} s)`,
      status: r.outputs.status ?? '',
      reason: r.outputs.reason ?? '',
      seconds: Number(r.outputs['duration-ms']) / 1000,
      kubectl: '—',
      kubectlSeconds: null,
    });
    checkReport(r, 'failed');
    expect(['CrashLoopBackOff', 'TooManyRestarts']).toContain(r.outputs.reason);
    expect(back).toEqual([expect.objectContaining({ ref: c.ref(ns), restored: true })]);
    // The live template is the one before the deploy again, and it rolls out.
    expect(await sh('kubectl', ['get', c.target, '-n', ns, '-o', 'jsonpath={.spec.template.spec.containers[0].command}'])).toBe(template);
    expect((await kubectlRolloutStatus(ns, c.target, 120)).verdict).toBe('success');
  });

  it('verifies `workloads` and a `selector` with the kubeconfig given as content', async () => {
    const ns = await namespace('by-name');
    await deploy(ns, [web(serving('v1')), job('migrate', node('console.log("ok")'), { image })], 'v1');
    const kubeconfig = readFileSync(need('KUBECONFIG'), 'utf8');
    const asContent = (inputs: Record<string, string>) =>
      runGitHubAction('rollout-verify', { kubeconfig, namespace: ns, ...inputs }, { env: { RUNNER_TEMP: work, HOME: work }, timeoutMs: 400_000 });
    const byName = await asContent({ workloads: 'deploy/web\njob/migrate' });
    checkReport(byName, 'success');
    expect(byName.summary).toContain(`| Deployment ${ns}/web | current |`);
    expect(byName.summary).toContain(`| Job ${ns}/migrate | current |`);
    const bySelector = await asContent({ selector: 'app=web' });
    checkReport(bySelector, 'success');
    expect(bySelector.summary).toContain(`| Deployment ${ns}/web | current |`);
    expect(bySelector.summary).not.toContain('migrate');
    const nothing = await asContent({ selector: 'app=nothing-here' });
    expect(nothing.code).toBe(1);
    expect(errors(nothing)).toEqual([expect.stringMatching(/^::error::input "selector": .*matches the selector "app=nothing-here"/)]);
  });
});
