import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { deferred, start } from './helpers.js';

let svc;
afterEach(async () => {
  await svc?.stop();
  svc = undefined;
});

const status = async (path) => {
  const r = await svc.request(path);
  return { code: r.status, body: await r.json() };
};

/** A POST whose body is held back until `finish` is called: an in-flight request. */
function slowPost(base) {
  let req;
  const response = new Promise((resolve, reject) => {
    req = http.request(`${base}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c) => {
        text += c;
      });
      res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.flushHeaders();
    req.write('{"item": "slow",');
  });
  return { response, finish: () => req.end(' "qty": 2}') };
}

describe('liveness and readiness', () => {
  it('is live at once but ready only when the warm-up is done', async () => {
    const warm = deferred();
    svc = await start({ APP_VERSION: 'v9' }, { warmUp: () => warm.promise });
    expect(await status('/healthz')).toEqual({ code: 200, body: { status: 'ok', version: 'v9' } });
    expect(await status('/readyz')).toEqual({ code: 503, body: { status: 'starting', version: 'v9' } });
    // The API itself serves during warm-up; readiness only keeps traffic away from the pod.
    expect((await svc.request('/orders')).status).toBe(200);
    warm.resolve();
    await svc.service.warmedUp;
    expect(await status('/readyz')).toEqual({ code: 200, body: { status: 'ready', version: 'v9' } });
    expect(svc.logs.map((l) => l.msg)).toContain('ready');
  });

  it('waits READY_DELAY_MS by default', async () => {
    svc = await start({ READY_DELAY_MS: '300' }, { warmUp: undefined });
    const t0 = performance.now();
    expect((await status('/readyz')).code).toBe(503);
    await svc.service.warmedUp;
    expect(performance.now() - t0).toBeGreaterThanOrEqual(250);
    expect((await status('/readyz')).code).toBe(200);
  });
});

describe('graceful shutdown', () => {
  it('stops being ready, keeps serving during SHUTDOWN_DELAY_MS, finishes in-flight requests, then closes', async () => {
    svc = await start({ SHUTDOWN_DELAY_MS: '400' });
    expect((await status('/readyz')).code).toBe(200);
    const inflight = slowPost(svc.base);
    await new Promise((r) => setTimeout(r, 50)); // the request has reached the server

    const stopped = svc.service.shutdown('SIGTERM');
    const draining = await svc.request('/readyz');
    expect(draining.status).toBe(503);
    expect(draining.headers.get('connection')).toBe('close');
    expect(await draining.json()).toEqual({ status: 'draining', version: 'dev' });
    expect((await svc.request('/orders')).status).toBe(200);

    let done = false;
    stopped.then(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 600)); // past the delay: the listener is closed ...
    expect(done).toBe(false); // ... but the in-flight request holds the shutdown
    await expect(svc.request('/healthz')).rejects.toThrow();

    const finished = performance.now();
    inflight.finish();
    expect(await inflight.response).toMatchObject({ status: 201, body: { order: { item: 'slow', qty: 2 } } });
    expect(await stopped).toBe(true);
    // Its keep-alive connection was closed with the response, not left to time out (5 s).
    expect(performance.now() - finished).toBeLessThan(1000);
    expect(svc.logs.find((l) => l.msg === 'stopped')).toMatchObject({ reason: 'SIGTERM', graceful: true });
    expect(svc.service.server.listening).toBe(false);
  });

  it('closes requests still in flight after SHUTDOWN_TIMEOUT_MS and says so', async () => {
    svc = await start({ SHUTDOWN_TIMEOUT_MS: '200' });
    const inflight = slowPost(svc.base);
    await new Promise((r) => setTimeout(r, 50));
    const t0 = performance.now();
    expect(await svc.service.shutdown('SIGTERM')).toBe(false);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(150);
    await expect(inflight.response).rejects.toThrow();
    expect(svc.logs.find((l) => l.level === 'warn')?.msg).toContain('did not finish in time');
  });

  it('a draining service is never ready again, even when its warm-up ends later', async () => {
    const warm = deferred();
    svc = await start({ SHUTDOWN_DELAY_MS: '300' }, { warmUp: () => warm.promise });
    const stopped = svc.service.shutdown('SIGTERM');
    warm.resolve();
    await svc.service.warmedUp;
    expect((await status('/readyz')).body.status).toBe('draining');
    await stopped;
  });
});
