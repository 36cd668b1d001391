// End to end: .github/workflows/deliver.yml called the local way by a caller workflow, run by act
// on the host (self-hosted mode) against the stack's dockerd, registry and Kubernetes. Three runs:
// a cold delivery, the same delivery with the builder's own cache removed (so a cache hit can only
// come from the Actions cache on act's cache server), and a broken change that must fail at
// rollout-verify (deploy → verify → smoke: its smoke test is skipped) and be rolled back while the
// previous version keeps serving. The caller is `acme/order-service` with Shipline's actions in its
// workspace (act runs this working copy), as a fork's would be: deliver.yml must fetch nothing. GitHub Deployments
// go to a loopback fake of the API (act's `--env GITHUB_API_URL`): the first and the broken run
// pass deliver a `github-token` and must record a deployment with the verdict; the second passes
// none and must call nothing.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { need, run, sh, tempDir, withStackEnv } from '../stack/index.ts';
import { type FakeGitHub, fakeGitHub, type RecordedCall } from '../support/fake-github.ts';
import { type CallerOptions, callerWorkflow, TOKEN_SECRET } from './act/caller.ts';
import { type ActRun, runAct } from './act/run-act.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const NAMESPACE = 'e2e-act';
const REPOSITORY = 'e2e-act/order-service';
// A builder of this test's own, so removing it between runs disturbs no other build.
const BUILDER = 'shipline-e2e-act';
const ACT_TIMEOUT_MS = 4 * 60_000;
// The repository and environment the deployments are recorded for, and the fake's only token.
const OWNER = 'acme';
const REPO = 'order-service';
const ENVIRONMENT = 'e2e-act';
const TOKEN = `ghs_e2eact${Date.now().toString(36)}`;

const env = withStackEnv();
// The kubeconfig reaches the workflow only as the `kubeconfig` secret.
delete env.KUBECONFIG;
for (const k of Object.keys(env)) if (/^(GITHUB_|ACTIONS_|RUNNER_)/.test(k)) delete env[k];
const kubeEnv = withStackEnv();

let dir: string;
let registry: string;
let image: string;
let kubeconfig: string;
let github: FakeGitHub;

function caller(name: string, o: Partial<CallerOptions>): string {
  const full: CallerOptions = {
    image,
    context: 'examples/order-service',
    buildArgs: [`BASE_IMAGE=${need('SHIPLINE_NODE_IMAGE')}`, 'APP_VERSION=e2e-act-1'],
    tags: [`type=raw,value=${name}`],
    manifests: join(dir, 'k8s'),
    namespace: NAMESPACE,
    vars: ['APP_VERSION=e2e-act-1'],
    smokeTargets: [`${NAMESPACE}/order-service:8080/healthz`],
    rollback: false,
    timeout: '2m',
    builder: BUILDER,
    environment: ENVIRONMENT,
    githubToken: false,
    ...o,
  };
  const wf = join(dir, 'workflows', `${name}.yml`);
  writeFileSync(wf, callerWorkflow(full));
  return wf;
}

interface Run extends ActRun {
  /** The API calls the fake received during the run. */
  api: RecordedCall[];
  /** The commit act ran, as its `github.sha`; checked to be the working copy's HEAD (before or after the run: others commit meanwhile). */
  sha: string;
}

const gitHead = () => execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();

async function act(name: string, o: Partial<CallerOptions> = {}): Promise<Run> {
  const full = { githubToken: false, ...o };
  const before = github.calls.length;
  const headBefore = gitHead();
  const r = await runAct({
    act: join(ROOT, '.stack', 'bin', 'act'),
    workdir: ROOT,
    workflow: caller(name, full),
    dir,
    secrets: { KUBECONFIG: kubeconfig, ...(full.githubToken ? { [TOKEN_SECRET]: TOKEN } : {}) },
    env,
    // act's own defaults would be api.github.com and, with no git remote, nektos/act.
    actEnv: { GITHUB_API_URL: github.url, GITHUB_SERVER_URL: 'https://github.example', GITHUB_REPOSITORY: `${OWNER}/${REPO}` },
    cacheServerPath: join(dir, 'actcache'),
    timeoutMs: ACT_TIMEOUT_MS,
  });
  console.log(`act run ${name}: ${(r.durationMs / 1000).toFixed(1)} s, exit ${r.code}`);
  const sha = /caller sha=([0-9a-f]{40})\b/.exec(r.text)?.[1];
  expect(sha, `the caller's commit job printed no sha:\n${r.text.slice(-3000)}`).toBeDefined();
  expect([headBefore, gitHead()]).toContain(sha);
  return { ...r, api: github.calls.slice(before), sha: sha as string };
}

/** act's result of the step running `./actions/<action>`, when it ran. */
const resultOf = (r: ActRun, action: string): string | undefined => r.entries.find((e) => e.stepResult && e.step?.includes(`./actions/${action}`))?.stepResult;

/** Where in act's log the step running `./actions/<action>` finished (-1 when it did not). */
const finishedAt = (r: ActRun, action: string): number => r.entries.findIndex((e) => e.stepResult && e.step?.includes(`./actions/${action}`));

/** Both jobs found Shipline's actions in the workspace (by docker-build's `name:`), so fetched nothing. */
function expectNothingFetched(r: ActRun): void {
  expect(r.text.match(/Shipline's actions are in the workspace of acme\/order-service already; nothing to fetch/g), r.text.slice(-3000)).toHaveLength(2);
}

/**
 * The one deployment a run recorded: its create request, then the states posted to it, each with
 * its body. Fails when the run made any other call or broke the API's contract.
 */
function deploymentOf(r: { api: RecordedCall[]; text: string }) {
  const seen = r.api.map((c) => `${c.method} ${c.path} → ${c.status}`).join('\n');
  expect(github.violations, seen).toEqual([]);
  const [create, ...statuses] = r.api;
  expect(create?.path, `${seen}\n${r.text.slice(-3000)}`).toBe(`/repos/${OWNER}/${REPO}/deployments`);
  expect(create?.status).toBe(201);
  const ids = statuses.map((c) => /\/deployments\/(\d+)\/statuses$/.exec(c.path)?.[1]);
  expect(new Set(ids).size, seen).toBe(1);
  const id = Number(ids[0]);
  for (const c of statuses) expect(c.status, seen).toBe(201);
  expect(statuses.map((c) => c.body.state)).toEqual(github.statesOf(id));
  return { create: (create as RecordedCall).body, statuses: statuses.map((c) => c.body) };
}

const downstream = (r: ActRun, key: string): string => {
  const m = new RegExp(`downstream ${key}=(\\S*)`).exec(r.text);
  if (!m) throw new Error(`the caller's report job printed no ${key}:\n${r.text.slice(-3000)}`);
  return m[1] as string;
};

interface Pod {
  metadata: { name: string; deletionTimestamp?: string };
  spec: { containers: { image: string }[] };
  status: { phase: string; containerStatuses?: { imageID: string; ready: boolean }[] };
}

/** Pods of the order service that are not on their way out. */
async function livePods(): Promise<Pod[]> {
  const out = await sh('kubectl', ['get', 'pods', '-n', NAMESPACE, '-l', 'app=order-service', '-o', 'json'], { env: kubeEnv });
  return (JSON.parse(out).items as Pod[]).filter((p) => !p.metadata.deletionTimestamp);
}

/** Every live pod runs `digest`, by its spec and by what the kubelet's containerd reports it pulled. */
async function expectPodsRun(digest: string): Promise<void> {
  const pods = await livePods();
  expect(pods.length).toBeGreaterThan(0);
  for (const p of pods) {
    // k8s-deploy pins `repository:tag@digest`; the digest is what decides what runs.
    expect(p.spec.containers[0]?.image).toMatch(new RegExp(`^${image.replaceAll('.', '\\.')}(:[\\w.-]+)?@${digest}$`));
    expect(p.status.containerStatuses?.[0]?.imageID).toMatch(new RegExp(`@${digest}$`));
  }
}

async function registryDigest(tag: string): Promise<string> {
  const out = await sh('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${image}:${tag}`], { env: kubeEnv });
  const { createHash } = await import('node:crypto');
  return `sha256:${createHash('sha256').update(out).digest('hex')}`;
}

const summaryOf = (r: ActRun, action: string): string =>
  r.summaries
    .filter((s) => s.step.includes(`./actions/${action}`))
    .map((s) => s.content)
    .join('\n');

function expectEverySummary(r: ActRun, actions: string[]): void {
  for (const a of actions) expect(summaryOf(r, a), `summary of ${a}; steps with summaries: ${r.summaries.map((s) => s.step).join(', ')}`).not.toBe('');
}

const ALL = ['docker-build', 'registry-push', 'k8s-deploy', 'rollout-verify', 'smoke-test'];

describe('deliver.yml under act', () => {
  let first: { digest: string };
  // The digest of the last delivery that passed: what must serve after the broken change.
  let lastGood: string | undefined;

  beforeAll(async () => {
    dir = tempDir('e2e-act');
    mkdirSync(join(dir, 'workflows'));
    registry = need('SHIPLINE_REGISTRY');
    image = `${registry}/${REPOSITORY}`;
    kubeconfig = readFileSync(need('KUBECONFIG'), 'utf8');
    github = await fakeGitHub({ token: TOKEN, owner: OWNER, repo: REPO });
    // The example's manifests name the demo's repository; k8s-deploy pins only an exact match.
    mkdirSync(join(dir, 'k8s'));
    for (const f of readdirSync(join(ROOT, 'examples', 'order-service', 'k8s'))) {
      const text = readFileSync(join(ROOT, 'examples', 'order-service', 'k8s', f), 'utf8');
      writeFileSync(join(dir, 'k8s', f), text.replaceAll(`${registry}/demo/order-service`, image));
    }
    expect(readFileSync(join(dir, 'k8s', 'deployment.yaml'), 'utf8')).toContain(image);
    await run('kubectl', ['delete', 'namespace', NAMESPACE, '--ignore-not-found', '--wait=true', '--timeout=120s'], { env: kubeEnv });
    await run('docker', ['buildx', 'rm', '--force', BUILDER], { env: kubeEnv, allowFail: true });
  }, 180_000);

  afterAll(async () => {
    await github?.close();
    await run('docker', ['buildx', 'rm', '--force', BUILDER], { env: kubeEnv, allowFail: true });
  });

  it(
    'delivers: the pods run the pushed digest, the verdict then smoke pass, every step summarises, outputs cross jobs',
    async () => {
      const r = await act('run-1', { githubToken: true });
      expect(r.code, r.text.slice(-4000)).toBe(0);
      const digest = downstream(r, 'digest');
      expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(await registryDigest('run-1')).toBe(digest);
      expect(JSON.parse(downstream(r, 'refs'))).toEqual([`${image}:run-1@${digest}`]);
      expect(downstream(r, 'status')).toBe('success');
      await expectPodsRun(digest);
      expectEverySummary(r, ALL);
      expect(summaryOf(r, 'smoke-test')).toMatch(/pass/i);
      // The verdict on the new pods first, then the smoke test through the Service.
      expect(resultOf(r, 'rollout-verify')).toBe('success');
      expect(resultOf(r, 'smoke-test')).toBe('success');
      expect(finishedAt(r, 'rollout-verify')).toBeLessThan(finishedAt(r, 'smoke-test'));
      expectNothingFetched(r);
      // A cold run: nothing to restore, and the new cache is uploaded for the next run.
      expect(r.text).toMatch(/no Actions cache under shipline-buildx-/);
      expect(r.text).toMatch(/saved Actions cache shipline-buildx-/);
      expect(downstream(r, 'cache-hit')).toBe('false');
      // GitHub Deployments through the workflow: created for the commit act ran, then in_progress
      // after the apply and success from rollout-verify, with the run's log URL.
      const d = deploymentOf(r);
      expect(d.create).toMatchObject({ ref: r.sha, environment: ENVIRONMENT, auto_merge: false, required_contexts: [] });
      expect(d.statuses.map((s) => s.state)).toEqual(['in_progress', 'success']);
      expect(d.statuses[1]?.log_url).toBe(`https://github.example/${OWNER}/${REPO}/actions/runs/1/attempts/1`);
      expect(d.statuses[1]?.description).toMatch(/rollout verified/);
      first = { digest };
      lastGood = digest;
    },
    ACT_TIMEOUT_MS + 30_000,
  );

  it(
    "a second run restores BuildKit's cache from act's cache server and reports cache-hit",
    async () => {
      expect(first).toBeDefined();
      // Without the builder (and its state volume) the only cache left is the Actions cache.
      await sh('docker', ['buildx', 'rm', '--force', BUILDER], { env: kubeEnv });
      const r = await act('run-2');
      expect(r.code, r.text.slice(-4000)).toBe(0);
      const digest = downstream(r, 'digest');
      expect(await registryDigest('run-2')).toBe(digest);
      expect(downstream(r, 'status')).toBe('success');
      await expectPodsRun(digest);
      lastGood = digest;
      expect(r.text).toMatch(/restored Actions cache shipline-buildx-/);
      expect(summaryOf(r, 'docker-build')).toMatch(/Cache restored/);
      expect(downstream(r, 'cache-hit')).toBe('true');
      // No `github-token`: not one call to the API, though `environment` is set.
      expect(r.api).toEqual([]);
    },
    ACT_TIMEOUT_MS + 30_000,
  );

  it(
    'a broken change fails at rollout-verify with CrashLoopBackOff, skips smoke, rolls back, and the previous version serves',
    async () => {
      const good = lastGood;
      expect(good, 'no delivery passed before the broken change').toBeDefined();
      const r = await act('run-broken', {
        buildArgs: [`BASE_IMAGE=${need('SHIPLINE_NODE_IMAGE')}`, 'APP_VERSION=e2e-act-1', 'CRASH=1'],
        rollback: true,
        githubToken: true,
      });
      expect(r.code).not.toBe(0);
      // act runs no job after a failed one, `if: always()` or not, so the caller's report job does
      // not run here: the step results and outputs come from act's log of the deploy job.
      expect(resultOf(r, 'k8s-deploy')).toBe('success');
      expect(resultOf(r, 'rollout-verify'), r.text.slice(-4000)).toBe('failure');
      // Nothing new to smoke-test after a failed verdict: the step did not run.
      expect(r.entries.filter((e) => e.step?.includes('./actions/smoke-test'))).toEqual([]);
      expect(summaryOf(r, 'smoke-test')).toBe('');
      expect(r.entries.some((e) => e.jobResult === 'failure' && /deploy/.test(e.jobID ?? e.job ?? ''))).toBe(true);
      expect(r.text).toMatch(/::set-output:: status=failed/);
      expect(summaryOf(r, 'rollout-verify')).toMatch(/CrashLoopBackOff/);
      expect(summaryOf(r, 'rollout-verify')).toMatch(/Rolled back/i);
      expectEverySummary(
        r,
        ALL.filter((a) => a !== 'smoke-test'),
      );
      expectNothingFetched(r);
      // Pushed and deployed, then put back: the pods run the last good digest and answer.
      expect(await registryDigest('run-broken')).not.toBe(good);
      await expectPodsRun(good as string);
      const health = await sh('kubectl', ['get', '--raw', `/api/v1/namespaces/${NAMESPACE}/services/order-service:8080/proxy/healthz`], {
        env: kubeEnv,
      });
      expect(health).not.toBe('');
      // The deployment's verdict carries the cause and the rollback; smoke-test did not run, so it
      // posted nothing.
      const d = deploymentOf(r);
      expect(d.create).toMatchObject({ ref: r.sha, environment: ENVIRONMENT, auto_merge: false, required_contexts: [] });
      expect(d.statuses.map((s) => s.state)).toEqual(['in_progress', 'failure']);
      expect(d.statuses[1]?.description).toMatch(/CrashLoopBackOff/);
      expect(d.statuses[1]?.description).toMatch(/rolled back/i);
      expect(d.statuses[1]?.log_url).toMatch(/\/actions\/runs\/1/);
    },
    ACT_TIMEOUT_MS + 30_000,
  );
});
