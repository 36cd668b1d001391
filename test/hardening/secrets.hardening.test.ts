// Issue 14, secrets: a delivery of the order service through each real runner of the end-to-end
// tests (deliver.yml under act, the deliver component under gitlab-ci-local, the example
// Jenkinsfile in the runner image), each to registry B of the stack (TLS and a password: the
// cluster can pull only with the pull secret k8s-deploy makes) with a kubeconfig whose user is a
// ServiceAccount token (no admin credential reaches the run), and, where the runner's file can pass
// one, a build secret the Dockerfile needs (its build fails without it). Every run must deliver.
// Then everything it left is scanned for each secret in every form (test/support/secret-scan.ts):
// the runner's stdout and stderr, step summaries and outputs, job logs, dotenv reports and
// artifacts, every file written in the workspace, the runner's temp dirs and the host's TMPDIR
// during the run, the temp and home dirs of the job containers (kept for that), the pushed image's
// layers and config, and the namespace's objects other than the pull Secret. Correct: no secret in
// any of it (0 leaks), and every file seen holding a credential while the run went was 0600 or
// stricter and is gone at the end. The CI systems' own secret stores are not scanned (act's secret
// file, gitlab-ci-local's variables file and the File variables it writes, Jenkins' secretFiles):
// they stand for GitHub's, GitLab's and Jenkins' vaults. The Jenkinsfile passes no build secret
// (order-service needs none, and a Jenkins credential cannot be optional), so Jenkins counts 3.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureRunnerImage } from '../../images/runner/build.ts';
import { callerWorkflow } from '../e2e/act/caller.ts';
import { type ActEntry, runAct } from '../e2e/act/run-act.ts';
import { ensureHelperImage } from '../e2e/gitlab/helper-image.ts';
import { createProject, deliverPipeline } from '../e2e/gitlab/project.ts';
import { runGitlabCiLocal } from '../e2e/gitlab/run.ts';
import { runPipeline } from '../e2e/jenkins/agent.ts';
import { parseJenkinsfile } from '../e2e/jenkins/jenkinsfile.ts';
import { copyService } from '../e2e/service.ts';
import { need, run, tempDir, uniq, withStackEnv } from '../stack/index.ts';
import { repoRoot } from '../support/run-action.ts';
import { type CredentialFile, Scan, type Secret, watchCredentialFiles } from '../support/secret-scan.ts';

const stackEnv = withStackEnv();
const REGISTRY = need('SHIPLINE_REGISTRY_TLS');
const USER = need('SHIPLINE_REGISTRY_USER');
const PASSWORD = need('SHIPLINE_REGISTRY_PASSWORD');
const CA_FILE = need('SHIPLINE_REGISTRY_CA');
const CA = readFileSync(CA_FILE, 'utf8');
const SA_NS = 'hard-secrets';
const PULL_SECRET = 'regcred';
const id = uniq();
// What a private npm registry's token looks like; the Dockerfile checks the prefix.
const BUILD_SECRET = `npm_${randomBytes(24).toString('hex')}`;

const kubectl = (args: string[], input?: string) =>
  execFileSync('kubectl', args, { env: stackEnv, encoding: 'utf8', timeout: 120_000, ...(input ? { input } : {}) });

/** The environment a runner gets: the stack's tools, no credential of the stack. */
function runnerEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...stackEnv, ...extra };
  for (const k of Object.keys(env)) if (/^(GITHUB_|ACTIONS_|RUNNER_|INPUT_)/.test(k) || /PASSWORD|TOKEN|SECRET/.test(k)) delete env[k];
  delete env.KUBECONFIG;
  return env;
}

/** A kubeconfig for the stack's API server whose user is a ServiceAccount token. */
function tokenKubeconfig(): { config: string; token: string } {
  kubectl(
    ['apply', '-f', '-'],
    `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${SA_NS}}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: deployer, namespace: ${SA_NS}}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: shipline-hard-secrets-deployer}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: [{kind: ServiceAccount, name: deployer, namespace: ${SA_NS}}]\n`,
  );
  const token = kubectl(['-n', SA_NS, 'create', 'token', 'deployer', '--duration=2h']).trim();
  const view = JSON.parse(kubectl(['config', 'view', '--raw', '--minify', '-o', 'json'])) as {
    clusters: { cluster: { server: string; 'certificate-authority-data'?: string; 'certificate-authority'?: string } }[];
  };
  const c = view.clusters[0]?.cluster;
  if (!c) throw new Error('the stack kubeconfig names no cluster');
  const caData = c['certificate-authority-data'] ?? readFileSync(c['certificate-authority'] as string).toString('base64');
  // YAML with no quotes: act's secret file cannot hold `"`.
  const config = [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: stack',
    '  cluster:',
    `    server: ${c.server}`,
    `    certificate-authority-data: ${caData}`,
    'users:',
    '- name: deployer',
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: stack',
    '  context: {cluster: stack, user: deployer}',
    'current-context: stack',
    '',
  ].join('\n');
  return { config, token };
}

/**
 * A RUN that needs the build secret (exec form: the base image has no shell). BuildKit would take
 * it from its cache without the secret, so the build arg SECRET_RUN, new in every run, makes it run.
 */
function useBuildSecret(dockerfile: string): void {
  const text = readFileSync(dockerfile, 'utf8');
  const step =
    "ARG SECRET_RUN\nRUN --mount=type=secret,id=npm_token,required=true [\"/usr/local/bin/node\", \"-e\", \"if (!require('fs').readFileSync('/run/secrets/npm_token', 'utf8').startsWith('npm_')) process.exit(3)\"]\n";
  if (!text.includes('\nUSER ')) throw new Error('the example Dockerfile has no USER line to put the secret step before');
  writeFileSync(dockerfile, text.replace('\nUSER ', `\n${step}USER `));
}

interface Report {
  runner: string;
  secrets: string[];
  clean: string[];
  texts: number;
  bytes: number;
  /** Places holding a secret. */
  leaks: number;
  credentialFiles: CredentialFile[];
  left: string[];
  excluded: string[];
}
const reports: Report[] = [];

/** The secrets of a run; the pull secret as the cluster stores it in `ns`, read after the run. */
function pullSecretOf(ns: string): Secret {
  const data = JSON.parse(kubectl(['-n', ns, 'get', 'secret', PULL_SECRET, '-o', 'json'])) as { data: Record<string, string> };
  const b64 = data.data['.dockerconfigjson'] as string;
  const json = Buffer.from(b64, 'base64').toString();
  const auth = (JSON.parse(json) as { auths: Record<string, { auth?: string; password?: string }> }).auths[REGISTRY];
  expect(auth?.password, 'the pull secret holds the registry password').toBe(PASSWORD);
  return { name: 'pull secret', value: json, random: auth?.auth, forms: [b64, ...(auth?.auth ? [auth.auth] : [])] };
}

function baseSecrets(token: string, buildSecret: boolean): Secret[] {
  return [
    { name: 'registry password', value: PASSWORD },
    // A JWT: only its signature is random.
    { name: 'kubeconfig token', value: token, random: token.split('.')[2] },
    ...(buildSecret ? [{ name: 'build secret', value: BUILD_SECRET }] : []),
  ];
}

/** GET from registry B with its CA and the password. */
function registryGet(path: string, accept?: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      `https://${REGISTRY}${path}`,
      {
        ca: CA,
        headers: { authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`, ...(accept ? { accept } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`GET ${path}: ${res.statusCode}`))));
      },
    );
    req.on('error', reject);
  });
}

const ACCEPT =
  'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json';

/** Every manifest, config and layer (gunzipped) of `repo:tag`, scanned. */
async function scanImage(scan: Scan, repo: string, tag: string): Promise<number> {
  let blobs = 0;
  const seen = new Set<string>();
  const manifest = async (ref: string) => {
    const body = await registryGet(`/v2/${repo}/manifests/${ref}`, ACCEPT);
    scan.text(`image ${repo}@${ref} manifest`, body.toString('latin1'));
    const doc = JSON.parse(body.toString()) as { manifests?: { digest: string }[]; config?: { digest: string }; layers?: { digest: string }[] };
    for (const m of doc.manifests ?? []) await manifest(m.digest);
    for (const b of [...(doc.config ? [doc.config] : []), ...(doc.layers ?? [])]) {
      if (seen.has(b.digest)) continue;
      seen.add(b.digest);
      let data = await registryGet(`/v2/${repo}/blobs/${b.digest}`);
      if (data[0] === 0x1f && data[1] === 0x8b) data = gunzipSync(data);
      scan.text(`image ${repo} blob ${b.digest}`, data.toString('latin1'));
      blobs++;
    }
  };
  await manifest(tag);
  return blobs;
}

/** The namespace's objects (not its Secrets: the pull secret holds the password by design). */
function scanCluster(scan: Scan, ns: string): void {
  const kinds = 'deployments,replicasets,pods,services,configmaps,events,leases.coordination.k8s.io,serviceaccounts';
  scan.text(`cluster objects of ${ns}`, kubectl(['-n', ns, 'get', kinds, '-o', 'json']));
  const secrets = JSON.parse(kubectl(['-n', ns, 'get', 'secrets', '-o', 'json'])) as { items: { metadata: { name: string } }[] };
  expect(secrets.items.map((s) => s.metadata.name).sort()).toEqual([PULL_SECRET]);
}

/** Files under TMPDIR changed since `since`, but not those of `skip` (scanned apart, or a CI system's store). */
function scanTmp(scan: Scan, since: number, skip: (name: string) => boolean): string[] {
  const excluded: string[] = [];
  for (const n of readdirSync(tmpdir())) {
    const p = join(tmpdir(), n);
    // A checkout under TMPDIR (a clean clone in CI) is the workspace, scanned as such: its .stack
    // holds the cluster's etcd, where the pull Secret lives by design.
    if (repoRoot === p || repoRoot.startsWith(`${p}/`)) continue;
    if (skip(n)) {
      if (n.startsWith('gitlab-ci-local-')) excluded.push(p);
      continue;
    }
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(p);
    } catch {
      continue;
    }
    if (st.isDirectory()) scan.tree(p, { since, skip: ['node_modules'], label: `TMPDIR/${n}` });
    else if (st.isFile() && st.mtimeMs >= since)
      scan.text(
        `TMPDIR/${n}`,
        readFileSync(p)
          .subarray(0, 64 << 20)
          .toString('latin1'),
      );
  }
  return excluded;
}

/** A container's temp and home dirs copied out (docker cp) under `into`, to be scanned there. */
async function copyContainerDirs(container: string, into: string): Promise<void> {
  for (const d of ['/tmp', '/home/runner', '/root']) {
    const to = join(into, container.slice(0, 12), d.replaceAll('/', '_'));
    mkdirSync(to, { recursive: true });
    await run('docker', ['cp', `${container}:${d}/.`, to], { env: stackEnv, allowFail: true });
  }
}

function report(runner: string, scan: Scan, watched: { seen: CredentialFile[]; left: string[] }, excluded: string[]): Report {
  const r: Report = {
    runner,
    secrets: scan.secrets.map((s) => s.name),
    clean: scan.clean(),
    texts: scan.texts,
    bytes: scan.bytes,
    leaks: new Set(scan.hits.map((h) => `${h.where} ${h.secret}`)).size,
    credentialFiles: watched.seen,
    left: watched.left,
    excluded,
  };
  reports.push(r);
  console.log(
    `${runner}: ${r.texts} texts (${(r.bytes / 1e6).toFixed(1)} MB) scanned for ${r.secrets.join(', ')}; ${scan.hits.length} hits; credential files seen: ${
      watched.seen.map((f) => `${f.path} ${f.mode.toString(8)}`).join(', ') || 'none'
    }; not scanned (the CI system's secret store): ${excluded.join(', ') || 'none'}`,
  );
  return r;
}

function expectClean(scan: Scan, watched: { seen: CredentialFile[]; left: string[] }): void {
  // One line per place and secret, with what surrounds it (the secret itself replaced).
  const seen = new Set<string>();
  const lines = scan.hits.filter((h) => !seen.has(`${h.where} ${h.secret}`) && seen.add(`${h.where} ${h.secret}`));
  expect(lines.map((h) => `${h.secret} in ${h.where}: ${JSON.stringify(h.context)}`)).toEqual([]);
  expect(watched.seen.filter((f) => (f.mode & 0o077) !== 0).map((f) => `${f.path} ${f.mode.toString(8)}`)).toEqual([]);
  expect(watched.left).toEqual([]);
}

let kube: { config: string; token: string };
let runnerImage = '';

beforeAll(async () => {
  kube = tokenKubeconfig();
  runnerImage = process.env.SHIPLINE_E2E_RUNNER_IMAGE ?? (await ensureRunnerImage());
}, 1_800_000);

afterAll(() => {
  kubectl(['delete', 'clusterrolebinding', 'shipline-hard-secrets-deployer', '--ignore-not-found']);
});

describe('no secret leaks from a delivery through each runner', () => {
  it('act: deliver.yml with the registry password, a token kubeconfig, a build secret and a pull secret', async () => {
    const ns = 'hard-secrets-act';
    const dir = tempDir('hard-secrets-act');
    const image = `${REGISTRY}/hard-secrets/act`;
    const tag = `act-${id}`;
    copyService(join(dir, 'svc'), image, ['Dockerfile', 'package.json', 'src', 'k8s']);
    useBuildSecret(join(dir, 'svc', 'Dockerfile'));
    mkdirSync(join(dir, 'workflows'));
    // act's host mode keeps each job's RUNNER_TEMP under $XDG_CACHE_HOME/act: here, to watch it.
    const xdg = join(dir, 'xdg');
    mkdirSync(xdg);
    kubectl(['delete', 'namespace', ns, '--ignore-not-found', '--wait=true', '--timeout=120s']);
    const workflow = join(dir, 'workflows', 'deliver.yml');
    writeFileSync(
      workflow,
      callerWorkflow({
        image,
        context: join(dir, 'svc'),
        buildArgs: [`BASE_IMAGE=${need('SHIPLINE_NODE_IMAGE')}`, `APP_VERSION=${tag}`, `SECRET_RUN=${tag}`],
        tags: [`type=raw,value=${tag}`],
        manifests: join(dir, 'svc', 'k8s'),
        namespace: ns,
        vars: [`APP_VERSION=${tag}`],
        smokeTargets: [`${ns}/order-service:8080/healthz`],
        rollback: false,
        timeout: '3m',
        builder: 'shipline-hard-secrets',
        environment: '',
        githubToken: false,
        with: { 'registry-username': USER, 'image-pull-secret': PULL_SECRET },
        secrets: { 'registry-password': 'REGISTRY_PASSWORD', 'build-secrets': 'BUILD_SECRETS' },
      }),
    );
    const scan = new Scan(baseSecrets(kube.token, true));
    const since = Date.now() - 1000;
    const watch = watchCredentialFiles([xdg], scan, [tmpdir()]);
    const r = await runAct({
      act: join(repoRoot, '.stack', 'bin', 'act'),
      workdir: repoRoot,
      workflow,
      dir,
      secrets: { KUBECONFIG: kube.config, REGISTRY_PASSWORD: PASSWORD, BUILD_SECRETS: `npm_token=${BUILD_SECRET}` },
      // registry-push trusts registry B's CA the way a self-hosted runner would: NODE_EXTRA_CA_CERTS.
      env: runnerEnv({ XDG_CACHE_HOME: xdg, NODE_EXTRA_CA_CERTS: CA_FILE }),
      actEnv: { GITHUB_SERVER_URL: 'https://github.example', GITHUB_REPOSITORY: 'acme/order-service' },
      cacheServerPath: join(dir, 'actcache'),
      timeoutMs: 8 * 60_000,
    });
    const watched = watch.stop();
    console.log(`act: exit ${r.code} in ${(r.durationMs / 1000).toFixed(1)} s`);
    expect(r.code, r.text.slice(-5000)).toBe(0);
    expect(r.text).toMatch(/downstream status=success/);
    await run('docker', ['buildx', 'rm', '--force', 'shipline-hard-secrets'], { env: stackEnv, allowFail: true });

    scan.secrets.push(pullSecretOf(ns));
    const rescan = new Scan(scan.secrets);
    // Everything act printed: log lines, step summaries, outputs (set-output), as its JSON log has them.
    // An add-mask entry is a secret being registered with the runner, which hides it from then on
    // (GitHub's log never shows one; act's JSON log keeps the command line and its argument): all of
    // it but those is scanned, and the line must be the command alone.
    let masks = 0;
    for (const [i, e] of r.entries.entries()) {
      const entry = e as ActEntry & { arg?: string; raw?: string };
      if (entry.command === 'add-mask') {
        masks++;
        expect(entry.raw ?? '').toMatch(/^::add-mask::[^\n]*\n?$/);
      }
      rescan.text(`act log entry ${i}`, JSON.stringify(entry.command === 'add-mask' ? { ...entry, arg: undefined, raw: undefined } : entry));
    }
    console.log(`act: ${masks} secrets registered with add-mask`);
    rescan.text('act stdout and stderr', r.text);
    const actSecrets = join(dir, 'act.secrets');
    rescan.tree(dir, { label: 'act dir', exclude: (p) => p === actSecrets });
    // The workspace is this checkout: every file a run wrote in it.
    rescan.tree(repoRoot, { since, skip: ['node_modules', '.git', '.stack'], label: 'workspace' });
    const excluded = [actSecrets];
    scanTmp(rescan, since, (n) => dir.endsWith(n));
    await scanImage(rescan, 'hard-secrets/act', tag);
    scanCluster(rescan, ns);
    report('act', rescan, watched, excluded);
    expectClean(rescan, { seen: watched.seen.filter((f) => !excluded.includes(f.path)), left: watched.left.filter((p) => !excluded.includes(p)) });
    rmSync(dir, { recursive: true, force: true });
  }, 900_000);

  it('gitlab-ci-local: the deliver component with SHIPLINE_PASSWORD, a token kubeconfig, SHIPLINE_SECRETS and a pull secret', async () => {
    const ns = 'hard-secrets-gitlab';
    const dir = tempDir('hard-secrets-gitlab');
    const repo = `${REGISTRY}/hard-secrets/gitlab`;
    const tag = `gitlab-${id}`;
    const project = createProject(dir, repo);
    useBuildSecret(join(dir, 'Dockerfile'));
    kubectl(['delete', 'namespace', ns, '--ignore-not-found', '--wait=true', '--timeout=120s']);
    project.pipeline(
      deliverPipeline({
        'runner-image': runnerImage,
        repository: repo,
        'build-args': `BASE_IMAGE=$SHIPLINE_NODE_IMAGE\nAPP_VERSION=${tag}\nSECRET_RUN=${tag}`,
        tags: `type=raw,value=${tag}`,
        cache: 'none',
        manifests: 'k8s',
        namespace: ns,
        'create-namespace': true,
        vars: `APP_VERSION=${tag}`,
        'registry-username': USER,
        'image-pull-secret': PULL_SECRET,
        'smoke-services': `${ns}/order-service:8080/healthz`,
        'verify-timeout': '3m',
      }),
    );
    const scan = new Scan(baseSecrets(kube.token, true));
    const since = Date.now() - 1000;
    // Where the job containers' temp and home dirs are copied to be scanned (removed after).
    const copies = tempDir('hard-secrets-containers');
    const containersBefore = new Set((await run('docker', ['ps', '-aq', '--no-trunc'], { env: stackEnv })).stdout.split('\n').filter(Boolean));
    const watch = watchCredentialFiles([dir], scan, [tmpdir()]);
    const r = await runGitlabCiLocal(dir, {
      helperImage: ensureHelperImage(stackEnv),
      env: runnerEnv(),
      variables: { SHIPLINE_NODE_IMAGE: need('SHIPLINE_NODE_IMAGE') },
      volumes: process.env.SHIPLINE_E2E_RUNNER_IMAGE ? [`${repoRoot}:${repoRoot}:ro`] : [],
      kubeconfig: kube.config,
      // The job containers trust registry B's CA through a File variable, as a GitLab project would.
      fileVariables: { NODE_EXTRA_CA_CERTS: CA },
      secretVariables: { SHIPLINE_PASSWORD: PASSWORD, SHIPLINE_SECRETS: `npm_token=${BUILD_SECRET}` },
      keepContainers: true,
    });
    const watched = watch.stop();
    console.log(`gitlab-ci-local: exit ${r.code} in ${r.seconds.toFixed(1)} s`);
    const containers = (await run('docker', ['ps', '-aq', '--no-trunc'], { env: stackEnv })).stdout.split('\n').filter((c) => c && !containersBefore.has(c));
    try {
      expect(r.code, r.output.slice(-6000)).toBe(0);
      expect(r.dotenv('deliver-verify').ROLLOUT_VERIFY_STATUS).toBe('success');
      expect(r.dotenv('deliver-smoke').SMOKE_TEST_PASSED).toBe('true');

      scan.secrets.push(pullSecretOf(ns));
      const rescan = new Scan(scan.secrets);
      rescan.text('gitlab-ci-local output', r.output);
      // The project: job logs, dotenv reports, artifacts, and every file the jobs wrote.
      // gitlab-ci-local's variables and File variables (in TMPDIR, and where its job containers
      // mount them) are GitLab's store.
      const store = (p: string) => p === join(dir, '.gcl-variables.yml') || p.includes('/gitlab-ci-local-file-variables-');
      rescan.tree(dir, { skip: ['.git'], exclude: store, label: 'project' });
      for (const c of containers) await copyContainerDirs(c, copies);
      rescan.tree(copies, { exclude: store, label: 'job containers' });
      const excluded = [
        join(dir, '.gcl-variables.yml'),
        ...scanTmp(rescan, since, (n) => n.startsWith('gitlab-ci-local-file-variables-') || dir.endsWith(n) || copies.endsWith(n)),
      ];
      await scanImage(rescan, 'hard-secrets/gitlab', tag);
      scanCluster(rescan, ns);
      const isStore = (p: string) => excluded.some((e) => p === e || p.startsWith(`${e}/`));
      report('gitlab-ci-local', rescan, watched, excluded);
      const storeLeft = watched.left.filter(isStore);
      if (storeLeft.length)
        console.log(
          `gitlab-ci-local left ${storeLeft.length} File variables of its own in TMPDIR (modes ${[...new Set(watched.seen.filter((f) => isStore(f.path)).map((f) => f.mode.toString(8)))].join(', ')}); removed by this test`,
        );
      expectClean(rescan, { seen: watched.seen.filter((f) => !isStore(f.path)), left: watched.left.filter((p) => !isStore(p)) });
      console.log(`gitlab-ci-local: ${containers.length} job containers inspected`);
    } finally {
      if (containers.length) await run('docker', ['rm', '--force', ...containers], { env: stackEnv, allowFail: true });
      rmSync(dir, { recursive: true, force: true });
      rmSync(copies, { recursive: true, force: true });
      // They hold the token: gone with the run.
      for (const n of readdirSync(tmpdir())) if (n.startsWith('gitlab-ci-local-file-variables-')) rmSync(join(tmpdir(), n), { recursive: true, force: true });
    }
  }, 1_200_000);

  it('Jenkins: the Jenkinsfile with the registry credential, a token kubeconfig file credential and a pull secret', async () => {
    const ns = 'hard-secrets-jenkins';
    const root = tempDir('hard-secrets-jenkins');
    const workspace = join(root, 'workspace', 'order-service');
    const image = `${REGISTRY}/hard-secrets/jenkins`;
    const buildNumber = Math.floor(Date.now() / 1000) % 1_000_000;
    mkdirSync(join(workspace, 'examples', 'order-service'), { recursive: true });
    const jenkinsfile = join(repoRoot, 'examples', 'order-service', 'Jenkinsfile');
    cpSync(jenkinsfile, join(workspace, 'Jenkinsfile'));
    copyService(join(workspace, 'examples', 'order-service'), image, ['Dockerfile', 'package.json', 'src', 'k8s']);
    // The agent image trusts the company CA, as Jenkins agents usually do: a derived image.
    const ctx = join(root, 'agent-image');
    mkdirSync(ctx);
    writeFileSync(join(ctx, 'ca.crt'), CA);
    writeFileSync(
      join(ctx, 'Dockerfile'),
      `FROM ${runnerImage}\nCOPY ca.crt /etc/shipline/registry-ca.crt\nENV NODE_EXTRA_CA_CERTS=/etc/shipline/registry-ca.crt\n`,
    );
    const agentImage = `shipline-runner-ca:${id}`;
    await run('docker', ['build', '-q', '-t', agentImage, ctx], { env: stackEnv, timeoutMs: 300_000 });
    kubectl(['delete', 'namespace', ns, '--ignore-not-found', '--wait=true', '--timeout=120s']);

    const scan = new Scan(baseSecrets(kube.token, false));
    const since = Date.now() - 1000;
    const containerDirs = join(root, 'containers');
    const watch = watchCredentialFiles([root], scan, [tmpdir()]);
    let inspected = false;
    const b = await runPipeline(parseJenkinsfile(readFileSync(jenkinsfile, 'utf8')), {
      image: agentImage,
      workspace,
      jobName: 'order-service',
      buildNumber,
      params: {
        IMAGE: image,
        NAMESPACE: ns,
        BASE_IMAGE: need('SHIPLINE_NODE_IMAGE'),
        AGENT_NETWORK: 'host',
        DOCKER_SOCKET: (stackEnv.DOCKER_HOST as string).replace(/^unix:\/\//, ''),
        PULL_SECRET,
      },
      credentials: {
        'shipline-registry': { username: USER, password: PASSWORD },
        'shipline-kubeconfig': { file: { name: 'kubeconfig', content: kube.config } },
      },
      dockerEnv: runnerEnv(),
      inspect: async (container) => {
        await copyContainerDirs(container, containerDirs);
        inspected = true;
      },
    });
    const watched = watch.stop();
    try {
      const log = [...b.stages, ...b.post].map((s) => `==== ${s.stage} (exit ${s.code})\n${s.output}`).join('\n');
      console.log(`Jenkins: ${b.result} in ${b.stages.reduce((t, s) => t + s.seconds, 0).toFixed(1)} s`);
      expect(b.result, log.slice(-6000)).toBe('SUCCESS');
      expect(inspected).toBe(true);
      expect(readFileSync(join(workspace, '.shipline', 'verify.out'), 'utf8')).toMatch(/^status=success$/m);

      scan.secrets.push(pullSecretOf(ns));
      const rescan = new Scan(scan.secrets);
      rescan.text('Jenkins console (every stage and post step)', log);
      rescan.tree(workspace, { label: 'workspace' });
      rescan.tree(`${workspace}@tmp`, { label: 'workspace@tmp' });
      rescan.tree(containerDirs, { label: 'agent container' });
      scanTmp(rescan, since, (n) => root.endsWith(n));
      const excluded: string[] = [];
      await scanImage(rescan, 'hard-secrets/jenkins', `build-${buildNumber}`);
      scanCluster(rescan, ns);
      // Jenkins' secretFiles (0400, removed after each step) are Jenkins' store; they are checked like ours.
      report('Jenkins', rescan, watched, excluded);
      expectClean(rescan, watched);
    } finally {
      await run('docker', ['rmi', '--force', agentImage], { env: stackEnv, allowFail: true });
      rmSync(root, { recursive: true, force: true });
    }
  }, 1_200_000);

  it('prints the figure', () => {
    expect(reports.map((r) => r.runner)).toEqual(['act', 'gitlab-ci-local', 'Jenkins']);
    const tried = reports.reduce((n, r) => n + r.secrets.length, 0);
    const correct = reports.reduce((n, r) => n + r.clean.length, 0);
    const files = reports.flatMap((r) => r.credentialFiles.filter((f) => !r.excluded.some((e) => f.path === e || f.path.startsWith(`${e}/`))));
    const filesOk = files.filter((f) => (f.mode & 0o077) === 0 && !existsSync(f.path)).length;
    const texts = reports.reduce((n, r) => n + r.texts, 0);
    const leaks = reports.reduce((n, r) => n + r.leaks, 0);
    const mb = reports.reduce((n, r) => n + r.bytes, 0) / 1e6;
    console.log(
      `FIGURE secrets: ${tried} tried, ${correct} correct — (runner, secret) pairs: ${reports.map((r) => `${r.runner} ${r.secrets.length}`).join(', ')}; ${texts} texts and files (${mb.toFixed(0)} MB) scanned raw, base64 and in pieces: ${leaks} leaks`,
    );
    console.log(`FIGURE credential files: ${files.length} tried, ${filesOk} correct — seen while the runs went, each 0600 or stricter and gone at the end`);
    expect(correct).toBe(tried);
    expect(filesOk).toBe(files.length);
  });
});
