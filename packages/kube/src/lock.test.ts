import { describe, expect, it } from 'vitest';
import type { KubeClient } from './client.ts';
import { ApiError } from './errors.ts';
import { claimedLease, DeployLock, holderIdentity, type Lease, LockTimeoutError, leaseNameFor, leaseState, microTime } from './lock.ts';

const T0 = Date.parse('2026-12-02T03:00:00.000Z');

describe('lease names', () => {
  it.each([
    ['orders', /^shipline-deploy-orders-[0-9a-f]{8}$/],
    ['My_Set.v2', /^shipline-deploy-my-set-v2-[0-9a-f]{8}$/],
    ['___', /^shipline-deploy-[0-9a-f]{8}$/],
  ])('%s → %s', (set, re) => {
    expect(leaseNameFor(set)).toMatch(re);
  });
  it('sets that read alike still get different leases', () => {
    expect(leaseNameFor('My.Set')).not.toBe(leaseNameFor('my-set'));
  });
  it('stays a DNS subdomain for the longest set', () => {
    const name = leaseNameFor('a'.repeat(63));
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  });
});

describe('holder identity', () => {
  it.each([
    [{ GITHUB_REPOSITORY: 'acme/shop', GITHUB_RUN_ID: '42', GITHUB_RUN_ATTEMPT: '2' }, 'https://github.com/acme/shop/actions/runs/42/attempts/2 (ci-1 pid 7)'],
    [{ GITHUB_SERVER_URL: 'https://ghe.local/', GITHUB_REPOSITORY: 'a/b', GITHUB_RUN_ID: '1' }, 'https://ghe.local/a/b/actions/runs/1 (ci-1 pid 7)'],
    [{ CI_JOB_URL: 'https://gitlab.local/a/b/-/jobs/9' }, 'https://gitlab.local/a/b/-/jobs/9 (ci-1 pid 7)'],
    [{}, 'ci-1 pid 7'],
  ])('%j', (env, want) => {
    expect(holderIdentity(env, 'ci-1', 7)).toBe(want);
  });
});

describe('lease state', () => {
  const lease = (spec: Lease['spec']): Lease => ({ metadata: { name: 'l' }, spec });
  it.each([
    ['no holder', lease({}), { kind: 'free' }],
    ['ours', lease({ holderIdentity: 'me', renewTime: microTime(T0), leaseDurationSeconds: 15 }), { kind: 'mine' }],
    [
      'renewed 5 s ago',
      lease({ holderIdentity: 'b', renewTime: microTime(T0 - 5000), leaseDurationSeconds: 15 }),
      { kind: 'held', holder: 'b', expiresInMs: 10_000 },
    ],
    ['renewed 15 s ago: expired', lease({ holderIdentity: 'b', renewTime: microTime(T0 - 15_000), leaseDurationSeconds: 15 }), { kind: 'free' }],
    [
      'acquired, never renewed',
      lease({ holderIdentity: 'b', acquireTime: microTime(T0 - 1000), leaseDurationSeconds: 15 }),
      { kind: 'held', holder: 'b', expiresInMs: 14_000 },
    ],
    ['no times at all', lease({ holderIdentity: 'b' }), { kind: 'free' }],
  ])('%s', (_name, l, want) => {
    expect(leaseState(l, 'me', T0)).toEqual(want);
  });
  it('MicroTime has six fractional digits', () => {
    expect(microTime(T0 + 123)).toBe('2026-12-02T03:00:00.123000Z');
  });
  it('taking over counts a transition and keeps the resourceVersion for the swap', () => {
    const prev: Lease = { metadata: { name: 'l', resourceVersion: '9' }, spec: { holderIdentity: 'b', leaseTransitions: 2, acquireTime: 'x' } };
    const l = claimedLease('ns', 'l', 'me', T0, prev);
    expect(l.metadata.resourceVersion).toBe('9');
    expect(l.spec).toMatchObject({ holderIdentity: 'me', leaseTransitions: 3, acquireTime: microTime(T0), renewTime: microTime(T0) });
    const renewed = claimedLease('ns', 'l', 'me', T0 + 5000, l);
    expect(renewed.spec).toMatchObject({ leaseTransitions: 3, acquireTime: microTime(T0), renewTime: microTime(T0 + 5000) });
  });
});

/** An API server holding leases, with the resourceVersion check the real one does. */
function leaseServer(now: () => number) {
  const leases = new Map<string, Lease>();
  let rv = 0;
  const calls: string[] = [];
  const conflict = (path: string, method: string) => new ApiError({ status: 409, reason: 'Conflict', message: 'conflict', method, path });
  const client = {
    request: async (method: string, path: string, opts: { body?: unknown } = {}) => {
      calls.push(method);
      const body = opts.body as Lease;
      const m = /namespaces\/([^/]+)\/leases(?:\/([^/]+))?$/.exec(path);
      const key = m?.[2] ?? body?.metadata?.name ?? '';
      const live = leases.get(key);
      if (method === 'GET') {
        if (!live) throw new ApiError({ status: 404, reason: 'NotFound', message: 'nf', method, path });
        return { status: 200, body: structuredClone(live) };
      }
      if (method === 'POST') {
        if (live) throw new ApiError({ status: 409, reason: 'AlreadyExists', message: 'exists', method, path });
      } else if (method === 'PUT') {
        if (!live || live.metadata.resourceVersion !== body.metadata.resourceVersion) throw conflict(path, method);
      } else if (method === 'DELETE') {
        const pre = (opts.body as { preconditions?: { resourceVersion?: string } }).preconditions;
        if (live && pre?.resourceVersion !== live.metadata.resourceVersion) throw conflict(path, method);
        leases.delete(key);
        return { status: 200, body: {} };
      }
      const stored: Lease = structuredClone({ ...body, metadata: { ...body.metadata, resourceVersion: String(++rv), uid: 'u1' } });
      leases.set(key, stored);
      return { status: 201, body: structuredClone(stored) };
    },
  };
  void now;
  return { client: client as unknown as KubeClient, leases, calls };
}

describe('DeployLock', () => {
  const log = () => {
    const lines: string[] = [];
    return { lines, info: (m: string) => lines.push(m), warning: (m: string) => lines.push(`warning: ${m}`) };
  };
  const base = { namespace: 'shop', set: 'orders', createNamespace: false, pollMs: 5 };

  it('the second run waits (one line naming the holder) and gets the lock once the first releases it', async () => {
    const s = leaseServer(Date.now);
    const la = log();
    const lb = log();
    const a = await DeployLock.acquire(s.client, { ...base, identity: 'run-a', timeoutMs: 5000, log: la });
    expect(a).toBeDefined();
    let bDone = false;
    const b = DeployLock.acquire(s.client, { ...base, identity: 'run-b', timeoutMs: 5000, log: lb }).then((l) => {
      bDone = true;
      return l;
    });
    await new Promise((r) => setTimeout(r, 60));
    expect(bDone).toBe(false);
    await a?.release();
    const held = await b;
    expect(held).toBeDefined();
    const waiting = lb.lines.filter((l) => l.startsWith('waiting for'));
    expect(waiting).toHaveLength(1);
    expect(waiting[0]).toMatch(new RegExp(`^waiting for run-a \\(lease shop/${leaseNameFor('orders')}, expires in 1[45] s\\)$`));
    expect([...s.leases.values()][0]?.spec?.holderIdentity).toBe('run-b');
    await held?.release();
    expect(s.leases.size).toBe(0);
  });

  it('times out naming the holder, and never takes a live lease', async () => {
    const s = leaseServer(Date.now);
    const a = await DeployLock.acquire(s.client, { ...base, identity: 'run-a', timeoutMs: 5000, log: log() });
    const err = await DeployLock.acquire(s.client, { ...base, identity: 'run-b', timeoutMs: 100, log: log() }).catch((e) => e);
    expect(err).toBeInstanceOf(LockTimeoutError);
    expect(err.holder).toBe('run-a');
    expect(err.message).toMatch(/held by run-a/);
    expect([...s.leases.values()][0]?.spec?.holderIdentity).toBe('run-a');
    await a?.release();
  });

  it('takes over an expired lease (a killed run) and says whose it was', async () => {
    const s = leaseServer(Date.now);
    s.leases.set(leaseNameFor('orders'), {
      metadata: { name: leaseNameFor('orders'), resourceVersion: '77' },
      spec: { holderIdentity: 'dead-run', renewTime: microTime(Date.now() - 20_000), leaseDurationSeconds: 15 },
    });
    const l = log();
    const held = await DeployLock.acquire(s.client, { ...base, identity: 'run-b', timeoutMs: 1000, log: l });
    expect(held).toBeDefined();
    expect(l.lines.join('\n')).toMatch(/expired, held by dead-run/);
    await held?.release();
  });

  it('a lease taken over behind its back is reported lost before prune', async () => {
    const s = leaseServer(Date.now);
    const held = await DeployLock.acquire(s.client, { ...base, identity: 'run-a', timeoutMs: 1000, log: log() });
    const name = leaseNameFor('orders');
    s.leases.set(name, { metadata: { name, resourceVersion: '999' }, spec: { holderIdentity: 'thief', renewTime: microTime(Date.now()) } });
    await expect(held?.assertHeld()).rejects.toThrow(/lost.*thief/);
    await held?.release();
    // Not ours any more: release leaves it.
    expect(s.leases.get(name)?.spec?.holderIdentity).toBe('thief');
  });

  it('no namespace and no create-namespace: no lock, the deploy reports the namespace', async () => {
    const s = leaseServer(Date.now);
    const client = {
      request: async (method: string, path: string) => {
        throw new ApiError({ status: 404, reason: 'NotFound', message: 'namespaces "shop" not found', method, path });
      },
    } as unknown as KubeClient;
    void s;
    expect(await DeployLock.acquire(client, { ...base, identity: 'a', timeoutMs: 1000, log: log() })).toBeUndefined();
  });
});
