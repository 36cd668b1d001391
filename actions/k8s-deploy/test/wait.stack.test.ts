// k8s-deploy `wait: true` on the stack: the status engine's verdict after apply decides the step.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as exec, need, tempDir, uniq } from '../../../test/stack/index.ts';
import { runGitHubAction } from '../../../test/support/run-action.ts';
import { CRASH, deployment, pinnedNodeImage, service, serving, yaml } from '../../../test/support/workloads.ts';

const id = uniq();
const namespaces: string[] = [];
let work: string;
let image: string;

beforeAll(async () => {
  work = tempDir('k8s-deploy-wait');
  image = (await pinnedNodeImage(need('SHIPLINE_NODE_IMAGE'))).ref;
});
afterAll(async () => {
  if (namespaces.length) await exec('kubectl', ['delete', 'namespace', ...namespaces, '--wait=false', '--ignore-not-found'], { allowFail: true });
});

async function deployAndWait(name: string, objects: Record<string, unknown>[]) {
  const ns = `k8sd-wait-${id}-${name}`;
  namespaces.push(ns);
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'app.yaml'), yaml(...objects));
  const started = performance.now();
  const r = await runGitHubAction(
    'k8s-deploy',
    { manifests: dir, namespace: ns, 'create-namespace': 'true', wait: 'true', timeout: '3m' },
    { env: { KUBECONFIG: need('KUBECONFIG'), RUNNER_TEMP: work }, timeoutMs: 240_000 },
  );
  return { ...r, seconds: (performance.now() - started) / 1000, ns };
}

describe.concurrent('k8s-deploy wait: true', () => {
  it('succeeds once the rollout is complete', async () => {
    const r = await deployAndWait('ok', [deployment('web', serving('v1'), { image, replicas: 2 }), service('web')]);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/rollout success \(Current\)/);
    expect(r.summary).toMatch(/#### Rollout: success \(Current\)/);
    expect(r.summary).toContain(`| Deployment ${r.ns}/web | current |`);
    const ready = await exec('kubectl', ['get', 'deployment', 'web', '-n', r.ns, '-o', 'jsonpath={.status.readyReplicas}']);
    expect(ready.stdout).toBe('2');
  });

  it('fails fast on a crash loop, naming the workload and the cause, with its outputs written', async () => {
    const r = await deployAndWait('crash', [deployment('web', CRASH, { image })]);
    expect(r.code).toBe(1);
    const errors = r.stdout.split('\n').filter((l) => l.startsWith('::error'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(new RegExp(`applied, but the rollout failed: Deployment ${r.ns}/web: (CrashLoopBackOff|TooManyRestarts)`));
    // Far below the 3 minute timeout (and kubectl's 600 s progress deadline).
    expect(r.seconds).toBeLessThan(90);
    expect(JSON.parse(r.outputs.resources ?? '[]')).toContainEqual(expect.objectContaining({ kind: 'Deployment', name: 'web', action: 'created' }));
  });
});
