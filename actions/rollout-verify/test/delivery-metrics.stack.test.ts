// Delivery metrics end to end through rollout-verify's bundle: two good deliveries and a broken one
// that is rolled back, each verified with `pushgateway-url` set to the stack's Pushgateway (which
// the stack's Prometheus scrapes), then packages/gates/README.md's queries, as written there, must
// say 3 deployments, a change failure rate of 1/3 and the time to restore that the rollback run
// reported in its own `rolled-back` output.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrometheusClient } from '../../../packages/gates/src/prometheus.ts';
import { need, sh, tempDir, uniq } from '../../../test/stack/index.ts';
import { type Run, runGitHubAction } from '../../../test/support/run-action.ts';
import { CRASH, deployment, pinnedNodeImage, serving, yaml } from '../../../test/support/workloads.ts';

const id = uniq();
const ns = `rv-dm-${id}`;
const service = `orders-${id}`;
const environment = `e2e-${id}`;
const README = readFileSync(resolve(import.meta.dirname, '..', '..', '..', 'packages', 'gates', 'README.md'), 'utf8');
let work: string;
let image: string;
let prom: PrometheusClient;

const env = () => ({ KUBECONFIG: need('KUBECONFIG'), RUNNER_TEMP: work });

function readmeQuery(name: string): string {
  const m = new RegExp(`\`\`\`promql\\n# ${name}\\n([\\s\\S]*?)\`\`\``).exec(README);
  if (!m?.[1]) throw new Error(`packages/gates/README.md has no "# ${name}" query`);
  // Over the last hour instead of 7 days: only this test's deliveries are that recent.
  return m[1].replaceAll('[7d]', '[1h]').replaceAll('7 * 86400', '3600');
}

async function metricValue(query: string): Promise<number | undefined> {
  const r = await prom.query(query);
  if (r.type !== 'vector') throw new Error(`expected a vector, got ${r.type}`);
  return r.series.find((s) => s.labels.service === service && s.labels.environment === environment)?.point.value;
}

/** Deploys `container` with k8s-deploy's bundle, verifies with rollout-verify's, and waits for the scrape. */
async function deliver(version: string, container: Record<string, unknown>, extra: Record<string, string> = {}): Promise<Run> {
  const dir = join(work, version);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'app.yaml'), yaml(deployment('orders', { ...container, env: [{ name: 'VERSION', value: version }] }, { image, replicas: 1 })));
  const d = await runGitHubAction('k8s-deploy', { manifests: dir, namespace: ns }, { env: env(), timeoutMs: 180_000 });
  expect(d.code, d.stdout).toBe(0);
  const t0 = Date.now();
  const v = await runGitHubAction(
    'rollout-verify',
    {
      resources: d.outputs.resources as string,
      'pushgateway-url': need('PUSHGATEWAY_URL'),
      service,
      environment,
      'started-at': d.outputs['started-at'] as string,
      timeout: '2m',
      ...extra,
    },
    { env: env(), timeoutMs: 200_000 },
  );
  expect(v.stdout).toMatch(/delivery metrics pushed/);
  // Each delivery must be scraped on its own (the gateway keeps only the last one).
  const sel = `max by (service, environment) (shipline_deploy_timestamp_seconds{service="${service}",environment="${environment}"})`;
  const before = Date.now();
  for (let i = 0; ; i++) {
    const seen = await metricValue(sel);
    if (seen !== undefined && seen * 1000 >= t0) break;
    if (i > 120) throw new Error(`Prometheus never scraped delivery ${version}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  // One more scrape interval, so the next push cannot replace this one unseen.
  await new Promise((r) => setTimeout(r, 5500));
  console.log(`delivery ${version}: ${v.outputs.status} in ${v.outputs['duration-ms']} ms, scraped after ${((Date.now() - before) / 1000).toFixed(1)} s`);
  return v;
}

beforeAll(async () => {
  work = tempDir('rollout-verify-dm');
  image = (await pinnedNodeImage(need('SHIPLINE_NODE_IMAGE'))).ref;
  prom = new PrometheusClient({ url: need('PROMETHEUS_URL') });
  await sh('kubectl', ['create', 'namespace', ns]);
}, 60_000);

afterAll(async () => {
  await sh('kubectl', ['delete', 'namespace', ns, '--wait=false']).catch(() => {});
  await fetch(`${need('PUSHGATEWAY_URL')}/metrics/job/shipline/service/${service}/environment/${environment}`, { method: 'DELETE' }).catch(() => {});
});

describe('delivery metrics from rollout-verify', () => {
  it('two deliveries and a rolled-back one: 3 deployments, change failure rate 1/3, the reported time to restore', async () => {
    const first = await deliver('v1', serving('v1'));
    expect(first.outputs.status).toBe('success');
    const second = await deliver('v2', serving('v2'));
    expect(second.outputs.status).toBe('success');
    const broken = await deliver('v3', CRASH, { 'rollback-on-failure': 'true' });
    expect(broken.outputs.status).toBe('failed');
    const [rolled] = JSON.parse(broken.outputs['rolled-back'] as string) as { restored: boolean; restoreMs: number }[];
    expect(rolled?.restored).toBe(true);

    const deployments = await metricValue(readmeQuery('deployments'));
    const failureRate = await metricValue(readmeQuery('change failure rate'));
    const restore = await metricValue(readmeQuery('time to restore'));
    console.log(
      `from Prometheus: deployments ${deployments}, change failure rate ${failureRate}, time to restore ${restore} s (reported ${(rolled?.restoreMs ?? 0) / 1000} s)`,
    );
    expect(deployments).toBe(3);
    expect(failureRate).toBeCloseTo(1 / 3, 6);
    expect(restore).toBeCloseTo((rolled?.restoreMs ?? 0) / 1000, 3);
  });
});
