// The engine's HTTP behaviour against a loopback server scripted per test (list, watch, a stream
// cut short, 410 Gone, a refused list, a grace that expires without events). The API semantics
// are tested on the stack (*.stack.test.ts); this pins the list/watch/relist machinery.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { KubeClient } from '../../client.ts';
import { Reason } from '../reasons.ts';
import type { Target } from '../types.ts';
import { verifyRollout } from './verify.ts';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => void;
let server: http.Server | undefined;
let client: KubeClient | undefined;
const open = new Set<http.ServerResponse>();
afterEach(async () => {
  client?.close();
  for (const r of open) r.destroy();
  open.clear();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

async function serve(routes: Record<string, Handler>): Promise<KubeClient> {
  server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const watch = url.searchParams.get('watch') === 'true';
    const key = `${watch ? 'WATCH' : req.method} ${url.pathname}`;
    const h = routes[key] ?? routes[`${watch ? 'WATCH' : 'GET'} *`];
    if (!h)
      return void res
        .writeHead(404, { 'content-type': 'application/json' })
        .end(JSON.stringify({ kind: 'Status', code: 404, reason: 'NotFound', message: key }));
    h(req, res, url);
  });
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
  const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  client = new KubeClient({ server: url, rejectUnauthorized: true, headers: {} }, { sleep: async () => {}, attempts: 2 });
  return client;
}

const json = (res: http.ServerResponse, body: unknown, status = 200) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
const list = (items: unknown[], rv: string) => ({ kind: 'List', metadata: { resourceVersion: rv }, items });
/** A watch that stays open, sending `events` first. */
const hold =
  (events: unknown[] = []): Handler =>
  (_req, res) => {
    open.add(res);
    res.writeHead(200, { 'content-type': 'application/json' });
    for (const e of events) res.write(`${JSON.stringify(e)}\n`);
  };
const discovery = {
  'GET /apis/apps/v1': (_q: http.IncomingMessage, res: http.ServerResponse) =>
    json(res, { resources: [{ name: 'deployments', namespaced: true, kind: 'Deployment', verbs: ['list', 'watch'] }] }),
};
const newReplicaSet = {
  apiVersion: 'apps/v1',
  kind: 'ReplicaSet',
  metadata: {
    name: 'web-2',
    namespace: 'shop',
    uid: 'rs2',
    annotations: { 'deployment.kubernetes.io/revision': '2' },
    ownerReferences: [{ kind: 'Deployment', name: 'web', uid: 'd1', controller: true }],
  },
};
const readyPod = (name: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'shop', uid: name, ownerReferences: [{ kind: 'ReplicaSet', name: 'web-2', uid: 'rs2', controller: true }] },
  spec: { containers: [{ name: 'app', readinessProbe: { httpGet: { path: '/', port: 8080 } } }] },
  status: { phase: 'Running', containerStatuses: [{ name: 'app', restartCount: 0, state: { running: { startedAt: new Date().toISOString() } } }] },
});
const empty: Record<string, Handler> = {
  'GET /apis/apps/v1/namespaces/shop/replicasets': (_q, res) => json(res, list([newReplicaSet], '1')),
  'WATCH /apis/apps/v1/namespaces/shop/replicasets': hold(),
  'GET /api/v1/namespaces/shop/pods': (_q, res) => json(res, list([readyPod('web-2-a'), readyPod('web-2-b')], '1')),
  'WATCH /api/v1/namespaces/shop/pods': hold(),
};

const deployment = (rv: string, status: Record<string, number>) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'shop', uid: 'd1', generation: 2, resourceVersion: rv, annotations: { 'deployment.kubernetes.io/revision': '2' } },
  spec: { replicas: 2 },
  status: { observedGeneration: 2, replicas: 2, ...status },
});
const target: Target = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web' };
const base = { timeoutMs: 10_000, imagePullGraceMs: 20_000, configGraceMs: 10_000, unschedulableGraceMs: 30_000, maxRestarts: 2, waitForLoadBalancer: false };

describe('verifyRollout', () => {
  test('re-lists after a cut stream and after 410 Gone, and decides only from fresh lists', async () => {
    let lists = 0;
    let watches = 0;
    const seenVersions: string[] = [];
    const c = await serve({
      ...discovery,
      ...empty,
      'GET /apis/apps/v1/namespaces/shop/deployments': (_q, res) => {
        lists++;
        if (lists === 1) return json(res, list([deployment('10', { updatedReplicas: 0 })], '10'));
        if (lists === 2) return json(res, list([deployment('20', { updatedReplicas: 2, availableReplicas: 1 })], '20'));
        return json(res, list([deployment('30', { updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 })], '30'));
      },
      'WATCH /apis/apps/v1/namespaces/shop/deployments': (req, res, url) => {
        watches++;
        seenVersions.push(url.searchParams.get('resourceVersion') ?? '');
        if (watches === 1) {
          // One event, then the connection dies mid-stream.
          res.writeHead(200, { 'content-type': 'application/json' });
          res.write(`${JSON.stringify({ type: 'MODIFIED', object: deployment('11', { updatedReplicas: 1 }) })}\n`);
          setTimeout(() => req.socket.destroy(), 20);
          return;
        }
        hold([{ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' } }])(req, res, url);
      },
    });
    const lines: string[] = [];
    const r = await verifyRollout(c, [target], { ...base, onProgress: (l) => lines.push(l), progressEveryMs: 0 });
    expect(r).toMatchObject({ status: 'success', reason: Reason.Current });
    expect(lists).toBe(3);
    expect(seenVersions).toEqual(['10', '20']);
    expect(lines).toEqual([
      'web: 0/2 updated, 0/2 ready, 0/2 available',
      'web: 1/2 updated, 0/2 ready, 0/2 available',
      'web: 2/2 updated, 0/2 ready, 1/2 available',
      'web: 2/2 updated, 2/2 ready, 2/2 available',
    ]);
  });

  test('a grace expires on the tick, without any further event', async () => {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web-x', namespace: 'shop', uid: 'p1', ownerReferences: [{ kind: 'ReplicaSet', name: 'web-2', uid: 'rs2', controller: true }] },
      status: {
        phase: 'Pending',
        containerStatuses: [{ name: 'app', restartCount: 0, state: { waiting: { reason: 'ErrImagePull', message: 'reg/web:nope: not found' } } }],
      },
    };
    const rs = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: 'web-2',
        namespace: 'shop',
        uid: 'rs2',
        annotations: { 'deployment.kubernetes.io/revision': '2' },
        ownerReferences: [{ kind: 'Deployment', name: 'web', uid: 'd1', controller: true }],
      },
    };
    const c = await serve({
      ...discovery,
      ...empty,
      'GET /apis/apps/v1/namespaces/shop/deployments': (_q, res) => json(res, list([deployment('10', { updatedReplicas: 1 })], '10')),
      'WATCH /apis/apps/v1/namespaces/shop/deployments': hold(),
      'GET /apis/apps/v1/namespaces/shop/replicasets': (_q, res) => json(res, list([rs], '1')),
      'GET /api/v1/namespaces/shop/pods': (_q, res) => json(res, list([pod], '1')),
    });
    const t0 = Date.now();
    const r = await verifyRollout(c, [target], { ...base, imagePullGraceMs: 400, tickMs: 50 });
    expect(r).toMatchObject({ status: 'failed', reason: Reason.ImageNotFound });
    expect(r.resources[0]?.pods?.[0]).toMatchObject({ pod: 'web-x', container: 'app', reason: Reason.ImageNotFound });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  test('timeout when nothing settles, naming what was waited for', async () => {
    const c = await serve({
      ...discovery,
      ...empty,
      'GET /apis/apps/v1/namespaces/shop/deployments': (_q, res) => json(res, list([deployment('10', { updatedReplicas: 1 })], '10')),
      'WATCH /apis/apps/v1/namespaces/shop/deployments': hold(),
    });
    const r = await verifyRollout(c, [target], { ...base, timeoutMs: 300 });
    expect(r).toMatchObject({ status: 'timeout', reason: Reason.Timeout });
    expect(r.message).toMatch(/Deployment shop\/web \(waiting: 1 of 2 new replicas updated\)/);
    expect(r.resources[0]?.state).toBe('in-progress');
  });

  test('a list that keeps failing is no verdict: timeout with the last error', async () => {
    const c = await serve({
      ...discovery,
      ...empty,
      'GET /apis/apps/v1/namespaces/shop/deployments': (_q, res) =>
        json(res, { kind: 'Status', code: 500, reason: 'InternalError', message: 'etcd is sad' }, 500),
    });
    const r = await verifyRollout(c, [target], { ...base, timeoutMs: 400 });
    expect(r.status).toBe('timeout');
    expect(r.resources[0]?.message).toMatch(/no complete view.*etcd is sad/);
  });

  test('a pods list refused (403) is a Forbidden verdict; an unknown kind is UnknownKind', async () => {
    const c = await serve({
      ...discovery,
      ...empty,
      'GET /apis/apps/v1/namespaces/shop/deployments': (_q, res) => json(res, list([deployment('10', { updatedReplicas: 1 })], '10')),
      'WATCH /apis/apps/v1/namespaces/shop/deployments': hold(),
      'GET /api/v1/namespaces/shop/pods': (_q, res) =>
        json(res, { kind: 'Status', code: 403, reason: 'Forbidden', message: 'pods is forbidden: User "ci" cannot list' }, 403),
      'GET /apis/example.com/v1': (_q, res) => json(res, { resources: [] }),
    });
    const r = await verifyRollout(c, [target, { apiVersion: 'example.com/v1', kind: 'Widget', namespace: 'shop', name: 'w' }], { ...base, failFast: false });
    expect(r.status).toBe('failed');
    expect(r.resources.map((v) => [v.ref, v.reason])).toEqual([
      ['Deployment shop/web', Reason.Forbidden],
      ['Widget shop/w', Reason.UnknownKind],
    ]);
    expect(r.resources[0]?.message).toMatch(/cannot list/);
  });

  test('an abort rejects with the signal’s reason and stops watching', async () => {
    const c = await serve({
      ...discovery,
      ...empty,
      'GET /apis/apps/v1/namespaces/shop/deployments': (_q, res) => json(res, list([deployment('10', { updatedReplicas: 1 })], '10')),
      'WATCH /apis/apps/v1/namespaces/shop/deployments': hold(),
    });
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('cancelled by SIGTERM')), 100);
    await expect(verifyRollout(c, [target], { ...base, signal: ac.signal })).rejects.toThrow('cancelled by SIGTERM');
  });

  test('a target named twice is verified once', async () => {
    const c = await serve({
      ...discovery,
      ...empty,
      'GET /apis/apps/v1/namespaces/shop/deployments': (_q, res) =>
        json(res, list([deployment('10', { updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 })], '10')),
      'WATCH /apis/apps/v1/namespaces/shop/deployments': hold(),
    });
    const r = await verifyRollout(c, [target, { ...target }], { ...base, timeoutMs: 5_000 });
    expect(r).toMatchObject({ status: 'success' });
    expect(r.resources).toHaveLength(1);
  });

  test('no targets: success at once', async () => {
    const c = await serve({});
    await expect(verifyRollout(c, [], base)).resolves.toMatchObject({ status: 'success', resources: [] });
  });
});
