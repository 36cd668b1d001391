// End to end: the canary example (examples/order-service/.github/workflows/canary.yml) run by act
// against the stack, in a project laid out as a user's (the service at its root, Shipline's
// actions beside it; test/e2e/act/localize.ts lists the few changes act needs). A stable version
// is delivered first (CLI, rolling); then under a steady load through the Service from a loopback
// client, and a probe of the stable pods every 200 ms:
//   1. a canary answering 500 on a share of /orders (`FAIL_RATE` baked into its image): the
//      error-rate gate fails, the canary is rejected, promote never runs, and the stable pods
//      served every probe and are the same pods (UIDs) as before;
//   2. a good canary: the gates pass, promote rolls stable to the canary's digest and removes it.
// The stack's Prometheus scrapes the pods through its pod-targets file (the canary's
// `shipline.dev/track` label becomes `track`), which is what the example's gate asks for.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { need, run, sh, tempDir, withStackEnv } from '../stack/index.ts';
import { runCli } from '../support/run-action.ts';
import { traffic } from '../support/traffic.ts';
import { localizeWorkflow } from './act/localize.ts';
import { type ActRun, runAct } from './act/run-act.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const NAMESPACE = 'e2e-canary';
const REPOSITORY = 'e2e-canary/order-service';
const ACT_TIMEOUT_MS = 5 * 60_000;
const EXAMPLE = join(ROOT, 'examples', 'order-service');

const env = withStackEnv();
delete env.KUBECONFIG;
for (const k of Object.keys(env)) if (/^(GITHUB_|ACTIONS_|RUNNER_)/.test(k)) delete env[k];
const kubeEnv = withStackEnv();

let dir: string;
let project: string;
let image: string;
let kubeconfig: string;

const kubectl = (args: string[]) => sh('kubectl', ['-n', NAMESPACE, ...args], { env: kubeEnv });

interface Pod {
  metadata: { name: string; uid: string; labels?: Record<string, string>; deletionTimestamp?: string };
  spec: { containers: { image: string }[] };
  status: { podIP?: string; phase: string };
}

async function pods(selector: string): Promise<Pod[]> {
  const out = await kubectl(['get', 'pods', '-l', selector, '-o', 'json']);
  return (JSON.parse(out).items as Pod[]).filter((p) => !p.metadata.deletionTimestamp);
}

/** The project act runs: the service at its root, Shipline's actions and bundles beside it, one commit. */
function writeProject(): void {
  project = join(dir, 'project');
  mkdirSync(project);
  for (const f of ['Dockerfile', 'package.json', 'src']) cpSync(join(EXAMPLE, f), join(project, f), { recursive: true });
  mkdirSync(join(project, 'k8s'));
  for (const f of readdirSync(join(EXAMPLE, 'k8s'))) {
    // The manifests name the demo's repository; k8s-deploy pins only an exact match.
    const text = readFileSync(join(EXAMPLE, 'k8s', f), 'utf8');
    writeFileSync(join(project, 'k8s', f), text.replaceAll(`${need('SHIPLINE_REGISTRY')}/demo/order-service`, image));
  }
  for (const a of ['docker-build', 'registry-push', 'k8s-deploy', 'rollout-verify', 'smoke-test']) {
    mkdirSync(join(project, 'actions', a), { recursive: true });
    cpSync(join(ROOT, 'actions', a, 'action.yml'), join(project, 'actions', a, 'action.yml'));
  }
  cpSync(join(ROOT, 'dist'), join(project, 'dist'), { recursive: true });
  mkdirSync(join(project, '.github', 'workflows'), { recursive: true });
  const git = (...args: string[]) => execFileSync('git', args, { cwd: project, stdio: 'ignore' });
  git('init', '-q', '-b', 'main');
  git('-c', 'user.email=e2e@shipline.test', '-c', 'user.name=e2e', 'add', '-A');
  git('-c', 'user.email=e2e@shipline.test', '-c', 'user.name=e2e', 'commit', '-q', '-m', 'order-service');
}

/** The example, as act runs it here, building the given version of the service. */
function workflow(name: string, buildArgs: string[]): string {
  const text = localizeWorkflow(readFileSync(join(EXAMPLE, '.github', 'workflows', 'canary.yml'), 'utf8'), {
    env: { IMAGE: image, NAMESPACE, PROMETHEUS_URL: need('PROMETHEUS_URL') },
    steps: {
      build: { 'build-args': [`BASE_IMAGE=${need('SHIPLINE_NODE_IMAGE')}`, ...buildArgs].join('\n'), tags: `type=raw,value=${name}` },
      // The loopback registry asks for no login.
      push: { username: null, password: null },
    },
  });
  const path = join(dir, `${name}.yml`);
  writeFileSync(path, text);
  return path;
}

async function act(name: string, buildArgs: string[]): Promise<ActRun> {
  const r = await runAct({
    act: join(ROOT, '.stack', 'bin', 'act'),
    workdir: project,
    workflow: workflow(name, buildArgs),
    dir,
    secrets: { KUBECONFIG: kubeconfig },
    env,
    actEnv: { GITHUB_SERVER_URL: 'https://github.example', GITHUB_REPOSITORY: 'acme/order-service' },
    cacheServerPath: join(dir, 'actcache'),
    timeoutMs: ACT_TIMEOUT_MS,
    event: 'workflow_dispatch',
  });
  console.log(`act run ${name}: ${(r.durationMs / 1000).toFixed(1)} s, exit ${r.code}`);
  return r;
}

const resultOf = (r: ActRun, step: string): string | undefined => r.entries.find((e) => e.stepResult && e.step?.includes(step))?.stepResult;
const summaryOf = (r: ActRun, action: string): string =>
  r.summaries
    .filter((s) => s.step.includes(`./actions/${action}`))
    .map((s) => s.content)
    .join('\n');

describe('the canary example under act', () => {
  let clusterIP = '';
  let stableUids: string[] = [];
  let stableIPs: string[] = [];
  let stableDigest = '';

  beforeAll(async () => {
    dir = tempDir('e2e-canary');
    image = `${need('SHIPLINE_REGISTRY')}/${REPOSITORY}`;
    kubeconfig = readFileSync(need('KUBECONFIG'), 'utf8');
    writeProject();
    await run('kubectl', ['delete', 'namespace', NAMESPACE, '--ignore-not-found', '--wait=true', '--timeout=120s'], { env: kubeEnv });
    // The stable version, delivered the rolling way with the CLI.
    const layout = join(dir, 'stable-oci');
    // The stack's SHIPLINE_REGISTRY_* variables would read as the CLI's registry-* inputs.
    const cliEnv = Object.fromEntries(Object.entries(kubeEnv).filter(([k]) => !k.startsWith('SHIPLINE_REGISTRY_')));
    const cli = async (args: string[]) => {
      const r = await runCli(args, { env: cliEnv, timeoutMs: 240_000 });
      expect(r.code, `${args[0]}: ${r.stderr.slice(-2000)}${r.stdout.slice(-2000)}`).toBe(0);
      return r.outputs;
    };
    const built = await cli([
      'docker-build',
      '--context',
      project,
      '--image',
      image,
      '--tags',
      'type=raw,value=stable',
      '--build-args',
      `BASE_IMAGE=${need('SHIPLINE_NODE_IMAGE')}`,
      '--build-args',
      'APP_VERSION=stable',
      '--oci-layout',
      layout,
    ]);
    const pushed = await cli(['registry-push', '--oci-layout', built['oci-layout'] as string, '--destinations', built.tags as string]);
    stableDigest = pushed.digest as string;
    await cli([
      'k8s-deploy',
      '--manifests',
      join(project, 'k8s'),
      '--images',
      pushed.refs as string,
      '--vars',
      'APP_VERSION=stable',
      '--namespace',
      NAMESPACE,
      '--create-namespace',
      'true',
      '--wait',
      'true',
      '--timeout',
      '3m',
    ]);
    clusterIP = (await kubectl(['get', 'service', 'order-service', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    const stable = await pods('app=order-service,!shipline.dev/track');
    stableUids = stable.map((p) => p.metadata.uid).sort();
    stableIPs = stable.map((p) => p.status.podIP as string);
    expect(stableUids).toHaveLength(2);
  }, 600_000);

  afterAll(async () => {
    await run('kubectl', ['delete', 'namespace', NAMESPACE, '--ignore-not-found', '--wait=false'], { env: kubeEnv, allowFail: true });
  });

  it(
    'rejects a canary that answers 500 on part of its traffic; stable serves every probe and keeps its pods',
    async () => {
      // Traffic for the gate to judge, through the Service (stable and canary pods alike).
      const load = traffic(() => `http://${clusterIP}:8080/orders`, 50);
      let i = 0;
      const probe = traffic(() => `http://${stableIPs[i++ % stableIPs.length]}:8080/orders`, 200);
      let r: ActRun;
      try {
        r = await act('bad-canary', ['APP_VERSION=bad', 'FAIL_RATE=0.5']);
      } finally {
        await load.stop();
        await probe.stop();
      }
      console.log(`load through the Service: ${JSON.stringify(load.tally)}`);
      console.log(
        `stable probes every 200 ms: ${probe.tally.sent} sent, ${probe.tally.ok} ok, ${probe.tally.failed + probe.tally.status5xx + probe.tally.otherStatus} failed`,
      );
      expect(r.code, r.text.slice(-5000)).not.toBe(0);
      expect(resultOf(r, './actions/k8s-deploy')).toBe('success');
      expect(resultOf(r, './actions/rollout-verify'), r.text.slice(-5000)).toBe('failure');
      // act runs no job after a failed one: promote did not run.
      expect(r.entries.some((e) => /promote/.test(e.jobID ?? e.job ?? '') && e.stepResult)).toBe(false);
      const verify = summaryOf(r, 'rollout-verify');
      expect(verify).toMatch(/Gates: failed/);
      expect(verify).toMatch(/\| error-rate \| failed \|/);
      expect(verify).toMatch(/\| e2e-canary\/order-service(-canary)? \| canary \| yes \|/);
      expect(r.text).toMatch(/error-rate: fail [0-9.]+/);
      // The canary is gone; stable is the same two pods, on the stable digest, and never failed.
      expect(await pods('shipline.dev/track=canary')).toEqual([]);
      const stable = await pods('app=order-service');
      expect(stable.map((p) => p.metadata.uid).sort()).toEqual(stableUids);
      for (const p of stable) expect(p.spec.containers[0]?.image).toContain(stableDigest);
      expect(probe.tally.sent).toBeGreaterThan(50);
      expect(probe.tally.firstErrors).toEqual([]);
      expect(probe.tally.failed + probe.tally.status5xx + probe.tally.otherStatus).toBe(0);
      // The gate had failures to see: the canary did answer 500 through the Service.
      expect(load.tally.status5xx).toBeGreaterThan(0);
    },
    ACT_TIMEOUT_MS + 60_000,
  );

  it(
    'promotes a good canary: the gates pass, stable rolls to its digest, the canary is removed',
    async () => {
      const load = traffic(() => `http://${clusterIP}:8080/orders`, 50);
      let r: ActRun;
      try {
        r = await act('good-canary', ['APP_VERSION=good']);
      } finally {
        await load.stop();
      }
      console.log(`load through the Service: ${JSON.stringify(load.tally)}`);
      expect(r.code, r.text.slice(-5000)).toBe(0);
      expect(summaryOf(r, 'rollout-verify')).toMatch(/Gates: passed/);
      expect(resultOf(r, './actions/smoke-test')).toBe('success');
      const digest = /good-canary@(sha256:[0-9a-f]{64})/.exec(r.text)?.[1];
      expect(digest, r.text.slice(-3000)).toBeDefined();
      expect(await pods('shipline.dev/track=canary')).toEqual([]);
      const stable = await pods('app=order-service');
      expect(stable).toHaveLength(2);
      for (const p of stable) expect(p.spec.containers[0]?.image).toContain(digest as string);
      // Good answers only: the load saw no 5xx from either version.
      expect(load.tally.status5xx).toBe(0);
    },
    ACT_TIMEOUT_MS + 60_000,
  );
});
