// Watch resilience through the bundle: rollout-verify talks to the real API server through a proxy
// that cuts every watch after a few seconds, ends some watches with a 410 Expired event, and answers
// some requests 429 or 503. The verdicts must be the same as without it, and never a false success.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as exec, need, sh, tempDir, uniq } from '../../../test/stack/index.ts';
import { type ApiFaultProxy, startApiFaultProxy } from '../../../test/support/api-fault-proxy.ts';
import { runGitHubAction } from '../../../test/support/run-action.ts';
import { CRASH, deployment, kubectlRolloutStatus, pinnedNodeImage, serving, yaml } from '../../../test/support/workloads.ts';

const id = uniq();
const namespaces: string[] = [];
let work: string;
let image: string;
let repo: string;
let proxy: ApiFaultProxy;
let proxyKubeconfig: string;

/** Every fifth request fails (never the same path twice running: the client retries); watches end after 2-3.5 s, every third with 410. */
async function startProxy(): Promise<ApiFaultProxy> {
  const faulted = new Set<string>();
  return startApiFaultProxy(need('KUBECONFIG'), {
    reject: (url, n) => {
      if (n % 5 === 0 && !faulted.has(url.pathname)) {
        faulted.add(url.pathname);
        return n % 10 === 0 ? 429 : 503;
      }
      faulted.delete(url.pathname);
      return undefined;
    },
    watchEnd: (n) => (n % 3 === 0 ? { afterMs: 1500, how: 'expire' } : { afterMs: 2000 + (n % 4) * 500, how: 'cut' }),
  });
}

beforeAll(async () => {
  work = tempDir('rollout-verify-faults');
  const pinned = await pinnedNodeImage(need('SHIPLINE_NODE_IMAGE'));
  image = pinned.ref;
  repo = pinned.repo;
  proxy = await startProxy();
  proxyKubeconfig = proxy.kubeconfig(join(work, 'kubeconfig'));
});

afterAll(async () => {
  await proxy?.close();
  if (namespaces.length) await exec('kubectl', ['delete', 'namespace', ...namespaces, '--wait=false', '--ignore-not-found'], { allowFail: true });
  console.log(`fault proxy: ${JSON.stringify(proxy?.counts)}`);
});

async function rollout(name: string, v2: Record<string, unknown>) {
  const ns = `rv-faults-${id}-${name}`;
  namespaces.push(ns);
  await sh('kubectl', ['create', 'namespace', ns]);
  const file = (v: string, o: Record<string, unknown>) => {
    const dir = join(work, ns, v);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'app.yaml'), yaml(o));
    return join(dir, 'app.yaml');
  };
  await sh('kubectl', ['apply', '-n', ns, '-f', file('v1', deployment('web', serving('v1'), { image, replicas: 2 }))]);
  expect((await kubectlRolloutStatus(ns, 'deployment/web', 180)).verdict).toBe('success');
  await sh('kubectl', ['apply', '-n', ns, '-f', file('v2', v2)]);
  return runGitHubAction(
    'rollout-verify',
    { workloads: 'deployment/web', namespace: ns, 'kubeconfig-path': proxyKubeconfig, timeout: '3m' },
    { env: { RUNNER_TEMP: work, HOME: work }, timeoutMs: 300_000 },
  );
}

describe.concurrent('rollout-verify through a proxy that cuts watches and answers 429/503', () => {
  it.each([
    ['a healthy rolling update succeeds', 'ok', () => deployment('web', serving('v2'), { image, replicas: 2 }), 'success', ['Current']],
    ['a crash loop fails with its cause', 'crash', () => deployment('web', CRASH, { image, replicas: 2 }), 'failed', ['CrashLoopBackOff', 'TooManyRestarts']],
    [
      'a nonexistent tag fails with its cause',
      'tag',
      () => deployment('web', serving('v2'), { image: `${repo}:no-such-tag-${id}`, replicas: 2 }),
      'failed',
      ['ImageNotFound'],
    ],
  ] as const)('%s', async (_what, name, v2, status, reasons) => {
    const r = await rollout(name, v2());
    expect(r.outputs.status, r.stdout).toBe(status);
    expect(reasons as readonly string[]).toContain(r.outputs.reason);
    expect(r.code).toBe(status === 'success' ? 0 : 1);
    const diag = JSON.parse(readFileSync(r.outputs.diagnostics as string, 'utf8'));
    expect(diag.resources).toHaveLength(1);
  });
});

// After the scenarios above (describe blocks run in order): they were verified through real faults.
describe('the fault proxy', () => {
  it('cut watches, expired watches and answered 429 and 503', () => {
    expect(proxy.counts.cutWatches).toBeGreaterThan(0);
    expect(proxy.counts.expired).toBeGreaterThan(0);
    expect(proxy.counts.throttled).toBeGreaterThan(0);
    expect(proxy.counts.unavailable).toBeGreaterThan(0);
  });
});
