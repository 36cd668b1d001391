// k8s-deploy's bundle against the stack's real API server, kubelet and registry; smoke-test's
// service mode checks what was deployed through the API server's proxy.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as exec, need, sh, tempDir, uniq } from '../../../test/stack/index.ts';
import { type Run, runGitHubAction, stackLines } from '../../../test/support/run-action.ts';
import { closedPort } from '../../../test/support/servers.ts';

interface Res {
  kind: string;
  namespace: string | null;
  name: string;
  uid: string | null;
  generation: number | null;
  action: string;
  revision?: { before: string | null; after: string | null };
}

const id = uniq();
const namespaces: string[] = [];
const nsName = (n: string) => {
  const ns = `k8sd-${id}-${n}`;
  namespaces.push(ns);
  return ns;
};
const kubectl = (args: string[], input?: string) => sh('kubectl', args, input === undefined ? {} : { input });
const getJson = async <T>(args: string[]): Promise<T> => JSON.parse(await kubectl(['get', ...args, '-o', 'json'])) as T;
const exists = async (args: string[]) => (await exec('kubectl', ['get', ...args], { allowFail: true })).code === 0;

let work: string;
let runnerTemp: string;
let nodeRepo: string;
let digest: string;

const deploy = (inputs: Record<string, string>, env: NodeJS.ProcessEnv = {}) =>
  runGitHubAction('k8s-deploy', inputs, {
    env: { KUBECONFIG: need('KUBECONFIG'), RUNNER_TEMP: runnerTemp, GITHUB_REPOSITORY: 'acme/shop', GITHUB_SHA: 'f'.repeat(40), GITHUB_RUN_ID: '42', ...env },
    timeoutMs: 240_000,
  });
const resources = (r: Run) => JSON.parse(r.outputs.resources ?? '[]') as Res[];
const errorLine = (r: Run) => r.stdout.split('\n').filter((l) => l.startsWith('::error::'));
const file = (name: string, text: string) => {
  const p = join(work, name);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
  return p;
};

// A tiny HTTP server run by the stack's Node base image: no image build needed.
const server = (marker: string) =>
  `require("http").createServer((q, s) => { s.setHeader("content-type", "application/json"); s.end(JSON.stringify({ status: "ok", marker: ${JSON.stringify(marker)}, path: q.url })) }).listen(8080)`;

beforeAll(async () => {
  work = tempDir('k8s-deploy');
  runnerTemp = tempDir('k8s-deploy-runner');
  const image = need('SHIPLINE_NODE_IMAGE');
  nodeRepo = image.slice(0, image.lastIndexOf(':'));
  const [registry, ...path] = image.split('/');
  const repo = path.join('/').split(':')[0];
  const res = await fetch(`http://${registry}/v2/${repo}/manifests/24`, {
    method: 'HEAD',
    headers: {
      accept:
        'application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json',
    },
  });
  digest = res.headers.get('docker-content-digest') ?? '';
  expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
});

afterAll(async () => {
  for (const ns of namespaces) await exec('kubectl', ['delete', 'namespace', ns, '--wait=false', '--ignore-not-found'], { allowFail: true });
  await exec('kubectl', ['delete', 'crd', `widgets${id}.example.com`, '--ignore-not-found', '--wait=false'], { allowFail: true });
});

describe('k8s-deploy on the stack', () => {
  const app = nsName('app');

  it('applies a multi-object app in order, pins images by exact repository, annotates provenance', async () => {
    const manifests = file(
      'app/app.yaml',
      `apiVersion: v1
kind: Namespace
metadata: {name: ${app}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config}
data: {greeting: "\${GREETING}", untouched: "\${NOT_DECLARED}"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      initContainers:
      - name: init
        image: ${nodeRepo}:placeholder
        command: [node, -e, "console.log('init')"]
      containers:
      - name: web
        image: ${nodeRepo}:placeholder
        command: [node, -e, '${server(id)}']
        ports: [{containerPort: 8080, name: http}]
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080, name: http}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: report}
spec:
  schedule: "0 0 1 1 *"
  suspend: true
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - {name: main, image: "${nodeRepo}:placeholder"}
          - {name: worker, image: "${nodeRepo}-worker:1"}
          - {name: other, image: "${nodeRepo.replace(/node$/, 'other')}:1"}
`,
    );
    const r = await deploy({ manifests, namespace: app, images: JSON.stringify([`${nodeRepo}:24@${digest}`]), vars: 'GREETING=hello world' });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const out = resources(r);
    expect(out.map((x) => `${x.kind}/${x.name}:${x.action}`)).toEqual([
      `Namespace/${app}:created`,
      'ConfigMap/web-config:created',
      'Service/web:created',
      'Deployment/web:created',
      'CronJob/report:created',
    ]);
    for (const x of out) expect(x.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(out.find((x) => x.kind === 'Deployment')?.revision).toEqual({ before: null, after: '1' });
    expect(r.outputs.namespace).toBe(app);
    expect(r.outputs.changed).toBe('true');
    expect(r.summary).toContain('| Kind | Namespace | Name | Result | Revision |');
    expect(r.summary).toContain(`| Deployment | ${app} | web | created | — → 1 |`);

    const dep = await getJson<{
      metadata: { annotations: Record<string, string>; managedFields: { manager: string }[] };
      spec: { template: { metadata: { annotations: Record<string, string> }; spec: { initContainers: { image: string }[]; containers: { image: string }[] } } };
    }>(['-n', app, 'deployment', 'web', '--show-managed-fields']);
    const pinned = `${nodeRepo}:24@${digest}`;
    expect(dep.spec.template.spec.initContainers[0]?.image).toBe(pinned);
    expect(dep.spec.template.spec.containers[0]?.image).toBe(pinned);
    expect(dep.metadata.managedFields.map((m) => m.manager)).toContain('shipline');
    expect(dep.metadata.annotations['kubernetes.io/change-cause']).toBe(`shipline deploy acme/shop@ffffffffffff https://github.com/acme/shop/actions/runs/42`);
    expect(dep.spec.template.metadata.annotations).toEqual({ 'shipline.dev/repository': 'acme/shop', 'shipline.dev/commit': 'f'.repeat(40) });
    const cron = await getJson<{ spec: { jobTemplate: { spec: { template: { spec: { containers: { image: string }[] } } } } } }>([
      '-n',
      app,
      'cronjob',
      'report',
    ]);
    expect(cron.spec.jobTemplate.spec.template.spec.containers.map((c) => c.image)).toEqual([
      pinned,
      `${nodeRepo}-worker:1`,
      `${nodeRepo.replace(/node$/, 'other')}:1`,
    ]);
    const cm = await getJson<{ data: Record<string, string> }>(['-n', app, 'configmap', 'web-config']);
    expect(cm.data).toEqual({ greeting: 'hello world', untouched: '${NOT_DECLARED}' });
    expect(readdirSync(runnerTemp)).toEqual([]);
  });

  it('a second identical run changes nothing and keeps the revision', async () => {
    const r = await deploy({ manifests: join(work, 'app'), namespace: app, images: `${nodeRepo}:24@${digest}`, vars: 'GREETING=hello world' });
    expect(r.code, r.stdout).toBe(0);
    expect(new Set(resources(r).map((x) => x.action))).toEqual(new Set(['unchanged']));
    expect(resources(r).find((x) => x.kind === 'Deployment')?.revision).toEqual({ before: '1', after: '1' });
    expect(r.outputs.changed).toBe('false');
  });

  it('a new image is a new revision', async () => {
    const r = await deploy({ manifests: join(work, 'app'), namespace: app, images: `${nodeRepo}:24`, vars: 'GREETING=hello world' });
    expect(r.code, r.stdout).toBe(0);
    expect(resources(r).find((x) => x.kind === 'Deployment')).toMatchObject({ action: 'configured', revision: { before: '1', after: '2' } });
  });

  it('smoke-test through the proxy explains a service without endpoints', async () => {
    await kubectl(
      ['apply', '-n', app, '-f', '-'],
      'apiVersion: v1\nkind: Service\nmetadata: {name: nobody}\nspec:\n  selector: {app: nobody}\n  ports: [{port: 80}]\n',
    );
    const r = await runGitHubAction('smoke-test', { service: `${app}/nobody:80/`, retries: '0' }, { env: { KUBECONFIG: need('KUBECONFIG') } });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.outputs.results ?? '[]')[0].reason).toMatch(/got 503; API server: no endpoints available for service "nobody"/);
  });
});

describe('all or nothing', () => {
  it('one invalid object in ten: every refusal listed, nothing applied', async () => {
    const ns = nsName('bad');
    await kubectl(['create', 'namespace', ns]);
    const docs = Array.from({ length: 9 }, (_, i) => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-${i}}\ndata: {k: v}\n`);
    docs.splice(5, 0, 'apiVersion: v1\nkind: Service\nmetadata: {name: broken}\nspec:\n  ports: [{port: 99999}]\n');
    const r = await deploy({ manifests: file('ten.yaml', docs.join('---\n')), namespace: ns });
    expect(r.code).toBe(1);
    const errors = errorLine(r);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/1 object\(s\) refused by the API server in dry-run \(nothing was applied\): Service .*\/broken \(.*ten\.yaml:\d+\): .*99999/);
    expect(stackLines(r.stdout + r.stderr)).toEqual([]);
    expect(await kubectl(['get', 'configmaps', '-n', ns, '-l', 'shipline.dev/set', '-o', 'name'])).toBe('');
    expect(await exists(['-n', ns, 'configmap', 'cm-0'])).toBe(false);
    expect(r.summary).toContain('| Object | Reason | Message |');
  });

  it('a missing namespace fails the dry-run unless create-namespace is set', async () => {
    const ns = nsName('newns');
    const manifests = file('cm-only.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: only}\n');
    const r = await deploy({ manifests, namespace: ns });
    expect(r.code).toBe(1);
    expect(errorLine(r)[0]).toMatch(new RegExp(`namespace ${ns} does not exist.*create-namespace`));
    expect(await exists(['namespace', ns])).toBe(false);
    const ok = await deploy({ manifests, namespace: ns, 'create-namespace': 'true' });
    expect(ok.code, ok.stdout).toBe(0);
    expect(resources(ok).map((x) => `${x.kind}:${x.action}`)).toEqual(['Namespace:created', 'ConfigMap:created']);
    expect(await exists(['-n', ns, 'configmap', 'only'])).toBe(true);
  });

  it('an unknown kind is refused before anything is applied', async () => {
    const ns = nsName('unknown');
    const r = await deploy({
      manifests: file(
        'unknown.yaml',
        `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${ns}}\n---\napiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g}\n`,
      ),
    });
    expect(r.code).toBe(1);
    expect(errorLine(r)[0]).toMatch(
      /nothing was applied\): Gadget g \(.*unknown\.yaml:5\): kind Gadget of apiVersion example.com\/v1 is not served by the cluster/,
    );
    expect(await exists(['namespace', ns])).toBe(false);
  });

  it('a CRD and its custom resources in one run: the CRD is established first', async () => {
    const ns = nsName('crd');
    const plural = `widgets${id}`;
    const r = await deploy({
      manifests: file(
        'crd.yaml',
        `apiVersion: example.com/v1
kind: Widget${id}
metadata: {name: w1}
spec: {size: 3}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: ${plural}.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: ${plural}, singular: widget${id}, kind: Widget${id}}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, properties: {spec: {type: object, properties: {size: {type: integer}}}}}}
`,
      ),
      namespace: ns,
      'create-namespace': 'true',
    });
    expect(r.code, r.stdout).toBe(0);
    expect(resources(r).map((x) => `${x.kind}:${x.action}`)).toEqual(['Namespace:created', 'CustomResourceDefinition:created', `Widget${id}:created`]);
    expect(await exists(['-n', ns, `${plural}.example.com`, 'w1'])).toBe(true);
  });
});

describe('image pull secret', () => {
  it('creates a dockerconfigjson Secret from registry credentials and wires it into the pods, masked', async () => {
    const ns = nsName('pull');
    const password = need('SHIPLINE_REGISTRY_PASSWORD');
    const registry = need('SHIPLINE_REGISTRY_TLS');
    const manifests = file(
      'pull.yaml',
      `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: pulled}\nspec:\n  replicas: 0\n  selector: {matchLabels: {app: pulled}}\n  template:\n    metadata: {labels: {app: pulled}}\n    spec:\n      containers: [{name: c, image: "${registry}/shop/app:1"}]\n`,
    );
    const r = await deploy({
      manifests,
      namespace: ns,
      'create-namespace': 'true',
      images: `${registry}/shop/app:2`,
      'image-pull-secret': 'regcred',
      'registry-username': need('SHIPLINE_REGISTRY_USER'),
      'registry-password': password,
    });
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout.replace(/::add-mask::.*\n/g, '')).not.toContain(password);
    expect(resources(r).map((x) => `${x.kind}/${x.name}`)).toEqual([`Namespace/${ns}`, 'Secret/regcred', 'Deployment/pulled']);
    const secret = await getJson<{ type: string; data: Record<string, string> }>(['-n', ns, 'secret', 'regcred']);
    expect(secret.type).toBe('kubernetes.io/dockerconfigjson');
    const auths = JSON.parse(Buffer.from(secret.data['.dockerconfigjson'] as string, 'base64').toString()).auths;
    expect(auths[registry]).toMatchObject({ username: need('SHIPLINE_REGISTRY_USER'), password });
    const dep = await getJson<{ spec: { template: { spec: { imagePullSecrets: { name: string }[]; containers: { image: string }[] } } } }>([
      '-n',
      ns,
      'deployment',
      'pulled',
    ]);
    expect(dep.spec.template.spec.imagePullSecrets).toEqual([{ name: 'regcred' }]);
    expect(dep.spec.template.spec.containers[0]?.image).toBe(`${registry}/shop/app:2`);
  });
});

describe('prune and dry-run', () => {
  const ns = nsName('prune');
  const cm = (name: string, value: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${name}}\ndata: {value: "${value}"}\n`;

  it('dry-run shows the diff and what would be pruned, changing nothing; then prune deletes it', async () => {
    const first = await deploy({
      manifests: file('p1.yaml', [cm('a', '1'), cm('b', '1')].join('---\n')),
      namespace: ns,
      'create-namespace': 'true',
      set: 'orders',
      prune: 'true',
    });
    expect(first.code, first.stdout).toBe(0);
    await kubectl(['create', 'configmap', 'not-ours', '-n', ns, '--from-literal=x=y']);
    const next = file('p2.yaml', [cm('a', '2'), cm('c', '1')].join('---\n'));

    const dry = await deploy({ manifests: next, namespace: ns, set: 'orders', prune: 'true', 'dry-run': 'true' });
    expect(dry.code, dry.stdout).toBe(0);
    expect(resources(dry).map((x) => `${x.name}:${x.action}`)).toEqual(['a:configured', 'c:created']);
    expect(JSON.parse(dry.outputs.pruned ?? '[]').map((x: Res) => x.name)).toEqual(['b']);
    expect(dry.stdout).toMatch(/- {3}value: "1"\n\+ {3}value: "2"/);
    expect(dry.summary).toContain(`| ConfigMap | ${ns} | a | would be configured |`);
    expect(dry.summary).toContain(`| ConfigMap | ${ns} | b | would be pruned |`);
    expect(await exists(['-n', ns, 'configmap', 'b'])).toBe(true);
    expect(await exists(['-n', ns, 'configmap', 'c'])).toBe(false);
    expect((await kubectl(['get', '-n', ns, 'configmap', 'a', '-o', 'jsonpath={.data.value}'])).trim()).toBe('1');

    const real = await deploy({ manifests: next, namespace: ns, set: 'orders', prune: 'true' });
    expect(real.code, real.stdout).toBe(0);
    expect(JSON.parse(real.outputs.pruned ?? '[]').map((x: Res) => `${x.name}:${x.action}`)).toEqual(['b:pruned']);
    expect(await exists(['-n', ns, 'configmap', 'b'])).toBe(false);
    expect(await exists(['-n', ns, 'configmap', 'c'])).toBe(true);
    expect(await exists(['-n', ns, 'configmap', 'not-ours'])).toBe(true);
    expect((await kubectl(['get', '-n', ns, 'configmap', 'a', '-o', 'jsonpath={.metadata.labels.shipline\\.dev/set}'])).trim()).toBe('orders');
  });
});

describe('field conflicts', () => {
  it('fails naming the conflict, and takes the field over with force-conflicts', async () => {
    const ns = nsName('conflict');
    await kubectl(['create', 'namespace', ns]);
    await kubectl(
      ['apply', '--server-side', '--field-manager', 'someone-else', '-n', ns, '-f', '-'],
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\ndata: {owner: them}\n',
    );
    const manifests = file('conflict.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\ndata: {owner: us}\n');
    const r = await deploy({ manifests, namespace: ns });
    expect(r.code).toBe(1);
    expect(errorLine(r)[0]).toMatch(/ConfigMap .*\/shared .*conflict.*someone-else.*data\.owner.*force-conflicts: true/i);
    expect((await kubectl(['get', '-n', ns, 'configmap', 'shared', '-o', 'jsonpath={.data.owner}'])).trim()).toBe('them');
    const forced = await deploy({ manifests, namespace: ns, 'force-conflicts': 'true' });
    expect(forced.code, forced.stdout).toBe(0);
    expect((await kubectl(['get', '-n', ns, 'configmap', 'shared', '-o', 'jsonpath={.data.owner}'])).trim()).toBe('us');
  });
});

describe('unchanged objects', () => {
  it('skips a no-op apply but still applies when only field ownership would change', async () => {
    const ns = nsName('owner');
    await kubectl(['create', 'namespace', ns]);
    await kubectl(
      ['apply', '--server-side', '--field-manager', 'someone-else', '-n', ns, '-f', '-'],
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: co}\ndata: {x: "1"}\n',
    );
    const r = await deploy({ manifests: file('co.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: co}\ndata: {x: "1"}\n'), namespace: ns });
    expect(r.code, r.stdout).toBe(0);
    expect(resources(r)[0]?.action).toBe('unchanged');
    const managers = async () =>
      (await getJson<{ metadata: { managedFields: { manager: string; fieldsV1: unknown }[] } }>(['-n', ns, 'configmap', 'co', '--show-managed-fields']))
        .metadata.managedFields;
    const owned = await managers();
    expect(owned.map((m) => m.manager).sort()).toEqual(['shipline', 'someone-else']);
    const rv = (await kubectl(['get', '-n', ns, 'configmap', 'co', '-o', 'jsonpath={.metadata.resourceVersion}'])).trim();
    const again = await deploy({ manifests: join(work, 'co.yaml'), namespace: ns });
    expect(again.code).toBe(0);
    expect((await kubectl(['get', '-n', ns, 'configmap', 'co', '-o', 'jsonpath={.metadata.resourceVersion}'])).trim()).toBe(rv);
  });
});

describe('cluster access', () => {
  it('a service account limited to one namespace gets a forbidden error naming the object', async () => {
    const own = nsName('sa-own');
    const other = nsName('sa-other');
    await kubectl(['create', 'namespace', own]);
    await kubectl(['create', 'namespace', other]);
    await kubectl(
      ['apply', '-n', own, '-f', '-'],
      `apiVersion: v1
kind: ServiceAccount
metadata: {name: deployer}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: deployer}
rules: [{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: deployer}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: deployer}
subjects: [{kind: ServiceAccount, name: deployer, namespace: ${own}}]
`,
    );
    const token = (await kubectl(['create', 'token', 'deployer', '-n', own, '--duration=10m'])).trim();
    type Config = { clusters: { cluster: { server: string; 'certificate-authority-data'?: string; 'certificate-authority'?: string } }[] };
    const admin = JSON.parse(await kubectl(['config', 'view', '--raw', '--minify', '-o', 'json'])) as Config;
    const cluster = admin.clusters[0]?.cluster;
    const ca = cluster?.['certificate-authority-data'] ?? Buffer.from(readFileSync(cluster?.['certificate-authority'] as string)).toString('base64');
    const kubeconfig = `apiVersion: v1
kind: Config
clusters: [{name: stack, cluster: {server: "${cluster?.server}", certificate-authority-data: ${ca}}}]
users: [{name: deployer, user: {token: ${token}}}]
contexts: [{name: limited, context: {cluster: stack, user: deployer, namespace: ${own}}}]
current-context: limited
`;
    const manifests = file('sa.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-sa}\n');
    const ok = await deploy({ manifests, kubeconfig }, { KUBECONFIG: '' });
    expect(ok.code, ok.stdout).toBe(0);
    expect(ok.outputs.namespace).toBe(own);
    expect(ok.stdout).toContain(`::add-mask::${token}`);
    expect(ok.stdout.replace(/::add-mask::.*\n/g, '')).not.toContain(token);

    const r = await deploy({ manifests, kubeconfig, namespace: other }, { KUBECONFIG: '' });
    expect(r.code).toBe(1);
    const [line] = errorLine(r);
    expect(line).toMatch(new RegExp(`ConfigMap ${other}/from-sa \\(.*sa\\.yaml:1\\): .*forbidden.*system:serviceaccount:${own}:deployer`));
    expect(line).toMatch(/RBAC permission/);
    expect(await exists(['-n', other, 'configmap', 'from-sa'])).toBe(false);
    expect(readdirSync(runnerTemp)).toEqual([]);
  });

  it('an unreachable API server is one clear error', async () => {
    const port = await closedPort();
    const kc = file(
      'unreachable.kubeconfig',
      `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:${port}"}}]\nusers: [{name: u, user: {token: abc123456789}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n`,
    );
    const r = await deploy({ manifests: join(work, 'cm-only.yaml'), 'kubeconfig-path': kc });
    expect(r.code).toBe(1);
    expect(errorLine(r)).toEqual([
      `::error::cannot reach the Kubernetes API server at https://127.0.0.1:${port}: connection refused (ECONNREFUSED) — check the kubeconfig (cluster server address, context) and that the API server is up`,
    ]);
    expect(stackLines(r.stdout + r.stderr)).toEqual([]);
  });

  it('renders a kustomization with the kubectl on PATH', async () => {
    const ns = nsName('kust');
    file('kust/base.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: base}\ndata: {a: "1"}\n');
    file('kust/kustomization.yaml', `namespace: ${ns}\nnamePrefix: k-\nresources: [base.yaml]\n`);
    const r = await deploy({ manifests: join(work, 'kust'), 'create-namespace': 'true' });
    expect(r.code, r.stdout).toBe(0);
    expect(await exists(['-n', ns, 'configmap', 'k-base'])).toBe(true);
  });
});
