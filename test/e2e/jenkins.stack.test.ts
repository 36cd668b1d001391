// examples/order-service/Jenkinsfile end to end with no Jenkins: its stages' `sh` steps, read by a
// strict parser, run in order in ONE container of the runner image as Jenkins' docker agent runs
// them (workspace bind-mounted, Jenkins' environment, withCredentials bindings), against the stack:
// namespace e2e-jenkins, image 127.0.0.1:5000/e2e-jenkins/order-service. The stages run build →
// push → deploy → verify → smoke. A good change must be delivered (pods on the pushed digest,
// verdict success, then the smoke test through the Service answering as the new version); a
// crashing one must fail at Verify with CrashLoopBackOff, be rolled back, skip Smoke, and leave the
// old version serving; the fix after it must be delivered again.
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureRunnerImage } from '../../images/runner/build.ts';
import { run, tempDir, withStackEnv } from '../stack/index.ts';
import { repoRoot } from '../support/run-action.ts';
import { type BuildRun, buildEnvironment, runPipeline } from './jenkins/agent.ts';
import { JenkinsfileError, parseJenkinsfile } from './jenkins/jenkinsfile.ts';
import { copyService } from './service.ts';

const NAMESPACE = 'e2e-jenkins';
const JENKINSFILE = join(repoRoot, 'examples', 'order-service', 'Jenkinsfile');

describe('the Jenkinsfile reader', () => {
  it('reads the example: five stages in order, credentials bound, outputs saved for the next stage', () => {
    const p = parseJenkinsfile(readFileSync(JENKINSFILE, 'utf8'));
    expect(p.image).toBe('shipline/runner');
    expect(p.stages.map((s) => s.name)).toEqual(['Build', 'Push', 'Deploy', 'Verify', 'Smoke']);
    const actions = p.stages.map((s) => /shipline ([a-z0-9-]+)/.exec(s.steps.map((x) => x.script).join('\n'))?.[1]);
    expect(actions).toEqual(['docker-build', 'registry-push', 'k8s-deploy', 'rollout-verify', 'smoke-test']);
    expect(p.stages[1]?.steps[0]?.bindings).toEqual([
      { kind: 'usernamePassword', credentialsId: 'shipline-registry', usernameVariable: 'REGISTRY_USER', passwordVariable: 'SHIPLINE_PASSWORD' },
    ]);
    const kubeconfig = { kind: 'file', credentialsId: 'shipline-kubeconfig', variable: 'KUBECONFIG' };
    // Deploy also binds the registry credential, for the pull secret PULL_SECRET names.
    expect(p.stages[2]?.steps[0]?.bindings).toEqual([
      kubeconfig,
      { kind: 'usernamePassword', credentialsId: 'shipline-registry', usernameVariable: 'REGISTRY_USER', passwordVariable: 'SHIPLINE_REGISTRY_PASSWORD' },
    ]);
    for (const s of p.stages.slice(3)) expect(s.steps[0]?.bindings).toEqual([kubeconfig]);
    expect(p.post.failure?.[0]?.script).toContain('verdict:');
    // Groovy joins a line ending in a backslash with the next: the shell gets one command.
    expect(p.stages[0]?.steps[0]?.script).toMatch(/shipline docker-build +--context "\$APP_DIR" +--image/);
  });

  it("gives a job's first build, which has no parameters (JENKINS-40574), the parameters' defaults", () => {
    const p = parseJenkinsfile(readFileSync(JENKINSFILE, 'utf8'));
    const base = { jobName: 'order-service', buildNumber: 1, workspace: '/ws/order-service' };
    const defaults = Object.fromEntries(p.params.map((d) => [d.name, d.defaultValue]));
    const first = buildEnvironment(p, base, undefined);
    const later = buildEnvironment(p, base, defaults);
    expect(first.args).toEqual(later.args);
    expect(first.args.join(' ')).toBe('--entrypoint= -u 0:0 --network bridge -v /var/run/docker.sock:/var/run/docker.sock');
    // Every parameter an sh step reads is in the first build's environment, with its default.
    const read = p.params.filter((d) => p.stages.some((s) => s.steps.some((x) => x.script.includes(`$${d.name}`))));
    expect(read.map((d) => d.name)).toEqual(['IMAGE', 'NAMESPACE', 'APP_DIR', 'BASE_IMAGE', 'CRASH', 'ROLLBACK', 'VERIFY_TIMEOUT', 'PULL_SECRET']);
    for (const d of read) expect(first.env[d.name], d.name).toBe(d.defaultValue);
    // A value given to a later build wins over the fallback.
    expect(buildEnvironment(p, base, { ...defaults, IMAGE: 'r.test/x' }).env.IMAGE).toBe('r.test/x');
    expect(Object.values(first.env).join('\n')).not.toMatch(/\bnull\b/);
  });

  const withParam = (uses: string) =>
    `pipeline { agent { docker { image 'x' args "-v \${params.S ?: '/s'}:/s" } } parameters { string(name: 'S', defaultValue: '/s', description: 'd') string(name: 'N', defaultValue: 'n', description: 'd') } ${uses} }`;

  it.each([
    [
      'a parameter used with no fallback',
      "pipeline { agent { docker { image 'x' args \"--network ${params.N}\" } } parameters { string(name: 'N', defaultValue: 'bridge', description: 'd') } stages { stage('A') { steps { sh 'true' } } } }",
      /the agent args uses params\.N without a fallback; write \$\{params\.N \?: 'bridge'\}/,
    ],
    [
      'a fallback that is not the default',
      withParam("environment { N = \"${params.N ?: 'm'}\" } stages { stage('A') { steps { sh 'echo $N' } } }"),
      /environment N uses params\.N with the fallback 'm'; write \$\{params\.N \?: 'n'\}/,
    ],
    [
      'an undeclared parameter',
      withParam("environment { N = \"${params.M ?: 'n'}\" } stages { stage('A') { steps { sh 'true' } } }"),
      /uses params\.M, which `parameters` does not declare/,
    ],
    [
      'a parameter an sh step reads that environment {} does not set',
      withParam("stages { stage('A') { steps { sh 'echo \"$N\"' } } }"),
      /an sh step reads \$N, but `environment \{\}` does not set N = "\$\{params\.N \?: 'n'\}"/,
    ],
    [
      'a step it does not know',
      "pipeline { agent { docker { image 'x' } } stages { stage('A') { steps { echo 'hi' } } } }",
      /`echo` in `steps` is not understood/,
    ],
    [
      'an unknown section',
      "pipeline { agent { docker { image 'x' } } triggers { cron('H * * * *') } stages { } }",
      /`triggers` in `pipeline` is not understood/,
    ],
    [
      'a script Groovy would interpolate',
      "pipeline { agent { docker { image 'x' } } stages { stage('A') { steps { sh \"echo ${FOO}\" } } } }",
      /must not interpolate/,
    ],
    [
      'an invalid Groovy escape',
      "pipeline { agent { docker { image 'x' } } stages { stage('A') { steps { sh 'grep \\d' } } } }",
      /escape \\d is not valid Groovy/,
    ],
    [
      'a binding it does not know',
      "pipeline { agent { docker { image 'x' } } stages { stage('A') { steps { withCredentials([string(credentialsId: 't', variable: 'T')]) { sh 'true' } } } } }",
      /binding `string` is not understood/,
    ],
    ['no docker agent', "pipeline { agent { label 'linux' } stages { stage('A') { steps { sh 'true' } } } }", /`agent` needs exactly one `docker`/],
    ['an unterminated script', "pipeline { agent { docker { image 'x' } } stages { stage('A') { steps { sh '''true } } } }", /unterminated string/],
  ])('refuses %s', (_what, src, message) => {
    expect(() => parseJenkinsfile(src)).toThrow(JenkinsfileError);
    expect(() => parseJenkinsfile(src)).toThrow(message);
  });
});

describe('the Jenkinsfile on the stack (e2e-jenkins)', () => {
  const env = withStackEnv();
  const kubectl = (args: string[]) => run('kubectl', ['-n', NAMESPACE, ...args], { env, timeoutMs: 120_000 });
  const image = `${env.SHIPLINE_REGISTRY}/e2e-jenkins/order-service`;
  const root = tempDir('jenkins');
  const workspace = join(root, 'workspace', 'order-service');
  const pipeline = parseJenkinsfile(readFileSync(JENKINSFILE, 'utf8'));
  // Build numbers unique per run, so every run pushes and deploys a version of its own.
  const firstBuild = Math.floor(Date.now() / 1000) % 1_000_000;
  let runner = '';
  let good: BuildRun | undefined;
  let goodDigest = '';

  const build = (buildNumber: number, params: Record<string, string>) =>
    runPipeline(pipeline, {
      image: runner,
      workspace,
      jobName: 'order-service',
      buildNumber,
      params: {
        IMAGE: image,
        NAMESPACE,
        BASE_IMAGE: env.SHIPLINE_NODE_IMAGE as string,
        AGENT_NETWORK: 'host',
        DOCKER_SOCKET: (env.DOCKER_HOST as string).replace(/^unix:\/\//, ''),
        ...params,
      },
      credentials: {
        // 127.0.0.1:5000 asks for no login: the binding is made and passed as Jenkins would.
        'shipline-registry': { username: env.SHIPLINE_REGISTRY_USER as string, password: env.SHIPLINE_REGISTRY_PASSWORD as string },
        'shipline-kubeconfig': { file: { name: 'kubeconfig', content: readFileSync(env.KUBECONFIG as string, 'utf8') } },
      },
      dockerEnv: env,
    });

  const log = (b: BuildRun) => [...b.stages, ...b.post].map((s) => `==== ${s.stage} (exit ${s.code}, ${s.seconds.toFixed(1)} s)\n${s.output}`).join('\n');
  const saved = (name: string) => readFileSync(join(workspace, '.shipline', name), 'utf8');
  const output = (file: string, name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(saved(file))?.[1];

  beforeAll(async () => {
    expect(pipeline.image).toBe('shipline/runner');
    runner = await ensureRunnerImage();
    // The checkout Jenkins would make: the Jenkinsfile and the service, whose manifests name our repository.
    mkdirSync(join(workspace, 'examples', 'order-service'), { recursive: true });
    cpSync(JENKINSFILE, join(workspace, 'Jenkinsfile'));
    copyService(join(workspace, 'examples', 'order-service'), image, ['Dockerfile', 'package.json', 'src', 'k8s']);
    // A fresh namespace: the broken change must fall back to what the good run deployed.
    await kubectl(['delete', 'namespace', NAMESPACE, '--ignore-not-found', '--wait=true', '--timeout=120s']).catch(() => undefined);
  });

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('delivers: every stage passes, the pods run the pushed digest, the verdict is success', async () => {
    good = await build(firstBuild, {});
    const text = log(good);
    expect(good.result, text).toBe('SUCCESS');
    expect(good.stages.map((s) => [s.stage, s.code])).toEqual([
      ['Build', 0],
      ['Push', 0],
      ['Deploy', 0],
      ['Verify', 0],
      ['Smoke', 0],
    ]);
    for (const secret of good.secrets) expect(text).not.toContain(secret);

    const digest = output('push.out', 'digest') as string;
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    goodDigest = digest;
    // The registry serves that digest for the tag the build pushed (skopeo-free: the registry API).
    const res = await fetch(`http://${env.SHIPLINE_REGISTRY}/v2/e2e-jenkins/order-service/manifests/build-${firstBuild}`, {
      method: 'HEAD',
      headers: {
        Accept: 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json',
      },
    });
    expect(res.headers.get('docker-content-digest')).toBe(digest);

    const pods = JSON.parse((await kubectl(['get', 'pods', '-l', 'app=order-service', '-o', 'json'])).stdout) as {
      items: { spec: { containers: { image: string }[] }; status: { phase: string; containerStatuses?: { imageID: string }[] } }[];
    };
    const running = pods.items.filter((p) => p.status.phase === 'Running');
    expect(running.length).toBeGreaterThanOrEqual(2);
    for (const p of running) {
      expect(p.spec.containers[0]?.image).toBe(`${image}:build-${firstBuild}@${digest}`);
      expect(p.status.containerStatuses?.[0]?.imageID).toContain(digest);
    }
    expect(output('verify.out', 'status')).toBe('success');
    expect(good.stages[3]?.output).toContain('verdict: success');
    // Smoke ran after the verdict, and the Service answered as the new version (--expect-json).
    expect(output('smoke.out', 'passed')).toBe('true');
    expect(good.post).toEqual([]);
  }, 900_000);

  it('a crashing change fails at Verify with CrashLoopBackOff, is rolled back, skips Smoke, and the old version serves', async () => {
    expect(good?.result, 'the good delivery must pass first').toBe('SUCCESS');
    const broken = await build(firstBuild + 1, { CRASH: '1', ROLLBACK: 'true' });
    const text = log(broken);
    expect(broken.result, text).toBe('FAILURE');
    expect(broken.failedStage, text).toBe('Verify');
    expect(broken.stages.map((s) => [s.stage, s.code])).toEqual([
      ['Build', 0],
      ['Push', 0],
      ['Deploy', 0],
      ['Verify', 1],
    ]);
    expect(broken.stages.at(-1)?.output).toContain('CrashLoopBackOff');
    expect(output('verify.out', 'reason')).toBe('CrashLoopBackOff');
    // Smoke did not run: no smoke output in this build's $OUT (Build empties it).
    expect(existsSync(join(workspace, '.shipline', 'smoke.out'))).toBe(false);
    // post { failure } printed the verdict.
    expect(broken.post.map((s) => s.stage)).toEqual(['post failure']);
    expect(broken.post[0]?.output).toContain('verdict: failed (CrashLoopBackOff)');
    for (const secret of broken.secrets) expect(text).not.toContain(secret);

    // The Deployment is back on the good build's digest, and the Service answers as that version.
    expect(output('push.out', 'digest')).not.toBe(goodDigest);
    const deployed = (await kubectl(['get', 'deployment', 'order-service', '-o', 'jsonpath={.spec.template.spec.containers[0].image}'])).stdout;
    expect(deployed).toBe(`${image}:build-${firstBuild}@${goodDigest}`);
    const health = await run('kubectl', ['get', '--raw', `/api/v1/namespaces/${NAMESPACE}/services/order-service:8080/proxy/healthz`], { env });
    expect(JSON.parse(health.stdout)).toMatchObject({ version: `build-${firstBuild}` });
  }, 900_000);

  it("the fix after a rollback delivers (the rollback's fields are taken back, nobody else's)", async () => {
    const fixed = await build(firstBuild + 2, {});
    const text = log(fixed);
    expect(fixed.result, text).toBe('SUCCESS');
    expect(fixed.stages.map((s) => s.stage)).toEqual(['Build', 'Push', 'Deploy', 'Verify', 'Smoke']);
    const digest = output('push.out', 'digest') as string;
    const deployed = (await kubectl(['get', 'deployment', 'order-service', '-o', 'jsonpath={.spec.template.spec.containers[0].image}'])).stdout;
    expect(deployed).toBe(`${image}:build-${firstBuild + 2}@${digest}`);
    expect(output('verify.out', 'status')).toBe('success');
    expect(output('smoke.out', 'passed')).toBe('true');
  }, 900_000);
});
