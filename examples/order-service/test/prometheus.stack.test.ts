// The stack's real Prometheus scrapes the service (started in-process on 127.0.0.1) through a
// file_sd target, and answers the queries a metric gate will ask: the exposition is what
// Prometheus parses, not only what our own parser accepts.
import { rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { need, uniq } from '../../../test/stack/index.ts';
// @ts-expect-error: the service is plain JavaScript without type declarations
import { start } from './helpers.js';

// test/stack/README.md: targets dropped here are scraped every 5 s.
const TARGETS = resolve(import.meta.dirname, '..', '..', '..', '.stack', 'config', 'prometheus-targets');

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

async function query(promql: string): Promise<Sample[]> {
  const url = new URL('/api/v1/query', need('PROMETHEUS_URL'));
  url.searchParams.set('query', promql);
  const r = await fetch(url);
  const body = (await r.json()) as { status: string; data: { result: Sample[] }; error?: string };
  if (body.status !== 'success') throw new Error(`Prometheus refused ${promql}: ${body.error}`);
  return body.data.result;
}

/** Polls until `check` accepts the query's result (scrapes come every 5 s). */
async function eventually(promql: string, check: (s: Sample[]) => boolean, timeoutMs = 60_000): Promise<Sample[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const result = await query(promql);
    if (check(result)) return result;
    if (Date.now() > until) throw new Error(`${promql} never gave the expected result; last: ${JSON.stringify(result)}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

describe('order-service scraped by the stack Prometheus', () => {
  const id = `order-service-${uniq()}`;
  const file = join(TARGETS, `${id}.json`);
  let svc: Awaited<ReturnType<typeof start>>;

  beforeAll(async () => {
    // Every other /orders request fails: half the traffic is 5xx.
    let n = 0;
    svc = await start({ FAIL_RATE: '0.5', APP_VERSION: 'prom-check', LOG_LEVEL: 'warn' }, { random: () => (n++ % 2 === 0 ? 0 : 0.99) });
    writeFileSync(file, JSON.stringify([{ targets: [`127.0.0.1:${svc.service.port}`], labels: { shipline_test: id } }]));
  });
  afterAll(async () => {
    rmSync(file, { force: true });
    await svc?.stop();
  });

  it('ingests the counters, histogram and gauges, and answers the 5xx rate query', async () => {
    await eventually(`up{shipline_test="${id}"}`, (s) => s[0]?.value[1] === '1');
    for (let i = 0; i < 10; i++) await svc.request('/orders');
    for (let i = 0; i < 3; i++) await svc.request(`/orders/${i}`);

    const sel = `shipline_test="${id}"`;
    const codes = await eventually(`http_requests_total{${sel},route="/orders"}`, (s) => s.reduce((n, x) => n + Number(x.value[1]), 0) === 10);
    expect(Object.fromEntries(codes.map((s) => [s.metric.code, Number(s.value[1])]))).toEqual({ '200': 5, '500': 5 });
    // /orders/:id: 0 → 500 (draw 0), 1 → 404 (draw 0.99), 2 → 500; one series per pattern, never per id.
    const byId = await query(`http_requests_total{${sel},route="/orders/:id"}`);
    expect(Object.fromEntries(byId.map((s) => [s.metric.code, Number(s.value[1])]))).toEqual({ '404': 1, '500': 2 });

    const count = await query(`http_request_duration_seconds_count{${sel},route="/orders",method="GET"}`);
    expect(count[0]?.value[1]).toBe('10');
    const info = await query(`order_service_info{${sel}}`);
    expect(info[0]?.metric.version).toBe('prom-check');
    const started = await query(`process_start_time_seconds{${sel}}`);
    expect(Number(started[0]?.value[1])).toBeGreaterThan(Date.now() / 1000 - 600);

    // The gate's queries: rate() needs increases between two scrapes (a series' first sample
    // counts as its start, not as an increase from 0), so keep traffic flowing meanwhile.
    const traffic = setInterval(() => void svc.request('/orders').then((r: Response) => r.body?.cancel()), 200);
    try {
      const rate = await eventually(`sum(rate(http_requests_total{${sel},code=~"5.."}[1m]))`, (s) => Number(s[0]?.value[1]) > 0);
      expect(Number(rate[0]?.value[1])).toBeGreaterThan(0);
      const p95 = await eventually(
        `histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{${sel},route="/orders"}[1m])))`,
        (s) => s.length === 1 && s[0]?.value[1] !== 'NaN',
      );
      expect(Number(p95[0]?.value[1])).toBeGreaterThan(0);
      expect(Number(p95[0]?.value[1])).toBeLessThanOrEqual(0.1);
    } finally {
      clearInterval(traffic);
    }
  });
});
