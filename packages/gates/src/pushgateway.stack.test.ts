// Delivery metrics through the stack's real Pushgateway (Debian 1.5) and Prometheus (Debian 2.42,
// scraping the gateway every 5 s with honor_labels): three deliveries of one service, a scrape
// apart, then the README's queries — as written there — must count them.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { need, uniq } from '../../../test/stack/index.ts';
import { PrometheusClient, type QueryResult } from './prometheus.ts';
import { type DeliveryRecord, groupingPath, PushgatewayError, pushDelivery } from './pushgateway.ts';
import { closedPort } from './testing/fake-prometheus.ts';

const SCRAPE_MS = 5_000;
const README = readFileSync(resolve(import.meta.dirname, '..', 'README.md'), 'utf8');

/** The README's ```promql blocks, by the name on their first line (`# deployments`). */
function readmeQueries(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of README.matchAll(/```promql\n# ([^\n]+)\n([\s\S]*?)```/g)) if (m[1] && m[2]) out[m[1].trim()] = m[2];
  return out;
}

/** The same query over the last `seconds` instead of 7 days. */
function over(query: string, seconds: number): string {
  const q = query.replaceAll('[7d]', `[${seconds}s]`).replaceAll('7 * 86400', String(seconds));
  expect(q).not.toContain('7d');
  return q;
}

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

describe('delivery metrics in the stack Pushgateway and Prometheus', () => {
  const id = uniq();
  const service = `pb-svc-${id}`;
  // A `/` in a value exercises the gateway's base64 form of the grouping key.
  const environment = `pb-env/${id}`;
  const digestA = `sha256:${'a'.repeat(64)}`;
  const digestB = `sha256:${'b'.repeat(64)}`;
  const queries = readmeQueries();
  let prom: PrometheusClient;
  let gateway: string;
  const pushed: { record: DeliveryRecord; pushedAt: number; seenAt: number }[] = [];

  const value = (r: QueryResult): number | undefined => {
    if (r.type !== 'vector') throw new Error(`expected a vector, got ${r.type}`);
    const mine = r.series.filter((s) => s.labels.service === service && s.labels.environment === environment);
    if (mine.length > 1) throw new Error(`more than one series for ${service}: ${JSON.stringify(mine)}`);
    return mine[0]?.point.value;
  };

  /** Push, then wait until Prometheus has scraped it and one more scrape interval has passed. */
  async function deliver(record: DeliveryRecord): Promise<void> {
    const pushedAt = Date.now();
    await pushDelivery(gateway, record);
    const sel = `shipline_deploy_timestamp_seconds{service="${service}",environment="${environment}"}`;
    const until = Date.now() + 6 * SCRAPE_MS;
    for (;;) {
      if (value(await prom.query(`max by (service, environment) (${sel})`)) === record.timestampSeconds) break;
      if (Date.now() > until) throw new Error(`Prometheus never scraped the delivery at ${record.timestampSeconds}`);
      await sleep(250);
    }
    const seenAt = Date.now();
    process.stdout.write(`[pushgateway] ${record.verdict} pushed → in Prometheus after ${((seenAt - pushedAt) / 1000).toFixed(1)} s\n`);
    pushed.push({ record, pushedAt, seenAt });
    await sleep(Math.max(0, pushedAt + SCRAPE_MS + 500 - Date.now()));
  }

  beforeAll(async () => {
    prom = new PrometheusClient({ url: need('PROMETHEUS_URL'), timeoutMs: 5_000 });
    gateway = need('PUSHGATEWAY_URL');
    const base = { service, environment, deployDurationSeconds: 30 };
    const now = () => Date.now() / 1000;
    await deliver({ ...base, digest: digestA, verdict: 'success', deployDurationSeconds: 41.5, timestampSeconds: now() });
    await deliver({ ...base, digest: digestA, verdict: 'success', deployDurationSeconds: 38, timestampSeconds: now() });
    await deliver({ ...base, digest: digestB, verdict: 'rolled_back', deployDurationSeconds: 130.25, timeToRestoreSeconds: 93.5, timestampSeconds: now() });
  }, 120_000);

  afterAll(async () => {
    await fetch(new URL(groupingPath(service, environment), gateway), { method: 'DELETE' }).catch(() => undefined);
  });

  it('the README has the three queries', () => {
    expect(Object.keys(queries).sort()).toEqual(['change failure rate', 'deployments', 'time to restore']);
  });

  it('the gateway holds only the last delivery of the group', async () => {
    const res = await fetch(new URL('/api/v1/metrics', gateway));
    const groups = (await res.json()) as {
      data: { labels: Record<string, string>; shipline_deploy_timestamp_seconds?: { metrics: { labels: Record<string, string>; value: string }[] } }[];
    };
    const mine = groups.data.filter((g) => g.labels.service === service);
    expect(mine).toHaveLength(1);
    expect(mine[0]?.labels).toEqual({ job: 'shipline', service, environment });
    expect(mine[0]?.shipline_deploy_timestamp_seconds?.metrics).toEqual([
      { labels: { job: 'shipline', service, environment, instance: '', digest: digestB, verdict: 'rolled_back' }, value: expect.any(String) },
    ]);
    expect(Number(mine[0]?.shipline_deploy_timestamp_seconds?.metrics[0]?.value)).toBeCloseTo(pushed[2]?.record.timestampSeconds ?? 0, 3);
  });

  it('over 7 days: 3 deployments, a change failure rate of 1/3, the pushed time to restore', async () => {
    const deployments = value(await prom.query(queries.deployments ?? ''));
    const cfr = value(await prom.query(queries['change failure rate'] ?? ''));
    const ttr = value(await prom.query(queries['time to restore'] ?? ''));
    process.stdout.write(`[pushgateway] 7d: deployments=${deployments} change-failure-rate=${cfr} time-to-restore=${ttr} s\n`);
    expect(deployments).toBe(3);
    expect(cfr).toBeCloseTo(1 / 3, 10);
    expect(ttr).toBe(93.5);
  });

  it('over a range that starts after the first two deliveries: 1 deployment, all of them failed', async () => {
    const second = pushed[1]?.record.timestampSeconds;
    const third = pushed[2]?.record.timestampSeconds;
    if (second === undefined || third === undefined) throw new Error('a delivery is missing');
    // The range must start after the second delivery's timestamp and no later than the third's:
    // the deliveries are pushed at least a scrape apart, so their midpoint is seconds from both
    // ends, and rounding the range down to whole seconds moves its start by less than one.
    const at = new Date();
    const seconds = Math.floor(at.getTime() / 1000 - (second + third) / 2);
    const start = at.getTime() / 1000 - seconds;
    expect(start).toBeGreaterThan(second);
    expect(start).toBeLessThanOrEqual(third);
    const deployments = value(await prom.query(over(queries.deployments ?? '', seconds), at));
    const cfr = value(await prom.query(over(queries['change failure rate'] ?? '', seconds), at));
    const ttr = value(await prom.query(over(queries['time to restore'] ?? '', seconds), at));
    process.stdout.write(`[pushgateway] last ${seconds} s: deployments=${deployments} change-failure-rate=${cfr} time-to-restore=${ttr} s\n`);
    expect(deployments).toBe(1);
    expect(cfr).toBe(1);
    expect(ttr).toBe(93.5);
  });

  it('before the first delivery there is nothing to count', async () => {
    const first = pushed[0];
    if (!first) throw new Error('the first delivery is missing');
    const at = new Date(first.pushedAt - 1_000);
    expect(value(await prom.query(queries.deployments ?? '', at))).toBeUndefined();
    expect(value(await prom.query(queries['change failure rate'] ?? '', at))).toBeUndefined();
  });

  it('the other metrics of the last delivery, with their labels', async () => {
    const sel = `{service="${service}",environment="${environment}"}`;
    const r = await prom.query(`shipline_deploy_verdict${sel}`);
    if (r.type !== 'vector') throw new Error(r.type);
    expect(Object.fromEntries(r.series.map((s) => [s.labels.verdict, s.point.value]))).toEqual({ success: 0, failed: 0, rolled_back: 1 });
    expect(r.series.every((s) => s.labels.job === 'shipline' && s.labels.digest === digestB)).toBe(true);
    expect(value(await prom.query(`shipline_deploy_duration_seconds${sel}`))).toBe(130.25);
  });

  it('a gateway that is not there is a typed error, not a crash', async () => {
    const port = await closedPort();
    const err = await pushDelivery(`http://127.0.0.1:${port}`, pushed[0]?.record as DeliveryRecord, { retry: { retries: 1, baseMs: 10 } }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PushgatewayError);
    expect((err as PushgatewayError).kind).toBe('unreachable');
  });
});
