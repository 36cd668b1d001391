// rollout-verify's gates against real Prometheus servers: the stack's, and one of this test's own
// that it stops in the middle of a bake. The workload is a small real Deployment; the gates ask
// Prometheus about itself (its own HTTP metrics, which it scrapes), so what has traffic and what
// has none is known without any load generator:
// - a gate whose samples query counts a handler nobody calls: too little traffic → inconclusive,
//   never a pass, and the run fails (on-inconclusive: fail);
// - a gate that passes while its Prometheus runs, then the Prometheus is killed: errors in a row
//   beyond error-limit end the gate inconclusive, naming the unreachable endpoint;
// - a Prometheus that is down from the start: inconclusive, with the cause;
// - a smoke gate through the API server's proxy and a metric gate together: passed, every
//   measurement in the `gates` output.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { need, sh, tempDir, uniq } from '../../../test/stack/index.ts';
import { type Run, runGitHubAction } from '../../../test/support/run-action.ts';
import { deployment, pinnedNodeImage, service, serving, yaml } from '../../../test/support/workloads.ts';

const ns = `rv-gates-${uniq()}`;
let work: string;
let resources: string;

const env = () => ({ KUBECONFIG: need('KUBECONFIG'), RUNNER_TEMP: work });

async function verify(inputs: Record<string, string>): Promise<Run & { seconds: number }> {
  const started = performance.now();
  const r = await runGitHubAction('rollout-verify', { resources, ...inputs }, { env: env(), timeoutMs: 300_000 });
  const seconds = (performance.now() - started) / 1000;
  console.log(`rollout-verify ${r.outputs.status} (${r.outputs['gate-verdict']}) in ${seconds.toFixed(1)} s`);
  return { ...r, seconds };
}

interface GatesOutput {
  verdict: string;
  reason: string;
  gates: { gate: string; verdict: string; reason: string; counts: Record<string, number>; measurements: { outcome: string; reason: string; time: string }[] }[];
}
const gatesOf = (r: Run): GatesOutput => JSON.parse(r.outputs.gates as string);

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** A Prometheus of this test's own (the stack's binary), scraping itself every second. */
async function ownPrometheus(): Promise<{ url: string; proc: ChildProcess }> {
  const port = await freePort();
  const dir = join(work, `prom-${port}`);
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global: {scrape_interval: 1s}\nscrape_configs:\n  - job_name: self\n    static_configs: [{targets: ['127.0.0.1:${port}']}]\n`,
  );
  const proc = spawn(
    '/usr/bin/prometheus',
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
    {
      stdio: 'ignore',
    },
  );
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    // Ready, and its first scrape of itself done: `up{job="self"}` has a value to judge.
    const up =
      ok &&
      (await fetch(`${url}/api/v1/query?query=up`).then(
        async (r) => ((await r.json()) as { data: { result: unknown[] } }).data.result.length > 0,
        () => false,
      ));
    if (up) return { url, proc };
    await new Promise((r) => setTimeout(r, 200));
  }
  proc.kill('SIGKILL');
  throw new Error('the test Prometheus did not become ready in 20 s');
}

beforeAll(async () => {
  work = tempDir('rollout-verify-gates');
  const image = (await pinnedNodeImage(need('SHIPLINE_NODE_IMAGE'))).ref;
  await sh('kubectl', ['create', 'namespace', ns]);
  const dir = join(work, 'app');
  mkdirSync(dir);
  writeFileSync(join(dir, 'app.yaml'), yaml(deployment('gated', serving('v1'), { image, replicas: 1 }), service('gated')));
  const r = await runGitHubAction('k8s-deploy', { manifests: dir, namespace: ns }, { env: env(), timeoutMs: 180_000 });
  if (r.code !== 0) throw new Error(`k8s-deploy failed: ${r.stdout}${r.stderr}`);
  resources = r.outputs.resources as string;
}, 240_000);

afterAll(async () => {
  await sh('kubectl', ['delete', 'namespace', ns, '--wait=false']).catch(() => {});
});

describe('rollout-verify gates on the stack', () => {
  it('no traffic is inconclusive, never a pass: the run fails with the samples seen', async () => {
    const r = await verify({
      'prometheus-url': need('PROMETHEUS_URL'),
      metrics: [
        'error-rate: sum(rate(prometheus_http_requests_total{handler="/shipline-nobody-calls",code=~"5.."}[30s]) or vector(0)) < 0.01',
        '  samples: sum(increase(prometheus_http_requests_total{handler="/shipline-nobody-calls"}[30s])) >= 10',
      ].join('\n'),
      'bake-time': '4s',
      interval: '2s',
      'inconclusive-limit': '1',
    });
    expect(r.code, r.stdout).toBe(1);
    expect(r.outputs.status).toBe('inconclusive');
    expect(r.outputs.reason).toBe('GateInconclusive');
    const g = gatesOf(r);
    expect(g.verdict).toBe('inconclusive');
    expect(g.gates[0]?.counts).toEqual({ pass: 0, fail: 0, inconclusive: 2, error: 0 });
    expect(g.gates[0]?.measurements[0]?.reason).toMatch(/too little traffic: 0 samples, fewer than the 10 needed/);
    expect(r.stdout).toMatch(/::error::gates inconclusive: gate "error-rate" inconclusive: too little traffic/);
    expect(r.summary).toMatch(/\| error-rate \| inconclusive \| 0 \| 0 \| 2 \| 0 \|/);
  });

  it('a Prometheus stopped mid-bake: errors beyond error-limit end the gate inconclusive, naming the endpoint', async () => {
    const prom = await ownPrometheus();
    // Killed once it has answered rollout-verify's first query (its own /metrics counts them; the
    // test's readiness query above was one already).
    const answered = async () => {
      const text = await fetch(`${prom.url}/metrics`).then((r) => r.text());
      const m = /^prometheus_http_requests_total\{code="200",handler="\/api\/v1\/query"\} (\d+)/m.exec(text);
      return Number(m?.[1] ?? 0);
    };
    const before = await answered();
    let stop = false;
    const killer = (async () => {
      while (!stop && (await answered().catch(() => before)) <= before) await new Promise((r) => setTimeout(r, 100));
      prom.proc.kill('SIGKILL');
    })();
    try {
      const r = await verify({
        'prometheus-url': prom.url,
        metrics: 'self-up: min(up{job="self"}) == 1',
        'bake-time': '20s',
        interval: '2s',
        'error-limit': '2',
      });
      expect(r.code, r.stdout).toBe(1);
      expect(r.outputs.status).toBe('inconclusive');
      const gate = gatesOf(r).gates[0];
      console.log(`gate ${gate?.gate}: ${gate?.verdict}: ${gate?.reason}`);
      expect(gate?.counts.pass).toBeGreaterThanOrEqual(1);
      expect(gate?.counts.error).toBe(3);
      expect(gate?.reason).toMatch(new RegExp(`3 errors in a row \\(error-limit 2\\); last: .*127\\.0\\.0\\.1:${new URL(prom.url).port}`));
      // It stopped early: three failed rounds after the pass, not the whole 20 s bake.
      expect(r.seconds).toBeLessThan(20);
    } finally {
      stop = true;
      prom.proc.kill('SIGKILL');
      await killer;
    }
  });

  it('a Prometheus down from the start: inconclusive with the cause, not a pass and not a crash', async () => {
    const port = await freePort();
    const r = await verify({
      'prometheus-url': `http://127.0.0.1:${port}`,
      metrics: 'self-up: min(up) == 1',
      'bake-time': '10s',
      interval: '1s',
      'error-limit': '1',
    });
    expect(r.code, r.stdout).toBe(1);
    expect(r.outputs.status).toBe('inconclusive');
    expect(gatesOf(r).gates[0]?.reason).toMatch(/2 errors in a row \(error-limit 1\); last: .*(unreachable|ECONNREFUSED|refused)/i);
    expect(r.stdout).not.toMatch(/^\s+at /m);
  });

  it('a metric gate and a smoke gate through the API proxy pass together, every measurement in the output', async () => {
    const r = await verify({
      'prometheus-url': need('PROMETHEUS_URL'),
      // Our own queries are the traffic: the query handler always has some.
      metrics: [
        'prometheus-up: min(up{job="prometheus"}) == 1',
        '  samples: sum(increase(prometheus_http_requests_total{handler="/api/v1/query"}[5m])) >= 1',
      ].join('\n'),
      'smoke-service': `${ns}/gated:80/healthz`,
      'smoke-expect-json': '$.marker = "v1"',
      'bake-time': '6s',
      interval: '2s',
    });
    expect(r.code, r.stdout).toBe(0);
    expect(r.outputs.status).toBe('success');
    expect(r.outputs['gate-verdict']).toBe('passed');
    const g = gatesOf(r);
    expect(g.gates.map((x) => [x.gate, x.verdict, x.measurements.length])).toEqual([
      ['prometheus-up', 'passed', 3],
      ['smoke', 'passed', 3],
    ]);
    expect(r.summary).toMatch(/Gates: passed/);
  });

  it('a smoke gate that gets the wrong answer fails the verdict, naming the target and what it saw', async () => {
    const r = await verify({ 'smoke-service': `${ns}/gated:80/healthz`, 'smoke-expect-json': '$.marker = "v2"', 'bake-time': '4s', interval: '2s' });
    expect(r.code).toBe(1);
    expect(r.outputs.status).toBe('failed');
    expect(r.outputs.reason).toBe('GateFailed');
    expect(gatesOf(r).gates[0]?.measurements).toHaveLength(1);
    expect(r.stdout).toMatch(/::error::gates failed: gate "smoke" failed: .*gated:80\/healthz.*marker/);
  });
});
