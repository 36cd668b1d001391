// The deliver component end to end under gitlab-ci-local on the local stack: a GitLab project
// (a temp git repository: templates/, the order service, a `.gitlab-ci.yml` including
// `component: $CI_SERVER_FQDN/shipline/delivery/deliver@$CI_COMMIT_SHA`) whose five jobs run in the
// runner image with the docker executor on the stack's dockerd. First a good change: every job
// passes in the order build → push → deploy → verify → smoke, the pods run exactly the pushed
// digest, smoke-test saw the new version's answer, outputs crossed jobs through dotenv reports and
// artifacts. Then a crash-looping change (build arg CRASH=1, rollback on): it fails at the verify
// job with CrashLoopBackOff, the smoke job does not run, and the first version still serves. Last, a
// good change whose smoke rule fails: verify passes, the smoke job fails the pipeline.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withStackEnv } from '../stack/index.ts';
import { repoRoot } from '../support/run-action.ts';
import { ensureHelperImage } from './gitlab/helper-image.ts';
import { createProject, deliverPipeline, type Project, perActionPipeline } from './gitlab/project.ts';
import { type GclRun, runGitlabCiLocal } from './gitlab/run.ts';

const NS = 'e2e-gitlab';
const env = withStackEnv();
const REPO = `${env.SHIPLINE_REGISTRY}/e2e-gitlab/order-service`;
const JOBS = ['deliver-build', 'deliver-push', 'deliver-deploy', 'deliver-verify', 'deliver-smoke'];

const kubectl = (args: string[]) => execFileSync('kubectl', args, { env, encoding: 'utf8', timeout: 180_000 });

/** What a team writes: the deliver component with this service's inputs. */
function inputs(version: string, crash: boolean): Record<string, unknown> {
  return {
    'runner-image': runnerImage,
    repository: REPO,
    'build-args': `BASE_IMAGE=$SHIPLINE_NODE_IMAGE\nAPP_VERSION=${version}${crash ? '\nCRASH=1' : ''}`,
    tags: `type=sha\ntype=raw,value=${version}`,
    cache: 'none',
    manifests: 'k8s',
    namespace: NS,
    'create-namespace': true,
    vars: `APP_VERSION=${version}`,
    environment: 'e2e',
    // The version in /healthz's answer shows the smoke test reached the new pods, not the old ones.
    'smoke-services': `${NS}/order-service:8080/healthz`,
    'expect-json': `$.version = "${version}"`,
    'consecutive-successes': 2,
    'verify-timeout': '3m',
    rollback: true,
  };
}

let runnerImage = '';
let helperImage = '';
let dir = '';
let project: Project;
let servingDigest = '';
let servingVersion = '';

async function run(ci: Record<string, unknown>, what: string): Promise<GclRun> {
  project.pipeline(ci);
  const r = await runGitlabCiLocal(dir, {
    helperImage,
    env,
    variables: { SHIPLINE_NODE_IMAGE: env.SHIPLINE_NODE_IMAGE as string },
    // A dev runner image that runs the CLI from this checkout (SHIPLINE_E2E_RUNNER_IMAGE) needs it mounted.
    volumes: process.env.SHIPLINE_E2E_RUNNER_IMAGE ? [`${repoRoot}:${repoRoot}:ro`] : [],
  });
  console.log(`gitlab-ci-local (${what}): exit ${r.code} in ${r.seconds.toFixed(1)} s`);
  return r;
}

const deliver = (version: string, crash: boolean) => run(deliverPipeline(inputs(version, crash)), crash ? 'broken change' : 'good change');

/** gitlab-ci-local's closing summary: ` PASS  job` / ` FAIL  job` lines. */
function verdicts(output: string, jobs = JOBS): Record<string, string> {
  return Object.fromEntries(
    [...output.matchAll(/^\s*(PASS|FAIL|WARN)\s+(\S+)\s*$/gm)].filter((m) => jobs.includes(m[2] as string)).map((m) => [m[2] as string, m[1] as string]),
  );
}

function podsOf(): { image: string; imageID: string; ready: boolean }[] {
  const pods = JSON.parse(kubectl(['get', 'pods', '-n', NS, '-l', 'app=order-service', '-o', 'json'])) as {
    items: {
      metadata: { deletionTimestamp?: string };
      spec: { containers: { image: string }[] };
      status: { containerStatuses?: { imageID: string; ready: boolean }[] };
    }[];
  };
  return pods.items
    .filter((p) => !p.metadata.deletionTimestamp)
    .map((p) => ({
      image: p.spec.containers[0]?.image ?? '',
      imageID: p.status.containerStatuses?.[0]?.imageID ?? '',
      ready: p.status.containerStatuses?.[0]?.ready === true,
    }));
}

beforeAll(async () => {
  if (process.env.SHIPLINE_E2E_RUNNER_IMAGE) runnerImage = process.env.SHIPLINE_E2E_RUNNER_IMAGE;
  else {
    const { ensureRunnerImage } = (await import('../../images/runner/build.ts')) as { ensureRunnerImage: () => Promise<string> };
    runnerImage = await ensureRunnerImage();
  }
  helperImage = ensureHelperImage(env);
  kubectl(['delete', 'namespace', NS, '--ignore-not-found', '--wait=true']);
  dir = mkdtempSync(join(tmpdir(), 'shipline-gitlab-e2e-'));
  project = createProject(dir, REPO);
}, 1_800_000);

afterAll(() => {
  if (dir && !process.env.SHIPLINE_E2E_KEEP) rmSync(dir, { recursive: true, force: true });
});

describe('deliver component under gitlab-ci-local', () => {
  it('delivers the order service: pods run the pushed digest, verify then smoke pass on the new version, outputs cross jobs', async () => {
    const version = `gitlab-${Date.now().toString(36)}`;
    const r = await deliver(version, false);
    expect(r.code, r.output.slice(-6000)).toBe(0);
    expect(verdicts(r.output)).toEqual(Object.fromEntries(JOBS.map((j) => [j, 'PASS'])));

    const build = r.dotenv('deliver-build');
    const push = r.dotenv('deliver-push');
    const deploy = r.dotenv('deliver-deploy');
    const smoke = r.dotenv('deliver-smoke');
    const verify = r.dotenv('deliver-verify');
    const digest = build.DOCKER_BUILD_DIGEST as string;
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    // docker-build's tags (one a line) crossed as one comma-separated line, and registry-push pushed each.
    const tags = (build.DOCKER_BUILD_TAGS as string).split(',');
    expect(tags).toContain(`${REPO}:${version}`);
    expect(tags.some((t) => /:sha-[0-9a-f]{7}$/.test(t))).toBe(true);
    const pushed = push.REGISTRY_PUSH_DIGEST as string;
    expect((JSON.parse(push.REGISTRY_PUSH_REFS as string) as string[]).sort()).toEqual(tags.map((t) => `${t}@${pushed}`).sort());
    // The OCI layout reached the push job as an artifact (its path came through the dotenv).
    expect(r.log('deliver-push')).toContain(`oci-layout:${build.DOCKER_BUILD_OCI_LAYOUT}`);
    // skopeo, an independent client, sees the digest under the version tag.
    const inspected = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', `docker://${REPO}:${version}`], { encoding: 'utf8' })) as {
      Digest: string;
    };
    expect(inspected.Digest).toBe(pushed);
    // k8s-deploy's resources travelled as an artifact file named in its dotenv; verify read it.
    const resourcesFile = deploy.K8S_DEPLOY_RESOURCES_FILE as string;
    expect(resourcesFile).toBe('deliver-deploy-k8s-deploy-resources.json');
    const resources = JSON.parse(r.artifact('deliver-deploy', resourcesFile)) as { kind: string; name: string }[];
    expect(resources).toContainEqual(expect.objectContaining({ kind: 'Deployment', name: 'order-service' }));
    expect(smoke.SMOKE_TEST_PASSED).toBe('true');
    expect(verify.ROLLOUT_VERIFY_STATUS).toBe('success');
    expect(verify.ROLLOUT_VERIFY_REASON).toBe('Current');

    const pods = podsOf();
    expect(pods.length).toBeGreaterThan(0);
    for (const p of pods) {
      // Pinned by digest on its exact repository (with or without the tag before the digest).
      expect(p.image).toMatch(new RegExp(`^${REPO.replace(/[.]/g, '\\.')}(:[\\w.-]+)?@${pushed}$`));
      expect(p.imageID.endsWith(`@${pushed}`), p.imageID).toBe(true);
      expect(p.ready).toBe(true);
    }
    servingDigest = pushed;
    servingVersion = version;
    // Images travel by digest: what registry-push stored is what docker-build made.
    expect(pushed, 'registry-push pushed the layout under another digest than docker-build reported').toBe(digest);
  }, 1_200_000);

  it('the five per-action components, wired by their defaults, deliver the same service', async () => {
    const version = `gitlab-steps-${Date.now().toString(36)}`;
    const jobs = ['docker-build', 'registry-push', 'k8s-deploy', 'smoke-test', 'rollout-verify'].map((a) => `shipline-${a}`);
    const r = await run(perActionPipeline({ runnerImage, repository: REPO, version, namespace: NS }), 'per-action components');
    expect(r.code, r.output.slice(-6000)).toBe(0);
    expect(verdicts(r.output, jobs)).toEqual(Object.fromEntries(jobs.map((j) => [j, 'PASS'])));
    const pushed = r.dotenv('shipline-registry-push').REGISTRY_PUSH_DIGEST as string;
    expect(pushed).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(r.dotenv('shipline-rollout-verify').ROLLOUT_VERIFY_STATUS).toBe('success');
    for (const p of podsOf()) expect(p.imageID.endsWith(`@${pushed}`), p.imageID).toBe(true);
    // smoke-test checked the new version's answer, so the new pods are the ones serving.
    expect(r.dotenv('shipline-smoke-test').SMOKE_TEST_PASSED).toBe('true');
    servingDigest = pushed;
    servingVersion = version;
  }, 1_200_000);

  it('a crash-looping change fails at the verify job with CrashLoopBackOff, smoke does not run, and the old version still serves', async () => {
    expect(servingDigest, 'a good delivery ran first').not.toBe('');
    const r = await deliver(`gitlab-broken-${Date.now().toString(36)}`, true);
    expect(r.code).not.toBe(0);
    expect(verdicts(r.output)).toEqual({
      'deliver-build': 'PASS',
      'deliver-push': 'PASS',
      'deliver-deploy': 'PASS',
      'deliver-verify': 'FAIL',
    });
    // A failed verdict leaves nothing new to smoke-test: the job that needs verify never started.
    expect(r.output).not.toMatch(/deliver-smoke\s+starting/);
    const verify = r.dotenv('deliver-verify');
    expect(verify.ROLLOUT_VERIFY_STATUS).toBe('failed');
    expect(verify.ROLLOUT_VERIFY_REASON).toBe('CrashLoopBackOff');
    expect(r.log('deliver-verify')).toMatch(/CrashLoopBackOff/);
    const rolledBack = JSON.parse(r.artifact('deliver-verify', verify.ROLLOUT_VERIFY_ROLLED_BACK_FILE as string)) as { ref: string; restored: boolean }[];
    expect(rolledBack).toContainEqual(expect.objectContaining({ restored: true }));

    const pods = podsOf();
    expect(pods.length).toBeGreaterThan(0);
    for (const p of pods) {
      expect(p.imageID.endsWith(`@${servingDigest}`), p.imageID).toBe(true);
      expect(p.ready).toBe(true);
    }
    const health = JSON.parse(kubectl(['get', '--raw', `/api/v1/namespaces/${NS}/services/order-service:8080/proxy/healthz`])) as {
      status: string;
      version: string;
    };
    expect(health).toEqual({ status: 'ok', version: servingVersion });
  }, 1_200_000);
  it('a smoke failure after a good verdict fails the pipeline at the smoke job, and the new version stays', async () => {
    const version = `gitlab-smokefail-${Date.now().toString(36)}`;
    // A good change whose smoke rule no answer meets: the verdict passes, then the smoke test fails.
    const ci = deliverPipeline({ ...inputs(version, false), 'expect-json': '$.version = "not-the-deployed-version"', 'smoke-deadline': '15s' });
    const r = await run(ci, 'smoke failure');
    expect(r.code).not.toBe(0);
    expect(verdicts(r.output)).toEqual({
      'deliver-build': 'PASS',
      'deliver-push': 'PASS',
      'deliver-deploy': 'PASS',
      'deliver-verify': 'PASS',
      'deliver-smoke': 'FAIL',
    });
    expect(r.dotenv('deliver-verify').ROLLOUT_VERIFY_STATUS).toBe('success');
    expect(r.dotenv('deliver-smoke').SMOKE_TEST_PASSED).toBe('false');
    // No rollback on a smoke failure (that is the smoke gate's job): the verified new version serves.
    const health = JSON.parse(kubectl(['get', '--raw', `/api/v1/namespaces/${NS}/services/order-service:8080/proxy/healthz`])) as { version: string };
    expect(health.version).toBe(version);
  }, 1_200_000);
});
