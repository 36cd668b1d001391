import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { BODY_LIMIT, validateOrder } from '../src/app.js';
import { start } from './helpers.js';

let svc;
afterEach(async () => {
  await svc?.stop();
  svc = undefined;
});

const post = (body, init = {}) =>
  svc.request('/orders', {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
    ...init,
  });

describe('orders API', () => {
  it('creates, lists (newest first, with version) and fetches orders', async () => {
    svc = await start({ APP_VERSION: 'v1.2.3' });
    const empty = await svc.request('/orders');
    expect(empty.status).toBe(200);
    expect(empty.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await empty.json()).toEqual({ count: 0, orders: [], version: 'v1.2.3' });

    const a = await post({ item: 'keyboard', qty: 1 });
    expect(a.status).toBe(201);
    const created = await a.json();
    expect(created.version).toBe('v1.2.3');
    expect(created.order).toMatchObject({ item: 'keyboard', qty: 1 });
    expect(a.headers.get('location')).toBe(`/orders/${created.order.id}`);
    await post({ item: '  cable ', qty: 3 });

    const list = await (await svc.request('/orders')).json();
    expect(list.count).toBe(2);
    expect(list.orders.map((o) => [o.item, o.qty])).toEqual([
      ['cable', 3],
      ['keyboard', 1],
    ]);
    const limited = await (await svc.request('/orders?limit=1')).json();
    expect(limited.orders.map((o) => o.item)).toEqual(['cable']);

    const one = await svc.request(`/orders/${created.order.id}`);
    expect(one.status).toBe(200);
    expect(await one.json()).toEqual({ order: created.order, version: 'v1.2.3' });
  });

  it('answers 404 for a missing order and for unknown paths, 405 with Allow for a wrong method', async () => {
    svc = await start();
    const missing = await svc.request('/orders/999');
    expect(missing.status).toBe(404);
    expect((await missing.json()).error).toContain('"999" does not exist');
    expect((await svc.request('/nowhere')).status).toBe(404);
    expect((await svc.request('/orders/1/extra')).status).toBe(404);
    const wrong = await svc.request('/orders', { method: 'DELETE' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET, POST');
  });

  it.each([
    ['limit=0', 'limit="0" is not a whole number from 1 to 1000'],
    ['limit=abc', 'limit="abc"'],
    ['limit=1001', 'from 1 to 1000'],
  ])('rejects GET /orders?%s with 400', async (query, message) => {
    svc = await start();
    const r = await svc.request(`/orders?${query}`);
    expect(r.status).toBe(400);
    expect((await r.json()).error).toContain(message);
  });

  it.each([
    ['{"item": "pen", ', 'the body is not valid JSON'],
    ['', 'the body is not valid JSON'],
    ['[1, 2]', 'the body must be a JSON object'],
    ['"pen"', 'the body must be a JSON object'],
    ['{"qty": 1}', '"item" is missing'],
    ['{"item": "", "qty": 1}', '"item" must be a non-empty string'],
    ['{"item": 7, "qty": 1}', '"item" must be a non-empty string'],
    [JSON.stringify({ item: 'x'.repeat(201), qty: 1 }), '"item" is longer than 200 characters'],
    ['{"item": "pen"}', '"qty" is missing'],
    ['{"item": "pen", "qty": 0}', '"qty" must be a positive whole number'],
    ['{"item": "pen", "qty": -2}', 'got -2'],
    ['{"item": "pen", "qty": 1.5}', 'got 1.5'],
    ['{"item": "pen", "qty": "3"}', 'got "3"'],
    ['{"item": "pen", "qty": 1e300}', 'positive whole number'],
  ])('rejects the body %s with 400 and a clear error', async (body, message) => {
    svc = await start();
    const r = await post(body);
    expect(r.status).toBe(400);
    const answer = await r.json();
    expect(answer.error).toContain(message);
    expect(answer.version).toBe('dev');
    expect((await (await svc.request('/orders')).json()).count).toBe(0);
  });

  it('answers 413 for a body over the limit, declared or streamed without a length', async () => {
    svc = await start();
    const declared = await post({ item: 'x'.repeat(BODY_LIMIT), qty: 1 });
    expect(declared.status).toBe(413);
    expect((await declared.json()).error).toContain(`larger than ${BODY_LIMIT} bytes`);

    // Chunked: no Content-Length, so the limit is enforced while reading.
    const chunked = await new Promise((resolve, reject) => {
      const req = http.request(`${svc.base}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        let text = '';
        res.on('data', (c) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode, connection: res.headers.connection, body: JSON.parse(text) }));
      });
      req.on('error', reject);
      req.write('{"item": "');
      for (let i = 0; i < 20; i++) req.write('y'.repeat(1024));
      req.end('", "qty": 1}');
    });
    expect(chunked).toMatchObject({ status: 413, connection: 'close' });
    expect(chunked.body.error).toContain('larger than');
    // A body just under the limit is fine.
    expect((await post({ item: 'z'.repeat(100), qty: 2 })).status).toBe(201);
  });

  it('answers HEAD like GET without a body', async () => {
    svc = await start();
    const r = await svc.request('/orders', { method: 'HEAD' });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('');
  });

  it('validateOrder returns the cleaned order', () => {
    expect(validateOrder('{"item": " mouse ", "qty": 4, "note": "ignored"}')).toEqual({ item: 'mouse', qty: 4 });
  });
});

describe('failure switch FAIL_RATE', () => {
  it('answers 500 for /orders requests when the random draw is below the rate, and counts them as 500', async () => {
    const draws = [0.1, 0.9, 0.29, 0.3];
    svc = await start({ FAIL_RATE: '0.3' }, { random: () => draws.shift() ?? 1 });
    const codes = [];
    for (let i = 0; i < 4; i++) codes.push((await svc.request('/orders')).status);
    expect(codes).toEqual([500, 200, 500, 200]);
    // Draws exhausted: 1 is never below 0.3.
    expect((await svc.request('/orders')).status).toBe(200);
    // Health, readiness and metrics never fail on purpose, and draw nothing.
    draws.push(0);
    expect((await svc.request('/healthz')).status).toBe(200);
    expect((await svc.request('/readyz')).status).toBe(200);
    expect(draws).toEqual([0]);
    const text = await (await svc.request('/metrics')).text();
    expect(text).toContain('http_requests_total{route="/orders",method="GET",code="500"} 2');
    expect(text).toContain('http_requests_total{route="/orders",method="GET",code="200"} 3');
  });

  it('fails every /orders request at FAIL_RATE=1 and none at 0', async () => {
    svc = await start({ FAIL_RATE: '1' }, { random: () => 0.999999 });
    const r = await post({ item: 'pen', qty: 1 });
    expect(r.status).toBe(500);
    expect((await r.json()).error).toBe('injected failure (FAIL_RATE=1)');
    expect((await svc.request('/orders/1')).status).toBe(500);
    await svc.stop();
    svc = await start({ FAIL_RATE: '0' }, { random: () => 0 });
    expect((await svc.request('/orders')).status).toBe(200);
  });
});
