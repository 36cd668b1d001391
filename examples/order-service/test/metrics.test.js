import { afterEach, describe, expect, it } from 'vitest';
import { CONTENT_TYPE, createRegistry, escapeLabelValue } from '../src/metrics.js';
import { parseMetrics, sampleValue, start } from './helpers.js';

const bound = (sample) => (sample.labels.le === '+Inf' ? Infinity : Number(sample.labels.le));

describe('metrics registry', () => {
  it('escapes backslash, double quote and line feed in label values, and line feeds in HELP', () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    const r = createRegistry();
    const c = r.counter({ name: 'x_total', help: 'first line\nsecond \\ line', labelNames: ['v'] });
    c.inc({ v: 'say "hi"\\\n' });
    expect(r.expose()).toBe('# HELP x_total first line\\nsecond \\\\ line\n# TYPE x_total counter\nx_total{v="say \\"hi\\"\\\\\\n"} 1\n');
    expect(sampleValue(parseMetrics(r.expose()), 'x_total', { v: 'say "hi"\\\n' })).toBe(1);
  });

  it('makes histogram buckets cumulative, with +Inf, _sum and _count', () => {
    const r = createRegistry();
    const h = r.histogram({ name: 'd_seconds', help: 'd', labelNames: ['k'], buckets: [0.1, 1, 0.5] });
    for (const v of [0.05, 0.1, 0.3, 0.7, 3]) h.observe({ k: 'a' }, v);
    const m = parseMetrics(r.expose());
    const bucket = (le) => sampleValue(m, 'd_seconds_bucket', { k: 'a', le });
    expect([bucket('0.1'), bucket('0.5'), bucket('1'), bucket('+Inf')]).toEqual([2, 3, 4, 5]);
    expect(sampleValue(m, 'd_seconds_count', { k: 'a' })).toBe(5);
    expect(sampleValue(m, 'd_seconds_sum', { k: 'a' })).toBeCloseTo(4.15);
    expect(m.types.get('d_seconds')).toBe('histogram');
  });

  it('refuses wrong label sets, decreasing counters and bad names', () => {
    const r = createRegistry();
    const c = r.counter({ name: 'y_total', help: 'y', labelNames: ['a'] });
    expect(() => c.inc({ b: '1' })).toThrow('y_total takes labels {a}, got {b}');
    expect(() => c.inc({ a: '1' }, -1)).toThrow('can only increase');
    expect(() => r.counter({ name: 'y_total', help: 'again' })).toThrow('declared twice');
    expect(() => r.gauge({ name: 'bad-name', help: '', collect: () => [] })).toThrow('not valid');
    expect(() => r.histogram({ name: 'h', help: '', labelNames: ['le'] })).toThrow('label name "le"');
  });

  it('exposes a label-less counter as 0 before its first increment', () => {
    const r = createRegistry();
    r.counter({ name: 'z_total', help: 'z' });
    expect(r.expose()).toContain('\nz_total 0\n');
  });
});

describe('GET /metrics', () => {
  let svc;
  afterEach(async () => {
    await svc?.stop();
  });

  it('counts requests by route pattern, method and code, and times them in a histogram', async () => {
    svc = await start({ APP_VERSION: 'v"1\\' });
    const post = (body) => svc.request('/orders', { method: 'POST', body: JSON.stringify(body) });
    await post({ item: 'a', qty: 1 });
    await post({ item: 'b', qty: 2 });
    await post({ item: 'c', qty: 0 });
    for (const id of ['1', '2', '2', '404']) await svc.request(`/orders/${id}`);
    for (const p of ['/x', '/a/b/c', '/orders/1/2', '/Orders']) await svc.request(p);
    await svc.request('/orders', { method: 'PUT' });
    await svc.request('/orders', { method: 'BREW' }).catch(() => {});

    const r = await svc.request('/metrics');
    expect(r.headers.get('content-type')).toBe(CONTENT_TYPE);
    const m = parseMetrics(await r.text());
    const total = (route, method, code) => sampleValue(m, 'http_requests_total', { route, method, code });
    expect(total('/orders', 'POST', '201')).toBe(2);
    expect(total('/orders', 'POST', '400')).toBe(1);
    // The id is not a label: every order shares the series of its route pattern.
    expect(total('/orders/:id', 'GET', '200')).toBe(3);
    expect(total('/orders/:id', 'GET', '404')).toBe(1);
    expect(total('other', 'GET', '404')).toBe(4);
    expect(total('/orders', 'PUT', '405')).toBe(1);
    expect(m.samples.some((s) => s.name === 'http_requests_total' && /\d/.test(s.labels.route))).toBe(false);
    expect(m.types.get('http_requests_total')).toBe('counter');

    // Each histogram's _count equals the requests of its route and method, and buckets only grow.
    for (const [route, method] of [
      ['/orders', 'POST'],
      ['/orders/:id', 'GET'],
      ['other', 'GET'],
    ]) {
      const requests = m.samples.filter((s) => s.name === 'http_requests_total' && s.labels.route === route && s.labels.method === method);
      const count = sampleValue(m, 'http_request_duration_seconds_count', { route, method });
      expect(count).toBe(requests.reduce((n, s) => n + s.value, 0));
      const buckets = m.samples.filter((s) => s.name === 'http_request_duration_seconds_bucket' && s.labels.route === route && s.labels.method === method);
      expect(buckets).toHaveLength(12);
      expect(buckets.at(-1).labels.le).toBe('+Inf');
      expect(buckets.at(-1).value).toBe(count);
      for (let i = 1; i < buckets.length; i++) {
        expect(bound(buckets[i])).toBeGreaterThan(bound(buckets[i - 1]));
        expect(buckets[i].value).toBeGreaterThanOrEqual(buckets[i - 1].value);
      }
      expect(sampleValue(m, 'http_request_duration_seconds_sum', { route, method })).toBeGreaterThan(0);
    }

    expect(sampleValue(m, 'orders_in_store')).toBe(2);
    expect(sampleValue(m, 'orders_created_total')).toBe(2);
    expect(sampleValue(m, 'orders_rejected_total', { reason: 'invalid' })).toBe(1);
    expect(sampleValue(m, 'order_service_info', { version: 'v"1\\' })).toBe(1);
    expect(sampleValue(m, 'order_service_ready')).toBe(1);
    const started = sampleValue(m, 'process_start_time_seconds');
    expect(started).toBeGreaterThan(Date.now() / 1000 - 60);
    expect(started).toBeLessThanOrEqual(Date.now() / 1000);
  });

  it('counts unknown methods as method "other", keeping the label bounded', async () => {
    svc = await start();
    const { request } = await import('node:http');
    await new Promise((resolve, reject) => {
      const req = request(`${svc.base}/orders`, { method: 'PROPFIND' }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end();
    });
    const m = parseMetrics(await (await svc.request('/metrics')).text());
    expect(sampleValue(m, 'http_requests_total', { route: '/orders', method: 'other', code: '405' })).toBe(1);
  });
});
