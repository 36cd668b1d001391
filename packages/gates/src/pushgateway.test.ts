import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { secrets } from './kit.ts';
import {
  type DeliveryRecord,
  deliveryExposition,
  deliveryProblems,
  escapeLabelValue,
  groupingPath,
  groupingSegment,
  PushgatewayError,
  pushDelivery,
} from './pushgateway.ts';
import { closedPort } from './testing/fake-prometheus.ts';

const noWait = { sleep: async () => {}, random: () => 0 };
const DIGEST = `sha256:${'ab'.repeat(32)}`;
const record: DeliveryRecord = {
  service: 'order-service',
  environment: 'staging',
  digest: DIGEST,
  verdict: 'success',
  deployDurationSeconds: 42.5,
  timestampSeconds: 1_764_640_000,
};

interface Seen {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}
interface Answer {
  status?: number;
  body?: string;
  headers?: Record<string, string>;
  delayMs?: number;
}

/** A stand-in gateway on loopback that records each request (method, raw path, headers, body). */
async function gateway(answer: (n: number) => Answer = () => ({ status: 200 })) {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
      const a = answer(seen.length);
      const send = () => {
        res.writeHead(a.status ?? 200, { 'content-type': 'text/plain', connection: 'close', ...a.headers });
        res.end(a.body ?? '');
      };
      if (a.delayMs) setTimeout(send, a.delayMs).unref();
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  closers.push(close);
  return { url: `http://127.0.0.1:${port}`, port, seen };
}
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

async function pushError(p: Promise<unknown>): Promise<PushgatewayError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PushgatewayError);
  return err as PushgatewayError;
}

describe('grouping key', () => {
  it.each([
    ['service', 'order-service', 'service/order-service'],
    ['environment', 'eu west', 'environment/eu%20west'],
    ['environment', '100%', 'environment/100%25'],
    ['environment', 'prod/eu', 'environment@base64/cHJvZC9ldQ'],
    ['environment', '', 'environment@base64/='],
    ['service', '..', 'service@base64/Li4'],
    ['service', '.', 'service@base64/Lg'],
  ])('%s=%j → %s', (name, value, want) => expect(groupingSegment(name, value)).toBe(want));

  it('is one group per service and environment under job "shipline"', () => {
    expect(groupingPath('order-service', 'prod/eu')).toBe('/metrics/job/shipline/service/order-service/environment@base64/cHJvZC9ldQ');
  });
});

describe('exposition', () => {
  it('is the text format with HELP/TYPE, the verdict as 0/1 per verdict label, no time to restore unless set', () => {
    expect(deliveryExposition(record)).toBe(
      [
        '# HELP shipline_deploy_verdict Verdict of the last delivery of this service to this environment: 1 on its verdict label, 0 on the other two.',
        '# TYPE shipline_deploy_verdict gauge',
        `shipline_deploy_verdict{digest="${DIGEST}",verdict="success"} 1`,
        `shipline_deploy_verdict{digest="${DIGEST}",verdict="failed"} 0`,
        `shipline_deploy_verdict{digest="${DIGEST}",verdict="rolled_back"} 0`,
        '# HELP shipline_deploy_duration_seconds Seconds from deploy start to the verdict of the last delivery.',
        '# TYPE shipline_deploy_duration_seconds gauge',
        `shipline_deploy_duration_seconds{digest="${DIGEST}",verdict="success"} 42.5`,
        '# HELP shipline_deploy_timestamp_seconds When the verdict of the last delivery fell (Unix seconds); each delivery changes it, so changes() counts deliveries.',
        '# TYPE shipline_deploy_timestamp_seconds gauge',
        `shipline_deploy_timestamp_seconds{digest="${DIGEST}",verdict="success"} 1764640000`,
        '',
      ].join('\n'),
    );
  });

  it('adds the time to restore of a rollback, and an unknown digest is an empty label', () => {
    const text = deliveryExposition({ ...record, digest: '', verdict: 'rolled_back', timeToRestoreSeconds: 97.25, timestampSeconds: 1_764_640_000.125 });
    expect(text).toContain('# TYPE shipline_time_to_restore_seconds gauge\nshipline_time_to_restore_seconds{digest="",verdict="rolled_back"} 97.25\n');
    expect(text).toContain('shipline_deploy_verdict{digest="",verdict="rolled_back"} 1\n');
    expect(text).toContain('shipline_deploy_verdict{digest="",verdict="success"} 0\n');
    expect(text).toContain('shipline_deploy_timestamp_seconds{digest="",verdict="rolled_back"} 1764640000.125\n');
  });

  it.each([
    ['a"b', 'a\\"b'],
    ['a\\b', 'a\\\\b'],
    ['a\nb', 'a\\nb'],
  ])('escapes label value %j', (v, want) => expect(escapeLabelValue(v)).toBe(want));
});

describe('deliveryProblems', () => {
  it('accepts a complete record', () => expect(deliveryProblems(record)).toEqual([]));
  it.each<[Partial<DeliveryRecord>, string]>([
    [{ service: '' }, 'service is empty'],
    [{ environment: ' ' }, 'environment is empty'],
    [{ digest: 'latest' }, 'digest "latest" is not algorithm:hex'],
    [{ verdict: 'passed' as never }, 'verdict "passed" is not one of success, failed, rolled_back'],
    [{ deployDurationSeconds: -1 }, 'deployDurationSeconds must be a finite number >= 0, not -1'],
    [{ deployDurationSeconds: Number.NaN }, 'deployDurationSeconds must be a finite number >= 0, not NaN'],
    [{ timeToRestoreSeconds: Number.POSITIVE_INFINITY }, 'timeToRestoreSeconds must be a finite number >= 0, not Infinity'],
    [{ timestampSeconds: 0 }, 'timestampSeconds must be a finite number > 0, not 0'],
  ])('%j → %s', (change, want) => expect(deliveryProblems({ ...record, ...change }).join('; ')).toContain(want));
});

describe('pushDelivery', () => {
  it('PUTs the exposition to the group of the service and environment', async () => {
    const gw = await gateway();
    await pushDelivery(new URL(`${gw.url}/`), record, { retry: noWait });
    expect(gw.seen).toHaveLength(1);
    expect(gw.seen[0]).toMatchObject({
      method: 'PUT',
      path: '/metrics/job/shipline/service/order-service/environment/staging',
      body: deliveryExposition(record),
    });
    expect(gw.seen[0]?.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(gw.seen[0]?.headers.authorization).toBeUndefined();
  });

  it('keeps a path prefix (a gateway behind /pushgateway/)', async () => {
    const gw = await gateway();
    await pushDelivery(`${gw.url}/pushgateway/`, { ...record, environment: 'prod/eu' }, { retry: noWait });
    expect(gw.seen[0]?.path).toBe('/pushgateway/metrics/job/shipline/service/order-service/environment@base64/cHJvZC9ldQ');
  });

  it('sends URL userinfo as basic auth, masks the password and never shows it', async () => {
    const gw = await gateway(() => ({ status: 401, body: 'unauthorized' }));
    const err = await pushError(pushDelivery(`http://ci:s3cret-pw-77@127.0.0.1:${gw.port}`, record, { retry: noWait }));
    expect(gw.seen[0]?.headers.authorization).toBe(`Basic ${Buffer.from('ci:s3cret-pw-77').toString('base64')}`);
    expect(err.kind).toBe('http');
    expect(err.status).toBe(401);
    expect(err.message).toBe(
      `the Pushgateway at http://127.0.0.1:${gw.port}/metrics/job/shipline/service/order-service/environment/staging answered HTTP 401: unauthorized — check the Pushgateway credentials`,
    );
    expect(secrets.values).toContain('s3cret-pw-77');
    // The user name of a user:password pair is a name, not masked.
    expect(secrets.values).not.toContain('ci');
  });

  it('sends a bearer token given as auth, and masks it', async () => {
    const gw = await gateway();
    await pushDelivery(gw.url, record, { auth: { bearer: 'tok-abcdef-123' }, retry: noWait });
    expect(gw.seen[0]?.headers.authorization).toBe('Bearer tok-abcdef-123');
    expect(secrets.values).toContain('tok-abcdef-123');
  });

  it('retries 503 and a 429 with Retry-After, then succeeds', async () => {
    const waits: number[] = [];
    const gw = await gateway((n) => (n === 1 ? { status: 503 } : n === 2 ? { status: 429, headers: { 'retry-after': '2' } } : { status: 200 }));
    await pushDelivery(gw.url, record, { retry: { ...noWait, sleep: async (ms) => void waits.push(ms) } });
    expect(gw.seen.map((s) => s.method)).toEqual(['PUT', 'PUT', 'PUT']);
    expect(gw.seen.every((s) => s.body === deliveryExposition(record))).toBe(true);
    expect(waits).toEqual([0, 2000]);
  });

  it('gives up after the retries on 5xx, naming the endpoint and the status', async () => {
    const gw = await gateway(() => ({ status: 502, body: 'bad gateway' }));
    const err = await pushError(pushDelivery(gw.url, record, { retry: { ...noWait, retries: 2 } }));
    expect(gw.seen).toHaveLength(3);
    expect(err).toMatchObject({ kind: 'http', status: 502 });
    expect(err.message).toContain('answered HTTP 502: bad gateway');
  });

  it('fails a 400 at once, its body made untrusted (masked, inert, one line)', async () => {
    secrets.add('reflected-gw-secret');
    const gw = await gateway(() => ({
      status: 400,
      body: '::error::pushed metrics are invalid or inconsistent with existing metrics: reflected-gw-secret\nsecond line',
    }));
    const err = await pushError(pushDelivery(gw.url, record, { retry: noWait }));
    expect(gw.seen).toHaveLength(1);
    expect(err.kind).toBe('http');
    expect(err.message).not.toContain('reflected-gw-secret');
    expect(err.message).not.toMatch(/^::|\n/);
    expect(err.message).toContain(':\u200b:error::pushed metrics are invalid or inconsistent with existing metrics: *** second line');
    expect(err.message).toMatch(/different type or help$/);
  });

  it('a redirect is not followed (credentials stay with the origin)', async () => {
    const target = await gateway();
    const gw = await gateway(() => ({ status: 307, headers: { location: `${target.url}/metrics` } }));
    const err = await pushError(pushDelivery(`http://u:redirect-pw-9@127.0.0.1:${gw.port}`, record, { retry: noWait }));
    expect(target.seen).toHaveLength(0);
    expect(err).toMatchObject({ kind: 'http', status: 307 });
  });

  it('an unreachable gateway is an "unreachable" error after the retries', async () => {
    const port = await closedPort();
    const err = await pushError(pushDelivery(`http://127.0.0.1:${port}`, record, { retry: { ...noWait, retries: 1 } }));
    expect(err.kind).toBe('unreachable');
    expect(err.message).toBe(
      `the Pushgateway at http://127.0.0.1:${port}/metrics/job/shipline/service/order-service/environment/staging did not answer (connection refused, ECONNREFUSED) after 2 attempt(s)`,
    );
  });

  it('puts a time limit on every attempt', async () => {
    const gw = await gateway((n) => (n === 1 ? { status: 200, delayMs: 2_000 } : { status: 200 }));
    await pushDelivery(gw.url, record, { timeoutMs: 200, retry: noWait });
    expect(gw.seen).toHaveLength(2);
    const slow = await gateway(() => ({ status: 200, delayMs: 2_000 }));
    const err = await pushError(pushDelivery(slow.url, record, { timeoutMs: 100, retry: { ...noWait, retries: 1 } }));
    expect(err.message).toContain('did not answer (no answer within 100 ms) after 2 attempt(s)');
  });

  it('a record that cannot be pushed never reaches the network', async () => {
    const gw = await gateway();
    const err = await pushError(pushDelivery(gw.url, { ...record, service: '', deployDurationSeconds: -3 }, { retry: noWait }));
    expect(err.kind).toBe('input');
    expect(err.message).toBe('delivery metrics not pushed: service is empty; deployDurationSeconds must be a finite number >= 0, not -3');
    expect(gw.seen).toHaveLength(0);
  });

  it.each([
    ['not a url', 'the Pushgateway URL "not a url" is not a URL'],
    ['ftp://127.0.0.1/', 'the Pushgateway URL must be http:// or https://, not ftp:'],
  ])('refuses URL %j', async (url, want) => {
    const err = await pushError(pushDelivery(url, record, { retry: noWait }));
    expect(err).toMatchObject({ kind: 'input', message: want });
  });

  it('a malformed URL with a password is shown redacted', async () => {
    const err = await pushError(pushDelivery('http://u:pw-in-bad-url@[bad', record, { retry: noWait }));
    expect(err.message).not.toContain('pw-in-bad-url');
    expect(err.message).toContain('***');
  });
});
