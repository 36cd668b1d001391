import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { httpGet } from './lib/http.ts';
import { run } from './lib/proc.ts';
import { need, sh, tempDir, uniq } from './test-helpers.ts';

const id = uniq();
const ns = `stack-test-${id}`;
const kubectl = (args: string[], input?: string) => sh('kubectl', args, input === undefined ? {} : { input });

async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

interface PodList {
  items: { metadata: { name: string }; status: { phase: string; conditions?: { type: string; status: string }[] } }[];
}

describe('Kubernetes with a real kubelet', () => {
  afterAll(async () => {
    await run('kubectl', ['delete', 'namespace', ns, '--wait=false', '--ignore-not-found'], { allowFail: true });
  });

  it('has exactly one Ready node', async () => {
    const nodes = JSON.parse(await kubectl(['get', 'nodes', '-o', 'json'])) as {
      items: {
        metadata: { name: string };
        status: { conditions: { type: string; status: string }[]; nodeInfo: { kubeletVersion: string; containerRuntimeVersion: string } };
      }[];
    };
    expect(nodes.items).toHaveLength(1);
    const node = nodes.items[0]!;
    expect(node.status.conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(node.status.nodeInfo.kubeletVersion).toMatch(/^v1\.\d+\.\d+/);
    expect(node.status.nodeInfo.containerRuntimeVersion).toMatch(/^containerd:\/\/2\./);
  });

  let clusterIP = '';

  it('runs a Deployment of an image built here and pushed to registry A, Running and Ready', async () => {
    const ctx = tempDir('hello');
    writeFileSync(
      join(ctx, 'server.js'),
      `
const http = require('node:http');
const os = require('node:os');
http.createServer((req, res) => {
  if (req.url === '/healthz') { res.end('ok'); return; }
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ marker: ${JSON.stringify(id)}, pod: os.hostname(), node: process.version }));
}).listen(8080);
`,
    );
    writeFileSync(join(ctx, 'Dockerfile'), 'ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY server.js /app/server.js\nCMD ["node", "/app/server.js"]\n');
    const tag = `${need('SHIPLINE_REGISTRY')}/stack-test/hello:${id}`;
    await sh('docker', ['build', '--build-arg', `BASE_IMAGE=${need('SHIPLINE_NODE_IMAGE')}`, '-t', tag, ctx]);
    await sh('docker', ['push', tag]);
    const ref = (await sh('docker', ['image', 'inspect', '-f', '{{index .RepoDigests 0}}', tag])).trim();
    expect(ref).toMatch(/@sha256:[0-9a-f]{64}$/);

    await kubectl(['create', 'namespace', ns]);
    await kubectl(
      ['apply', '-n', ns, '-f', '-'],
      `
apiVersion: apps/v1
kind: Deployment
metadata: {name: hello}
spec:
  replicas: 2
  selector: {matchLabels: {app: hello}}
  template:
    metadata: {labels: {app: hello}}
    spec:
      containers:
      - name: hello
        image: ${ref}
        ports: [{containerPort: 8080}]
        readinessProbe:
          httpGet: {path: /healthz, port: 8080}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: {name: hello}
spec:
  selector: {app: hello}
  ports: [{port: 80, targetPort: 8080}]
`,
    );
    await sh('kubectl', ['rollout', 'status', '-n', ns, 'deployment/hello', '--timeout=180s'], { timeoutMs: 200_000 });
    const pods = JSON.parse(await kubectl(['get', 'pods', '-n', ns, '-l', 'app=hello', '-o', 'json'])) as PodList;
    expect(pods.items).toHaveLength(2);
    for (const p of pods.items) {
      expect(p.status.phase).toBe('Running');
      expect(p.status.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    }
    clusterIP = (await kubectl(['get', 'service', '-n', ns, 'hello', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    expect(clusterIP).toMatch(/^10\.96\.\d+\.\d+$/);
  });

  it('its Service answers from the host through the ClusterIP', async () => {
    expect(clusterIP).not.toBe('');
    const body = await eventually(
      'the ClusterIP to answer',
      async () => {
        const r = await httpGet(`http://${clusterIP}/`, { timeoutMs: 3000 });
        return r.status === 200 ? r.body : undefined;
      },
      60_000,
    );
    expect(JSON.parse(body)).toMatchObject({ marker: id });
  });

  it('its Service answers through the API server service proxy', async () => {
    const body = await eventually(
      'the service proxy to answer',
      async () => {
        return await kubectl(['get', '--raw', `/api/v1/namespaces/${ns}/services/hello:80/proxy/`]);
      },
      60_000,
    );
    expect(JSON.parse(body)).toMatchObject({ marker: id });
  });

  it('runs node -e in a pod of the Node base image', async () => {
    await kubectl(
      ['apply', '-n', ns, '-f', '-'],
      `
apiVersion: v1
kind: Pod
metadata: {name: node-e}
spec:
  restartPolicy: Never
  containers:
  - name: node
    image: ${need('SHIPLINE_NODE_IMAGE')}
    command: [node, -e, 'console.log("node-e says " + (6 * 7) + " on " + process.version)']
`,
    );
    await eventually('pod node-e to succeed', async () => {
      const phase = (await kubectl(['get', 'pod', '-n', ns, 'node-e', '-o', 'jsonpath={.status.phase}'])).trim();
      if (phase === 'Failed') throw new Error('pod node-e failed');
      return phase === 'Succeeded' ? phase : undefined;
    });
    expect(await kubectl(['logs', '-n', ns, 'node-e'])).toMatch(/node-e says 42 on v24\./);
  });
});
