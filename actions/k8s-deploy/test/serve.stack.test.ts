// The whole hand-off on the stack: k8s-deploy applies an app pinned by digest, the kubelet runs it,
// and smoke-test reaches it through the API server's proxy (service and pod) with the kubeconfig.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run as exec, need, sh, tempDir, uniq } from '../../../test/stack/index.ts';
import { runGitHubAction } from '../../../test/support/run-action.ts';

const id = uniq();
const ns = `k8sd-serve-${id}`;

afterAll(async () => {
  await exec('kubectl', ['delete', 'namespace', ns, '--wait=false', '--ignore-not-found'], { allowFail: true });
});

describe('deploy, then smoke-test through the API server proxy', () => {
  it('serves what was deployed', async () => {
    const image = need('SHIPLINE_NODE_IMAGE');
    const repo = image.slice(0, image.lastIndexOf(':'));
    const [registry, ...rest] = image.split('/');
    const head = await fetch(`http://${registry}/v2/${rest.join('/').replace(/:[^:]+$/, '')}/manifests/24`, {
      method: 'HEAD',
      headers: {
        accept: 'application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json',
      },
    });
    const digest = head.headers.get('docker-content-digest') ?? '';
    expect(digest).toMatch(/^sha256:/);
    const dir = tempDir('k8s-serve');
    const server = `require("http").createServer((q, s) => { s.setHeader("content-type", "application/json"); s.end(JSON.stringify({ status: "ok", marker: "${id}", path: q.url })) }).listen(8080)`;
    writeFileSync(
      join(dir, 'app.yaml'),
      `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: ${repo}:placeholder
        command: [node, -e, '${server}']
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`,
    );
    const deploy = await runGitHubAction(
      'k8s-deploy',
      { manifests: dir, namespace: ns, 'create-namespace': 'true', images: `${repo}@${digest}` },
      { env: { KUBECONFIG: need('KUBECONFIG'), RUNNER_TEMP: dir }, timeoutMs: 120_000 },
    );
    expect(deploy.code, deploy.stdout).toBe(0);
    await sh('kubectl', ['rollout', 'status', '-n', ns, 'deployment/web', '--timeout=180s'], { timeoutMs: 200_000 });

    const smoke = await runGitHubAction(
      'smoke-test',
      { service: `${ns}/web:80/healthz?via=proxy`, 'expect-json': `$.marker = "${id}"\n$.path = "/healthz?via=proxy"`, deadline: '60s', interval: '500ms' },
      { env: { KUBECONFIG: need('KUBECONFIG') } },
    );
    expect(smoke.code, smoke.stdout).toBe(0);
    expect(JSON.parse(smoke.outputs.results ?? '[]')[0]).toMatchObject({ target: `service ${ns}/web:80/healthz?via=proxy`, passed: true, status: 200 });

    const pod = (await sh('kubectl', ['get', 'pods', '-n', ns, '-l', 'app=web', '-o', 'jsonpath={.items[0].metadata.name}'])).trim();
    const viaPod = await runGitHubAction('smoke-test', {
      pod: `${ns}/${pod}:8080/`,
      'expect-json': `$.marker = "${id}"`,
      'kubeconfig-path': need('KUBECONFIG'),
    });
    expect(viaPod.code, viaPod.stdout).toBe(0);
  });
});
