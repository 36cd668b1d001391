// Issue 14, API server faults: 30 rollouts, healthy and each broken kind, verified by rollout-verify's
// bundle through a proxy in front of the real API server that cuts every watch after 5-20 s (some
// ended with 410 Expired instead) and answers 10 % of the other requests 429 or 503, at random
// from a printed seed (SHIPLINE_SEED reproduces a run). A verdict is correct when its status and
// reason are the scenario's; any other is a false verdict. Figure: rollouts correct.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { need, sh, tempDir, uniq } from '../stack/index.ts';
import { type ApiFaultProxy, startApiFaultProxy } from '../support/api-fault-proxy.ts';
import { runGitHubAction } from '../support/run-action.ts';
import { seededRandom, testSeed } from '../support/seed.ts';
import { CRASH, deployment, EAT_MEMORY, kubectlRolloutStatus, type Obj, pinnedNodeImage, serving, yaml } from '../support/workloads.ts';

const seed = testSeed();
const random = seededRandom(seed);
const id = uniq();
const ROUNDS = 5;
let work: string;
let image: string;
let repo: string;
let proxy: ApiFaultProxy;
let kubeconfig: string;
const namespaces: string[] = [];

interface Kind {
  name: string;
  v2: () => Obj;
  status: 'success' | 'failed';
  reasons: string[];
}

const KINDS: Kind[] = [
  // minReadySeconds and the graces below keep each verdict 15-30 s away, so its watches are cut.
  {
    name: 'healthy',
    v2: () => deployment('web', serving('v2'), { image, replicas: 3, spec: { minReadySeconds: 6 } }),
    status: 'success',
    reasons: ['Current'],
  },
  { name: 'crash', v2: () => deployment('web', CRASH, { image, replicas: 2 }), status: 'failed', reasons: ['CrashLoopBackOff', 'TooManyRestarts'] },
  {
    name: 'tag',
    v2: () => deployment('web', serving('v2'), { image: `${repo}:no-such-tag-${id}`, replicas: 2 }),
    status: 'failed',
    reasons: ['ImageNotFound'],
  },
  { name: 'oom', v2: () => deployment('web', EAT_MEMORY, { image, replicas: 2 }), status: 'failed', reasons: ['OOMKilled'] },
  {
    name: 'config',
    v2: () => deployment('web', { ...serving('v2'), envFrom: [{ configMapRef: { name: 'settings' } }] }, { image, replicas: 2 }),
    status: 'failed',
    reasons: ['CreateContainerConfigError'],
  },
  {
    name: 'unsched',
    v2: () => deployment('web', { ...serving('v2'), resources: { requests: { cpu: '500' } } }, { image, replicas: 2 }),
    status: 'failed',
    reasons: ['Unschedulable'],
  },
];

const results: { scenario: string; status: string; reason: string; correct: boolean; seconds: number }[] = [];

beforeAll(async () => {
  work = tempDir('hardening-api-faults');
  const pinned = await pinnedNodeImage(need('SHIPLINE_NODE_IMAGE'));
  image = pinned.ref;
  repo = pinned.repo;
  proxy = await startApiFaultProxy(need('KUBECONFIG'), {
    // 10 % of requests, at random; the kit's retry policy gets four more tries at each.
    reject: () => {
      const r = random();
      return r < 0.05 ? 429 : r < 0.1 ? 503 : undefined;
    },
    // Every watch ends 5-20 s after it started; one in four with 410 Expired.
    watchEnd: () => ({ afterMs: 5000 + Math.floor(random() * 15_000), how: random() < 0.25 ? 'expire' : 'cut' }),
  });
  kubeconfig = proxy.kubeconfig(join(work, 'kubeconfig'));
  console.log(`api-faults seed ${seed} (SHIPLINE_SEED=${seed} reproduces the fault sequence)`);
}, 60_000);

afterAll(async () => {
  await proxy?.close();
  if (namespaces.length) await sh('kubectl', ['delete', 'namespace', ...namespaces, '--wait=false', '--ignore-not-found']).catch(() => {});
  const correct = results.filter((r) => r.correct).length;
  for (const r of results.filter((x) => !x.correct)) console.log(`FALSE VERDICT ${r.scenario}: ${r.status} (${r.reason})`);
  console.log(`fault proxy: ${JSON.stringify(proxy?.counts)}`);
  console.log(
    `FIGURE api-server-faults: ${results.length} tried, ${correct} correct — ${results.length - correct} false verdicts; ${proxy?.counts.cutWatches} watches cut, ${proxy?.counts.expired} expired, ${proxy?.counts.throttled} × 429, ${proxy?.counts.unavailable} × 503 of ${proxy?.counts.requests} requests; seed ${seed}`,
  );
});

const scenarios = Array.from({ length: ROUNDS }, (_, round) => KINDS.map((k) => ({ ...k, round }))).flat();

describe.concurrent('30 rollouts through an API server that cuts watches and answers 429/503', () => {
  it.each(scenarios)('$name #$round', { timeout: 420_000 }, async (s) => {
    const ns = `hard-api-${id}-${s.name}-${s.round}`;
    namespaces.push(ns);
    await sh('kubectl', ['create', 'namespace', ns]);
    const dir = join(work, ns);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'v1.yaml'), yaml(deployment('web', serving('v1'), { image, replicas: 2 })));
    writeFileSync(join(dir, 'v2.yaml'), yaml(s.v2()));
    // v1 straight to the API server: the faults are for the verdict.
    await sh('kubectl', ['apply', '-n', ns, '-f', join(dir, 'v1.yaml')]);
    expect((await kubectlRolloutStatus(ns, 'deployment/web', 180)).verdict).toBe('success');
    await sh('kubectl', ['apply', '-n', ns, '-f', join(dir, 'v2.yaml')]);
    const started = performance.now();
    const r = await runGitHubAction(
      'rollout-verify',
      {
        workloads: 'deployment/web',
        namespace: ns,
        'kubeconfig-path': kubeconfig,
        timeout: '4m',
        'image-pull-grace': '15s',
        'config-grace': '15s',
        'unschedulable-grace': '15s',
        'max-restarts': '4',
      },
      { env: { RUNNER_TEMP: work, HOME: work }, timeoutMs: 360_000 },
    );
    const status = r.outputs.status ?? `exit ${r.code}`;
    const reason = r.outputs.reason ?? '';
    const correct = status === s.status && s.reasons.includes(reason) && r.code === (s.status === 'success' ? 0 : 1);
    results.push({ scenario: `${s.name} #${s.round}`, status, reason, correct, seconds: (performance.now() - started) / 1000 });
    expect({ status, reason: s.reasons.includes(reason) ? 'expected' : reason }, r.stdout.slice(-3000)).toEqual({ status: s.status, reason: 'expected' });
  });
});

// Runs after the concurrent block: the figure is complete, and every fault kind happened.
describe('the figure', () => {
  it('every rollout got its true verdict, through every kind of fault', () => {
    expect(results).toHaveLength(scenarios.length);
    expect(results.filter((r) => !r.correct)).toEqual([]);
    expect(proxy.counts.cutWatches).toBeGreaterThan(0);
    expect(proxy.counts.expired).toBeGreaterThan(0);
    expect(proxy.counts.throttled).toBeGreaterThan(0);
    expect(proxy.counts.unavailable).toBeGreaterThan(0);
  });
});
