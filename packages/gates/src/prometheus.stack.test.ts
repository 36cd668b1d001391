// Metric gates against the stack's real Prometheus (Debian 2.42): three order services started
// in-process on 127.0.0.1 and scraped through a file_sd target — one answering 500 to half its
// requests, one healthy, one without traffic — each judged by the same error-rate gate. Then a
// Prometheus that is not there: errors, and the gate ends inconclusive after its error limit.
import { rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: the service is plain JavaScript without type declarations
import { start } from '../../../examples/order-service/test/helpers.js';
import { need, uniq } from '../../../test/stack/index.ts';
import { parseGates } from './condition.ts';
import { bake } from './gate.ts';
import { PrometheusClient } from './prometheus.ts';
import { closedPort } from './testing/fake-prometheus.ts';

// test/stack/lib/config.ts: scrape_interval 5s, file_sd refresh_interval 5s.
const SCRAPE_MS = 5_000;
const TARGETS = resolve(import.meta.dirname, '..', '..', '..', '.stack', 'config', 'prometheus-targets');

type Service = Awaited<ReturnType<typeof start>>;

/** The gate a canary would get, for one variant's series. */
function gateFor(sel: string) {
  // `or vector(0)`: a healthy service has no 5xx series at all (labelled counters appear on their
  // first increment), and an empty numerator would make every healthy measurement "no data".
  // `route!="/metrics"`: Prometheus's own scrapes are requests too (an idle service counted ~3 per
  // minute), and must not count as the traffic a verdict stands on.
  const s = `${sel},route!="/metrics"`;
  return parseGates(
    [
      `error-rate: (sum(rate(http_requests_total{${s},code=~"5.."}[1m])) or vector(0)) / sum(rate(http_requests_total{${s}}[1m])) < 0.01`,
      `  samples: sum(increase(http_requests_total{${s}}[1m])) >= 10`,
    ].join('\n'),
  );
}

describe('metric gates against the stack Prometheus', () => {
  const id = `gates-${uniq()}`;
  const file = join(TARGETS, `${id}.json`);
  const services: Record<'bad' | 'good' | 'idle', Service | undefined> = { bad: undefined, good: undefined, idle: undefined };
  let traffic: NodeJS.Timeout | undefined;
  let prom: PrometheusClient;
  const sel = (variant: string) => `shipline_test="${id}",variant="${variant}"`;

  beforeAll(async () => {
    prom = new PrometheusClient({ url: need('PROMETHEUS_URL'), timeoutMs: 5_000 });
    let n = 0;
    // Every other /orders request fails on the bad one: an error rate of 0.5.
    services.bad = await start({ FAIL_RATE: '0.5', APP_VERSION: 'gate-bad', LOG_LEVEL: 'warn' }, { random: () => (n++ % 2 === 0 ? 0 : 0.99) });
    services.good = await start({ FAIL_RATE: '0', APP_VERSION: 'gate-good', LOG_LEVEL: 'warn' });
    services.idle = await start({ FAIL_RATE: '0', APP_VERSION: 'gate-idle', LOG_LEVEL: 'warn' });
    writeFileSync(
      file,
      JSON.stringify(Object.entries(services).map(([variant, s]) => ({ targets: [`127.0.0.1:${s?.service.port}`], labels: { shipline_test: id, variant } }))),
    );
    traffic = setInterval(() => {
      for (const s of [services.bad, services.good])
        void s?.request('/orders').then(
          (r: Response) => r.body?.cancel(),
          () => {},
        );
    }, 100);
    // Wait until both loaded services have two scrapes with traffic behind them (rate() needs two
    // samples in its window): the file is picked up within a refresh, then scraped every 5 s.
    const until = Date.now() + 12 * SCRAPE_MS;
    for (;;) {
      const r = await prom.query(`count(increase(http_requests_total{shipline_test="${id}",variant=~"bad|good"}[1m]) > 0) by (variant)`);
      if (r.type === 'vector' && r.series.length === 2) break;
      if (Date.now() > until) throw new Error(`the order services were never scraped with traffic: ${JSON.stringify(r)}`);
      await new Promise((ok) => setTimeout(ok, 1_000));
    }
    await new Promise((ok) => setTimeout(ok, SCRAPE_MS));
  });

  afterAll(async () => {
    if (traffic) clearInterval(traffic);
    rmSync(file, { force: true });
    for (const s of Object.values(services)) await s?.stop();
  });

  it('fails a 50% error rate, passes a healthy service, and is inconclusive without traffic', async () => {
    const options = { bakeTimeMs: 2 * SCRAPE_MS, intervalMs: SCRAPE_MS };
    const [bad, good, idle] = await Promise.all([
      bake(prom, gateFor(sel('bad')), options),
      bake(prom, gateFor(sel('good')), options),
      bake(prom, gateFor(sel('idle')), options),
    ]);

    expect(bad.verdict, bad.reason).toBe('failed');
    const failed = bad.gates[0]?.measurements.at(-1);
    expect(failed?.outcome).toBe('fail');
    // Every other request failed; rate() extrapolation keeps the ratio near, not at, 0.5.
    expect(Number(failed?.values[0]?.value)).toBeGreaterThan(0.3);
    expect(Number(failed?.values[0]?.value)).toBeLessThan(0.7);
    expect(Number(failed?.samples)).toBeGreaterThanOrEqual(10);
    expect(bad.reason).toMatch(/^gate "error-rate" failed: 0\.\d+ is not < 0\.01 \(at /);
    // The first failure ended the bake: one measurement, not two.
    expect(bad.gates[0]?.measurements).toHaveLength(1);

    expect(good.verdict, good.reason).toBe('passed');
    expect(good.gates[0]?.measurements.map((m) => [m.outcome, m.values[0]?.value])).toEqual([
      ['pass', 0],
      ['pass', 0],
    ]);

    expect(idle.verdict, idle.reason).toBe('inconclusive');
    expect(idle.gates[0]?.measurements[0]).toMatchObject({ outcome: 'inconclusive', samples: 0 });
    expect(idle.reason).toContain('too little traffic: 0 samples, fewer than the 10 needed to judge');
  });

  it('without its traffic guard, the idle service gives no data, still inconclusive', async () => {
    const [def] = gateFor(sel('idle'));
    const v = await bake(prom, [{ name: 'error-rate', query: def?.query ?? '', op: '<', threshold: 0.01 }], { bakeTimeMs: 0, intervalMs: SCRAPE_MS });
    expect(v.verdict).toBe('inconclusive');
    expect(v.gates[0]?.measurements[0]?.reason).toBe('no data: the query returned no series');
  });

  it('a query the real Prometheus refuses is an error naming its message', async () => {
    const v = await bake(prom, parseGates('broken: sum(rate(http_requests_total)) < 1'), { bakeTimeMs: 0, intervalMs: 1_000, errorLimit: 0 });
    expect(v.verdict).toBe('inconclusive');
    expect(v.gates[0]?.measurements[0]?.outcome).toBe('error');
    expect(v.reason).toMatch(/Prometheus refused "sum\(rate\(http_requests_total\)\)": bad_data: .*range vector/);
  });

  it('an unreachable Prometheus gives errors, then inconclusive after the error limit', async () => {
    const port = await closedPort();
    const down = new PrometheusClient({ url: `http://127.0.0.1:${port}`, timeoutMs: 1_000, retry: { retries: 1, baseMs: 10 } });
    const started = Date.now();
    const v = await bake(down, gateFor(sel('good')), { bakeTimeMs: 10_000, intervalMs: 200, errorLimit: 2 });
    expect(v.verdict).toBe('inconclusive');
    expect(v.gates[0]?.measurements.map((m) => m.outcome)).toEqual(['error', 'error', 'error']);
    expect(v.reason).toBe(
      `gate "error-rate" inconclusive: 3 errors in a row (error-limit 2); last: samples query: Prometheus at http://127.0.0.1:${port}/api/v1/query did not answer (connection refused, ECONNREFUSED) after 2 attempt(s)`,
    );
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
