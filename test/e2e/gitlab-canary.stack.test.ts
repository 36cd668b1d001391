// End to end: the GitLab canary example (examples/order-service/.gitlab/canary.gitlab-ci.yml, six
// per-action components) under gitlab-ci-local on the stack, in a project laid out as a user's
// (test/e2e/gitlab/project.ts). The example runs as written but for what a test must name: the
// components by this project's path at HEAD, its variables (registry, namespace, Prometheus, runner
// image), the build's arguments, and no registry login or Docker-in-Docker (the loopback registry
// and the stack's dockerd need neither). A stable version is delivered first (CLI, rolling); then,
// under a steady load through the Service's ClusterIP and a probe of each stable pod every 200 ms:
//   1. a canary answering 500 on half of /orders (`FAIL_RATE` baked into its image): the verdict job
//      fails on the error-rate gate and rejects the canary, the promote jobs never start, and the
//      stable pods are the same pods (UIDs), on the stable digest, and served every probe;
//   2. a good canary: every job passes, stable runs the canary's digest, the canary is gone.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { need, run, tempDir, withStackEnv } from '../stack/index.ts';
import { repoRoot, runCli } from '../support/run-action.ts';
import { traffic } from '../support/traffic.ts';
import { ensureHelperImage } from './gitlab/helper-image.ts';
import { component, createProject, type Project } from './gitlab/project.ts';
import { type GclRun, runGitlabCiLocal } from './gitlab/run.ts';

const NS = 'e2e-gitlab-canary';
const env = withStackEnv();
const REPO = `${env.SHIPLINE_REGISTRY}/e2e-gitlab-canary/order-service`;
const EXAMPLE = join(repoRoot, 'examples', 'order-service', '.gitlab', 'canary.gitlab-ci.yml');
const JOBS = ['build-docker-build', 'push-registry-push', 'canary-k8s-deploy', 'verdict-rollout-verify', 'promote-k8s-deploy', 'promoted-smoke-test'];
const PIPELINE_TIMEOUT_MS = 12 * 60_000;

const kubectl = (args: string[]) => execFileSync('kubectl', ['-n', NS, ...args], { env, encoding: 'utf8', timeout: 180_000 });

interface Include {
  component: string;
  inputs: Record<string, unknown>;
}

interface Localization {
  variables: Record<string, string | null>;
  /** Inputs of the include with this job-prefix (null removes one). */
  inputs: Record<string, Record<string, unknown>>;
  /** Jobs of the example's own (overrides of the included jobs) to leave out. */
  dropJobs: string[];
}

const SHIPLINE_COMPONENT = /^\$CI_SERVER_FQDN\/shipline\/shipline\/([a-z0-9-]+)@\S+$/;

/**
 * The example as this project runs it. Everything it changes must exist in the example: a renamed
 * include, input, variable or job fails the test instead of running the example unchanged.
 */
function localize(o: Localization): Record<string, unknown> {
  const ci = parse(readFileSync(EXAMPLE, 'utf8')) as { include: Include[]; variables: Record<string, string> } & Record<string, unknown>;
  const seen = new Set<string>();
  for (const inc of ci.include) {
    const m = SHIPLINE_COMPONENT.exec(inc.component);
    if (!m) throw new Error(`the example includes ${inc.component}, not a Shipline component`);
    inc.component = component(m[1] as string);
    const prefix = inc.inputs['job-prefix'] as string;
    for (const [k, v] of Object.entries(o.inputs[prefix] ?? {})) {
      if (v === null) {
        if (!(k in inc.inputs)) throw new Error(`include ${prefix} has no input ${k} to remove`);
        delete inc.inputs[k];
      } else inc.inputs[k] = v;
    }
    if (o.inputs[prefix]) seen.add(prefix);
  }
  for (const p of Object.keys(o.inputs)) if (!seen.has(p)) throw new Error(`the example has no include with job-prefix ${p}`);
  for (const [k, v] of Object.entries(o.variables)) {
    if (!(k in ci.variables)) throw new Error(`the example has no variable ${k}`);
    if (v === null) delete ci.variables[k];
    else ci.variables[k] = v;
  }
  for (const j of o.dropJobs) {
    if (!(j in ci)) throw new Error(`the example has no job ${j}`);
    delete ci[j];
  }
  return ci;
}

let runnerImage = '';
let helperImage = '';
let root = '';
let dir = '';
let project: Project;

/** The example building the service with these extra build arguments (FAIL_RATE=0.5 for the bad one). */
async function canaryPipeline(what: string, buildArgs: string[]): Promise<GclRun> {
  project.pipeline(
    localize({
      variables: {
        IMAGE: REPO,
        NAMESPACE: NS,
        PROMETHEUS_URL: need('PROMETHEUS_URL'),
        SHIPLINE_RUNNER_IMAGE: runnerImage,
        SHIPLINE_PASSWORD: null,
      },
      inputs: {
        build: { 'build-args': ['BASE_IMAGE=$SHIPLINE_NODE_IMAGE', 'APP_VERSION=$CI_COMMIT_SHORT_SHA', ...buildArgs].join('\n') },
        push: { username: null },
      },
      dropJobs: ['build-docker-build'],
    }),
  );
  const r = await runGitlabCiLocal(dir, {
    helperImage,
    env,
    variables: { SHIPLINE_NODE_IMAGE: need('SHIPLINE_NODE_IMAGE') },
    // A dev runner image that runs the CLI from this checkout (SHIPLINE_E2E_RUNNER_IMAGE) needs it mounted.
    volumes: process.env.SHIPLINE_E2E_RUNNER_IMAGE ? [`${repoRoot}:${repoRoot}:ro`] : [],
    timeoutMs: PIPELINE_TIMEOUT_MS,
  });
  // Each job's own time, from gitlab-ci-local's `<job> finished in <duration>` lines.
  const took = [...r.output.matchAll(/^(\S+) finished in ([^\n]*?)(?:\s+(?:PASS|FAIL|WARN)\b.*)?$/gm)]
    .filter((m) => JOBS.includes(m[1] as string))
    .map((m) => `${m[1]} ${m[2]}`);
  console.log(`gitlab-ci-local (${what}): exit ${r.code} in ${r.seconds.toFixed(1)} s; ${took.join(', ')}`);
  return r;
}

/** gitlab-ci-local's closing summary lines (` PASS  job`, ` FAIL  job`): the jobs that ran, with their result. */
function verdicts(output: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of output.matchAll(/^\s*(PASS|FAIL|WARN)\s+(\S+)\s*$/gm)) if (JOBS.includes(m[2] as string)) out[m[2] as string] = m[1] as string;
  return out;
}

/** An output of a job, from its dotenv line or from the artifact file the line names. */
function output(r: GclRun, job: string, key: string): string | undefined {
  const d = r.dotenv(job);
  if (d[key] !== undefined) return d[key];
  const file = d[`${key}_FILE`];
  return file === undefined ? undefined : r.artifact(job, file);
}

interface Pod {
  metadata: { uid: string; deletionTimestamp?: string };
  spec: { containers: { image: string }[] };
  status: { podIP?: string };
}

function pods(selector: string): Pod[] {
  const list = JSON.parse(kubectl(['get', 'pods', '-l', selector, '-o', 'json'])) as { items: Pod[] };
  return list.items.filter((p) => !p.metadata.deletionTimestamp);
}

const deployments = () =>
  (JSON.parse(kubectl(['get', 'deployments', '-o', 'json'])) as { items: { metadata: { name: string } }[] }).items.map((d) => d.metadata.name).sort();

let clusterIP = '';
let stableUids: string[] = [];
let stableIPs: string[] = [];
let stableDigest = '';

beforeAll(async () => {
  if (process.env.SHIPLINE_E2E_RUNNER_IMAGE) runnerImage = process.env.SHIPLINE_E2E_RUNNER_IMAGE;
  else {
    const { ensureRunnerImage } = (await import('../../images/runner/build.ts')) as { ensureRunnerImage: () => Promise<string> };
    runnerImage = await ensureRunnerImage();
  }
  helperImage = ensureHelperImage(env);
  await run('kubectl', ['delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=120s'], { env });
  root = tempDir('gitlab-canary');
  dir = join(root, 'project');
  project = createProject(dir, REPO);

  // The stable version, delivered the rolling way with the CLI from the same project. The stack's
  // TLS registry credentials stay out: the CLI would read them as k8s-deploy's pull-secret password.
  const { SHIPLINE_REGISTRY_USER: _u, SHIPLINE_REGISTRY_PASSWORD: _p, ...cliEnv } = env;
  const cli = async (args: string[]) => {
    const r = await runCli(args, { env: cliEnv, timeoutMs: 300_000 });
    expect(r.code, `${args[0]}: ${r.stderr.slice(-2000)}${r.stdout.slice(-2000)}`).toBe(0);
    return r.outputs;
  };
  const t0 = performance.now();
  const built = await cli([
    'docker-build',
    '--context',
    dir,
    '--image',
    REPO,
    '--tags',
    'type=raw,value=stable',
    '--build-args',
    `BASE_IMAGE=${need('SHIPLINE_NODE_IMAGE')}\nAPP_VERSION=stable`,
    '--load',
    'false',
    '--oci-layout',
    // Outside the project, whose every file gitlab-ci-local copies into each job.
    join(root, 'stable-oci'),
  ]);
  const pushed = await cli(['registry-push', '--oci-layout', built['oci-layout'] as string, '--destinations', built.tags as string]);
  stableDigest = pushed.digest as string;
  await cli([
    'k8s-deploy',
    '--manifests',
    join(dir, 'k8s'),
    '--images',
    pushed.refs as string,
    '--vars',
    'APP_VERSION=stable',
    '--namespace',
    NS,
    '--create-namespace',
    'true',
    '--wait',
    'true',
    '--timeout',
    '3m',
  ]);
  console.log(`stable delivered with the CLI in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  clusterIP = kubectl(['get', 'service', 'order-service', '-o', 'jsonpath={.spec.clusterIP}']).trim();
  const stable = pods('app=order-service');
  stableUids = stable.map((p) => p.metadata.uid).sort();
  stableIPs = stable.map((p) => p.status.podIP as string);
  expect(stableUids).toHaveLength(2);
}, 1_800_000);

afterAll(async () => {
  if (root && !process.env.SHIPLINE_E2E_KEEP) rmSync(root, { recursive: true, force: true });
  await run('kubectl', ['delete', 'namespace', NS, '--ignore-not-found', '--wait=false'], { env, allowFail: true });
});

describe('the canary example under gitlab-ci-local', () => {
  it(
    'rejects a canary that answers 500 on half of /orders at the verdict job; promote never starts; stable keeps its pods and serves every probe',
    async () => {
      const load = traffic(() => `http://${clusterIP}:8080/orders`, 50);
      let n = 0;
      const probe = traffic(() => `http://${stableIPs[n++ % stableIPs.length]}:8080/orders`, 200);
      let r: GclRun;
      try {
        r = await canaryPipeline('bad canary', ['FAIL_RATE=0.5']);
      } finally {
        await load.stop();
        await probe.stop();
      }
      console.log(`load through the Service every 50 ms: ${JSON.stringify(load.tally)}`);
      console.log(
        `stable probes every 200 ms: ${probe.tally.sent} sent, ${probe.tally.ok} ok, ${probe.tally.failed + probe.tally.status5xx + probe.tally.otherStatus} failed`,
      );
      expect(r.code, r.output.slice(-6000)).not.toBe(0);
      expect(verdicts(r.output), r.output.slice(-6000)).toEqual({
        'build-docker-build': 'PASS',
        'push-registry-push': 'PASS',
        'canary-k8s-deploy': 'PASS',
        'verdict-rollout-verify': 'FAIL',
      });
      // The jobs after the verdict need it: neither started.
      expect(r.output).not.toMatch(/promote-k8s-deploy\s+starting/);
      expect(r.output).not.toMatch(/promoted-smoke-test\s+starting/);

      expect(output(r, 'canary-k8s-deploy', 'K8S_DEPLOY_STRATEGY')).toBe('canary');
      expect(output(r, 'canary-k8s-deploy', 'K8S_DEPLOY_CANARY')).toBe(`${NS}/order-service-canary`);
      expect(output(r, 'verdict-rollout-verify', 'ROLLOUT_VERIFY_STATUS')).toBe('failed');
      expect(output(r, 'verdict-rollout-verify', 'ROLLOUT_VERIFY_REASON')).toBe('GateFailed');
      expect(output(r, 'verdict-rollout-verify', 'ROLLOUT_VERIFY_GATE_VERDICT')).toBe('failed');
      const gates = JSON.parse(output(r, 'verdict-rollout-verify', 'ROLLOUT_VERIFY_GATES') ?? '{}') as {
        gates?: { gate: string; verdict: string; measurements: { values: { value: number }[] }[] }[];
      };
      const errorRate = gates.gates?.find((g) => g.gate === 'error-rate');
      expect(errorRate?.verdict, JSON.stringify(gates).slice(0, 3000)).toBe('failed');
      console.log(`error-rate measured: ${errorRate?.measurements.map((m) => m.values.map((v) => v.value.toFixed(3)).join(' ')).join(', ')}`);
      const rejected = JSON.parse(output(r, 'verdict-rollout-verify', 'ROLLOUT_VERIFY_REJECTED') ?? '[]') as {
        strategy: string;
        workload: string;
        rejected: boolean;
      }[];
      expect(rejected).toEqual([expect.objectContaining({ strategy: 'canary', workload: expect.stringMatching(/^order-service(-canary)?$/), rejected: true })]);
      expect(r.log('verdict-rollout-verify')).toMatch(/Gates: failed/);
      // The summary, as GitLab's log shows it: a plain-text table.
      expect(r.log('verdict-rollout-verify')).toMatch(/^error-rate\s+failed\s+0\s+[1-9]/m);

      // The canary is gone; stable is the same two pods, on the stable digest, and never failed.
      expect(pods('shipline.dev/track=canary')).toEqual([]);
      expect(deployments()).toEqual(['order-service']);
      const stable = pods('app=order-service');
      expect(stable.map((p) => p.metadata.uid).sort()).toEqual(stableUids);
      for (const p of stable) expect(p.spec.containers[0]?.image).toContain(stableDigest);
      expect(probe.tally.sent).toBeGreaterThan(50);
      expect(probe.tally.firstErrors).toEqual([]);
      expect(probe.tally.failed + probe.tally.status5xx + probe.tally.otherStatus).toBe(0);
      // The gate had failures to see: the canary did answer 500 through the Service.
      expect(load.tally.status5xx).toBeGreaterThan(0);
    },
    PIPELINE_TIMEOUT_MS + 60_000,
  );

  it(
    'promotes a good canary: every job passes, stable runs the canary digest, the canary is removed',
    async () => {
      const load = traffic(() => `http://${clusterIP}:8080/orders`, 50);
      let r: GclRun;
      try {
        r = await canaryPipeline('good canary', []);
      } finally {
        await load.stop();
      }
      console.log(`load through the Service every 50 ms: ${JSON.stringify(load.tally)}`);
      expect(r.code, r.output.slice(-6000)).toBe(0);
      expect(verdicts(r.output)).toEqual(Object.fromEntries(JOBS.map((j) => [j, 'PASS'])));
      expect(output(r, 'verdict-rollout-verify', 'ROLLOUT_VERIFY_GATE_VERDICT')).toBe('passed');
      expect(output(r, 'verdict-rollout-verify', 'ROLLOUT_VERIFY_STATUS')).toBe('success');
      expect(output(r, 'promoted-smoke-test', 'SMOKE_TEST_PASSED')).toBe('true');
      const promoted = JSON.parse(output(r, 'promote-k8s-deploy', 'K8S_DEPLOY_RELEASES') ?? '[]') as { strategy: string; workload: string }[];
      expect(promoted).toEqual([expect.objectContaining({ strategy: 'canary', workload: 'order-service' })]);

      const digest = output(r, 'push-registry-push', 'REGISTRY_PUSH_DIGEST') as string;
      expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(digest).not.toBe(stableDigest);
      expect(pods('shipline.dev/track=canary')).toEqual([]);
      expect(deployments()).toEqual(['order-service']);
      const stable = pods('app=order-service');
      expect(stable).toHaveLength(2);
      for (const p of stable) expect(p.spec.containers[0]?.image).toContain(digest);
      // Good answers only: the load saw no 5xx from either version.
      expect(load.tally.status5xx).toBe(0);
    },
    PIPELINE_TIMEOUT_MS + 60_000,
  );
});
