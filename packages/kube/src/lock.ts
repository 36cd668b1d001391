// The deploy lock: one coordination.k8s.io/v1 Lease per set and namespace, so two pipelines that
// deploy the same set with prune at once take turns. Without it, run A applies {x, a}, run B applies
// {x, b}, then each prunes what the other just applied and both end with {x} only.
//
// The lease follows Kubernetes' own leader-election record (holderIdentity, leaseDurationSeconds,
// acquireTime, renewTime, leaseTransitions): taken with create-or-update under the object's
// resourceVersion (the API server's compare-and-swap), renewed while the deploy runs, taken over
// only once its holder stopped renewing for a whole lease duration, deleted at the end. Expiry is
// judged on the holder's renewTime against this machine's clock: CI runners keep NTP time, and it
// lets the re-run of a killed job go on after at most one lease duration rather than another one.

import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { sleep } from '@shipline/kit/retry';
import type { KubeClient } from './client.ts';
import { ApiError, KubeError } from './errors.ts';

/** How long a lease stays valid without renewal (as client-go's leader election: 15 s). */
export const LOCK_LEASE_SECONDS = 15;
const LEASES = '/apis/coordination.k8s.io/v1/namespaces';

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; uid?: string; labels?: Record<string, string> };
  spec?: LeaseSpec;
}

/** What a lease found on the server means for a run that wants it. */
export type LeaseState = { kind: 'free' } | { kind: 'mine' } | { kind: 'held'; holder: string; expiresInMs: number };

/**
 * The lease's name for a set, at most 63 characters: readable (a DNS label from the set) and exact (a hash of the set
 * itself, since `My.Set` and `my-set` must not share a lock).
 */
export function leaseNameFor(set: string): string {
  const readable = set
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .slice(0, 38)
    .replace(/^-+|-+$/g, '');
  const hash = createHash('sha256').update(set).digest('hex').slice(0, 8);
  return `shipline-deploy-${readable ? `${readable}-` : ''}${hash}`;
}

/**
 * Who holds the lock, as a person reading "waiting for …" wants it: the CI run's URL when the
 * runner says it, plus host and pid, which keep two jobs of one run (a matrix) apart.
 */
export function holderIdentity(env: Readonly<Record<string, string | undefined>>, host: string = hostname(), pid: number = process.pid): string {
  let run: string | undefined;
  if (env.GITHUB_REPOSITORY && env.GITHUB_RUN_ID) {
    const server = (env.GITHUB_SERVER_URL ?? 'https://github.com').replace(/\/$/, '');
    run = `${server}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}${env.GITHUB_RUN_ATTEMPT ? `/attempts/${env.GITHUB_RUN_ATTEMPT}` : ''}`;
  } else if (env.CI_JOB_URL) run = env.CI_JOB_URL;
  const local = `${host} pid ${pid}`;
  return run ? `${run} (${local})` : local;
}

/** Kubernetes MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** Free (no holder, or its holder stopped renewing a lease duration ago), ours, or held. */
export function leaseState(lease: Lease, me: string, nowMs: number): LeaseState {
  const spec = lease.spec ?? {};
  const holder = spec.holderIdentity ?? '';
  if (!holder) return { kind: 'free' };
  if (holder === me) return { kind: 'mine' };
  const renewed = Date.parse(spec.renewTime ?? spec.acquireTime ?? '');
  const durationMs = (spec.leaseDurationSeconds ?? LOCK_LEASE_SECONDS) * 1000;
  if (!Number.isFinite(renewed)) return { kind: 'free' };
  const expiresInMs = renewed + durationMs - nowMs;
  return expiresInMs <= 0 ? { kind: 'free' } : { kind: 'held', holder, expiresInMs };
}

/** The lease this run writes to take (or keep) the lock. */
export function claimedLease(namespace: string, name: string, me: string, nowMs: number, previous?: Lease): Lease {
  const spec = previous?.spec ?? {};
  const keeping = spec.holderIdentity === me;
  const now = microTime(nowMs);
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name,
      namespace,
      labels: { 'app.kubernetes.io/managed-by': 'shipline' },
      ...(previous?.metadata.resourceVersion ? { resourceVersion: previous.metadata.resourceVersion } : {}),
    },
    spec: {
      holderIdentity: me,
      leaseDurationSeconds: previous && keeping ? (spec.leaseDurationSeconds ?? LOCK_LEASE_SECONDS) : LOCK_LEASE_SECONDS,
      acquireTime: keeping && spec.acquireTime ? spec.acquireTime : now,
      renewTime: now,
      leaseTransitions: (spec.leaseTransitions ?? 0) + (previous && !keeping && spec.holderIdentity ? 1 : 0),
    },
  };
}

/** The lock was not free before the timeout. */
export class LockTimeoutError extends KubeError {
  readonly holder: string;
  readonly lease: string;
  readonly waitedMs: number;
  constructor(holder: string, lease: string, waitedMs: number, expiresInMs: number) {
    super(
      `deploy lock not acquired within ${Math.round(waitedMs / 1000)} s: lease ${lease} is held by ${holder} (expires in ${Math.ceil(expiresInMs / 1000)} s unless renewed)`,
      'another deploy of this set is running; wait for it, or allow a longer wait for the lock',
    );
    this.name = 'LockTimeoutError';
    this.holder = holder;
    this.lease = lease;
    this.waitedMs = waitedMs;
  }
}

/** Another run took the lease over while this one held it (this one stopped renewing in time). */
export class LockLostError extends KubeError {
  readonly lease: string;
  constructor(lease: string, holder: string) {
    super(
      `deploy lock lost: lease ${lease} is now held by ${holder || 'nobody'}; nothing was pruned`,
      'this run could not renew its lease in time (a stalled runner or an unreachable API server); re-run the deploy',
    );
    this.name = 'LockLostError';
    this.lease = lease;
  }
}

export interface LockOptions {
  namespace: string;
  set: string;
  /** Who this run is (holderIdentity). */
  identity: string;
  timeoutMs: number;
  /** Create the namespace when it is missing (`create-namespace`): the lease must live somewhere. */
  createNamespace: boolean;
  log: { info(message: string): void; warning(message: string): void };
  signal?: AbortSignal | undefined;
  /** Tests: the clock and the pause between looks. */
  now?: () => number;
  pollMs?: number;
}

/** A held deploy lock: renewed in the background until released. */
export class DeployLock {
  readonly lease: string;
  private current: Lease;
  private lostTo: string | undefined;
  private renewing: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;
  private released = false;

  private readonly client: KubeClient;
  private readonly opts: LockOptions;

  private constructor(client: KubeClient, opts: LockOptions, lease: Lease) {
    this.client = client;
    this.opts = opts;
    this.current = lease;
    this.lease = `${opts.namespace}/${lease.metadata.name}`;
    const every = ((lease.spec?.leaseDurationSeconds ?? LOCK_LEASE_SECONDS) * 1000) / 3;
    this.timer = setInterval(() => {
      this.renewing = this.renewing.then(() => this.renew());
    }, every);
    // The deploy keeps the process alive; a forgotten lock must not.
    this.timer.unref();
  }

  /**
   * Waits until the set's lease is free (or expired) and takes it. Undefined when the namespace does
   * not exist and may not be created: the deploy then fails on that with its own error.
   */
  static async acquire(client: KubeClient, opts: LockOptions): Promise<DeployLock | undefined> {
    const now = opts.now ?? Date.now;
    const name = leaseNameFor(opts.set);
    const ns = encodeURIComponent(opts.namespace);
    const started = now();
    let shown = '';
    for (;;) {
      opts.signal?.throwIfAborted();
      const live = await getLease(client, opts.namespace, name);
      const state = live ? leaseState(live, opts.identity, now()) : ({ kind: 'free' } as const);
      if (state.kind !== 'held') {
        try {
          const body = claimedLease(opts.namespace, name, opts.identity, now(), live);
          const res = live
            ? await client.request<Lease>('PUT', `${LEASES}/${ns}/leases/${encodeURIComponent(name)}`, { body })
            : await client.request<Lease>('POST', `${LEASES}/${ns}/leases`, { body });
          opts.log.info(
            `deploy lock: lease ${opts.namespace}/${name} taken${live?.spec?.holderIdentity && state.kind === 'free' ? ` (expired, held by ${live.spec.holderIdentity})` : ''}`,
          );
          return new DeployLock(client, opts, res.body);
        } catch (e) {
          // Conflict: another run wrote the lease between our read and our write; look again.
          if (e instanceof ApiError && (e.status === 409 || e.reason === 'AlreadyExists')) continue;
          if (e instanceof ApiError && e.status === 404 && !live) {
            if (!opts.createNamespace) {
              opts.log.info(`deploy lock: namespace ${opts.namespace} does not exist; no lock taken`);
              return undefined;
            }
            await createNamespace(client, opts.namespace);
            continue;
          }
          throw e;
        }
      }
      const waited = now() - started;
      if (waited >= opts.timeoutMs) throw new LockTimeoutError(state.holder, `${opts.namespace}/${name}`, waited, state.expiresInMs);
      if (shown !== state.holder) {
        shown = state.holder;
        opts.log.info(`waiting for ${state.holder} (lease ${opts.namespace}/${name}, expires in ${Math.ceil(state.expiresInMs / 1000)} s)`);
      }
      // Jittered, so two waiters do not knock in step; never past the expiry or the timeout.
      const pause = Math.min((opts.pollMs ?? 1000) * (0.5 + Math.random()), state.expiresInMs + 50, opts.timeoutMs - waited + 10);
      await sleep(Math.max(10, pause));
    }
  }

  /** Before prune: renews now, and throws LockLostError when another run holds the lease. */
  async assertHeld(): Promise<void> {
    this.renewing = this.renewing.then(() => this.renew());
    await this.renewing;
    if (this.lostTo !== undefined) throw new LockLostError(this.lease, this.lostTo);
  }

  private async renew(): Promise<void> {
    if (this.released || this.lostTo !== undefined) return;
    const { namespace } = this.opts;
    const name = this.current.metadata.name;
    try {
      const body = claimedLease(namespace, name, this.opts.identity, (this.opts.now ?? Date.now)(), this.current);
      this.current = (await this.client.request<Lease>('PUT', `${LEASES}/${encodeURIComponent(namespace)}/leases/${encodeURIComponent(name)}`, { body })).body;
    } catch (e) {
      if (e instanceof ApiError && (e.status === 409 || e.status === 404)) {
        const live = await getLease(this.client, namespace, name).catch(() => undefined);
        if (live?.spec?.holderIdentity === this.opts.identity) {
          this.current = live;
          return;
        }
        this.lostTo = live?.spec?.holderIdentity ?? '';
        this.opts.log.warning(`deploy lock: lease ${this.lease} was taken over by ${this.lostTo || 'nobody'}`);
        return;
      }
      // A missed renewal is not yet a lost lock: the next one (a third of the duration later) may pass.
      this.opts.log.warning(`deploy lock: renewing lease ${this.lease} failed (${e instanceof Error ? e.message : String(e)}); retrying`);
    }
  }

  /** Ends renewal and deletes the lease, if it is still ours. Never throws: an unreleased lease expires. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    await this.renewing.catch(() => {});
    if (this.lostTo !== undefined) return;
    const { namespace } = this.opts;
    const name = this.current.metadata.name;
    try {
      await this.client.request('DELETE', `${LEASES}/${encodeURIComponent(namespace)}/leases/${encodeURIComponent(name)}`, {
        // Only our version of it: a lease another run has since taken stays.
        body: {
          kind: 'DeleteOptions',
          apiVersion: 'v1',
          preconditions: { uid: this.current.metadata.uid, resourceVersion: this.current.metadata.resourceVersion },
        },
      });
    } catch (e) {
      if (e instanceof ApiError && (e.status === 404 || e.status === 409)) return;
      this.opts.log.warning(
        `deploy lock: releasing lease ${this.lease} failed (${e instanceof Error ? e.message : String(e)}); it expires in ${LOCK_LEASE_SECONDS} s`,
      );
    }
  }
}

async function getLease(client: KubeClient, namespace: string, name: string): Promise<Lease | undefined> {
  try {
    return (await client.request<Lease>('GET', `${LEASES}/${encodeURIComponent(namespace)}/leases/${encodeURIComponent(name)}`)).body;
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return undefined;
    throw e;
  }
}

async function createNamespace(client: KubeClient, namespace: string): Promise<void> {
  try {
    await client.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } } });
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 409)) throw e;
  }
}
