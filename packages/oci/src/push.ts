import { Pool, PoolStoppedError } from '@shipline/kit/pool';
import { RegistryAuth } from './auth.ts';
import { RegistryClient } from './client.ts';
import { type CredentialSource, createCredentialSource } from './docker-config.ts';
import { OciError } from './errors.ts';
import { type ImageReference, parseReference, repositoryName } from './reference.ts';
import { type BackoffOptions, type RetryInfo, withRetry } from './retrying-transport.ts';
import type { Blob, ImageManifests, ImageSource } from './source.ts';
import { createNodeTransport, type Transport } from './transport.ts';

/**
 * New upload sessions one blob may open after the registry lost its session. Each lost session
 * already spent its own requests' retries; a registry that keeps losing them is broken.
 */
const MAX_SESSION_RESTARTS = 3;

export type BlobState = 'checking' | 'exists' | 'mounted' | 'uploading' | 'uploaded';

export interface BlobProgress {
  /** `registry/repository` */
  destination: string;
  digest: string;
  mediaType: string;
  size: number;
  state: BlobState;
  /** Bytes sent so far for this blob to this destination (counts resent bytes on retries). */
  pushedBytes: number;
}

export interface PushOptions {
  source: ImageSource;
  /** Image references to push to (`registry/repo:tag`); all validated before any network call. */
  destinations: string[];
  /** Parallel blob uploads per registry. Default 4. */
  concurrency?: number;
  /** Registries (host[:port]) allowed over plain HTTP / without TLS verification, besides loopback. */
  insecure?: string[];
  /** PEM file with extra CAs for registries with their own CA. */
  caFile?: string;
  /** Default: explicit none, docker's config.json. */
  credentials?: CredentialSource;
  /** Called with each password/token before use, so the caller can mask it. */
  onSecret?: (secret: string) => void;
  onProgress?: (event: BlobProgress) => void;
  onRetry?: (info: RetryInfo) => void;
  /** One line per notable step, for the log. */
  log?: (line: string) => void;
  /** Replaces the node http(s) transport (retries are still added around it). */
  transport?: Transport;
  backoff?: BackoffOptions;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  /** Blobs above this go in PATCH chunks of this size. Default 64 MiB. */
  chunkSize?: number;
  /** Per-request socket inactivity timeout. Default 60 s. */
  timeoutMs?: number;
  /** Proxy variables (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), usually the process environment. */
  proxyEnv?: Readonly<Record<string, string | undefined>>;
}

export interface PushResult {
  /** Digest of the root manifest/index, as the registries stored it. */
  digest: string;
  mediaType: string;
  /** Every `registry/repo:tag@sha256:…` pushed. */
  refs: string[];
  /** Blob bytes uploaded over all destinations (0 when every blob was present). */
  pushedBytes: number;
  /** Blob uploads avoided: already present or mounted from another repository. */
  reusedBlobs: number;
  uploadedBlobs: number;
  durationMs: number;
  /** The image config digest (docker's image ID) for single-platform images. */
  configDigest?: string;
}

/** One repository to push to, with every tag (and expected digest) asked for it. */
export interface PushTarget {
  registry: string;
  repository: string;
  name: string;
  tags: string[];
  digests: string[];
}

/** Validate and group destinations by repository; throws before any network call. */
export function planDestinations(destinations: string[]): PushTarget[] {
  if (destinations.length === 0) throw new OciError('no destination to push to', 'give at least one image reference such as 127.0.0.1:5000/team/app:1.0');
  const targets = new Map<string, PushTarget>();
  const refs: ImageReference[] = destinations.map((d) => parseReference(d));
  for (const ref of refs) {
    const name = repositoryName(ref);
    let t = targets.get(name);
    if (!t) {
      t = { registry: ref.registry, repository: ref.repository, name, tags: [], digests: [] };
      targets.set(name, t);
    }
    if (ref.tag !== undefined && !t.tags.includes(ref.tag)) t.tags.push(ref.tag);
    if (ref.digest !== undefined && !t.digests.includes(ref.digest)) t.digests.push(ref.digest);
  }
  return [...targets.values()];
}

/**
 * Deduplication by digest within a registry: the first repository to take a blob uploads it;
 * every other repository of that registry waits for that upload and then mounts the blob from it
 * (a cross-repository mount costs one request instead of the bytes).
 */
export class BlobDedup {
  private readonly holders = new Map<string, { repository: string; done: Promise<boolean> }>();

  /**
   * `owner`: this repository uploads the blob and must `settle` whether it got there.
   * `follower`: `from` is getting it; `done` says whether it did.
   */
  claim(
    registry: string,
    digest: string,
    repository: string,
  ): { role: 'owner'; settle: (ok: boolean) => void } | { role: 'follower'; from: string; done: Promise<boolean> } {
    const key = `${registry}\n${digest}`;
    const holder = this.holders.get(key);
    if (holder) return { role: 'follower', from: holder.repository, done: holder.done };
    let settle: (ok: boolean) => void = () => {};
    const done = new Promise<boolean>((r) => {
      settle = r;
    });
    this.holders.set(key, { repository, done });
    return { role: 'owner', settle };
  }
}

/** What the push did, for the result. */
interface Tally {
  pushedBytes: number;
  reusedBlobs: number;
  uploadedBlobs: number;
}

/**
 * One push of one image to several destinations. Blobs go through the distribution API's upload
 * protocol as named steps — check for the existing blob, mount it from a sibling repository,
 * initiate an upload, stream and commit the bytes — at most `concurrency` at a time per registry,
 * each blob once per registry (BlobDedup). Manifests go only after every blob is confirmed,
 * children before the index.
 */
export class ImagePush {
  private readonly options: PushOptions;
  private readonly now: () => number;
  private readonly log: (line: string) => void;
  private readonly targets: PushTarget[];
  private readonly clients = new Map<string, RegistryClient>();
  /** Per registry; stops starting blob work there after the first failure. */
  private readonly slots = new Map<string, Pool>();
  private readonly dedup = new BlobDedup();
  private readonly tally: Tally = { pushedBytes: 0, reusedBlobs: 0, uploadedBlobs: 0 };
  /** The first failure of any blob task: no further one starts. */
  private failed: unknown;

  /** Validates every destination and option; sends nothing. */
  constructor(options: PushOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.targets = planDestinations(options.destinations);
    const concurrency = options.concurrency ?? 4;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new OciError(`concurrency must be a positive integer, got ${concurrency}`, 'use e.g. 4');
    this.log = options.log ?? (() => {});
    const insecure = options.insecure ?? [];
    const base =
      options.transport ??
      createNodeTransport({
        ...(options.caFile !== undefined ? { caFile: options.caFile } : {}),
        skipVerifyHosts: insecure,
        ...(options.timeoutMs !== undefined ? { idleTimeoutMs: options.timeoutMs } : {}),
        ...(options.proxyEnv ? { proxyEnv: options.proxyEnv } : {}),
      });
    const transport = withRetry(base, {
      ...(options.sleep ? { sleep: options.sleep } : {}),
      now: this.now,
      ...(options.backoff ? { backoff: options.backoff } : {}),
      onRetry: (info) => {
        this.log(`retrying ${info.endpoint} in ${info.delayMs} ms (${info.reason}, attempt ${info.attempt})`);
        options.onRetry?.(info);
      },
    });
    const auth = new RegistryAuth({
      transport,
      credentials: options.credentials ?? createCredentialSource(),
      ...(options.onSecret ? { onSecret: options.onSecret } : {}),
      now: this.now,
    });
    for (const t of this.targets) {
      if (this.clients.has(t.registry)) continue;
      this.clients.set(
        t.registry,
        new RegistryClient(t.registry, { transport, auth, insecure, ...(options.chunkSize ? { chunkSize: options.chunkSize } : {}) }),
      );
      this.slots.set(t.registry, new Pool(concurrency));
    }
  }

  async run(): Promise<PushResult> {
    const started = this.now();
    await this.preflight();
    const fromCache = await this.cachedManifests();
    try {
      if (!fromCache) await this.pushBlobs();
      const manifests = fromCache ?? (await this.options.source.manifests());
      const refs = await this.pushManifests(manifests);
      await this.options.source.pushed?.(manifests).catch((err: unknown) => this.log(`could not remember the manifests: ${(err as Error).message}`));
      const result: PushResult = { digest: manifests.root.digest, mediaType: manifests.root.mediaType, refs, ...this.tally, durationMs: this.now() - started };
      if (manifests.configDigest !== undefined) result.configDigest = manifests.configDigest;
      return result;
    } finally {
      // Stop an export still streaming after a failure, and free held buffers.
      await this.options.source.close?.().catch(() => {});
    }
  }

  private client(t: PushTarget): RegistryClient {
    return this.clients.get(t.registry) as RegistryClient;
  }

  private slot<T>(t: PushTarget, task: () => Promise<T>): Promise<T> {
    return (this.slots.get(t.registry) as Pool).run(task);
  }

  /** Unreachable registries and refused credentials fail before the first byte is sent. */
  private async preflight(): Promise<void> {
    await Promise.all(
      this.targets.map(async (t) => {
        await this.client(t).ping();
        await this.client(t).checkAccess(t.repository);
      }),
    );
  }

  /** A source that remembers its manifests lets a re-push skip reading the image entirely. */
  private async cachedManifests(): Promise<ImageManifests | undefined> {
    const preview = await this.options.source.cached?.().catch(() => undefined);
    if (!preview) return undefined;
    const needed = blobsOf(preview);
    const present = await Promise.all(this.targets.flatMap((t) => needed.map((d) => this.slot(t, () => this.checkExistingBlob(t, d)))));
    if (needed.length === 0 || !present.every(Boolean)) return undefined;
    this.tally.reusedBlobs += present.length;
    this.log(`all ${needed.length} blobs already present in every destination; pushing manifests only`);
    return preview;
  }

  /** Every blob the source yields, to every target, as the source yields them. */
  private async pushBlobs(): Promise<void> {
    const tasks: Promise<void>[] = [];
    const track = (p: Promise<void>) => tasks.push(p.catch((err: unknown) => this.fail(err)));
    const seen = new Set<string>();
    const presence = new Map<string, Promise<boolean>>();
    const isPresent = (digest: string): Promise<boolean> => {
      let p = presence.get(digest);
      if (!p) {
        p = Promise.all(this.targets.map((t) => this.slot(t, () => this.checkExistingBlob(t, digest)))).then((r) => {
          const everywhere = r.every(Boolean);
          // The source skips such a blob entirely; count it as reused in every destination.
          if (everywhere) this.tally.reusedBlobs += this.targets.length;
          return everywhere;
        });
        presence.set(digest, p);
      }
      return p;
    };
    try {
      for await (const blob of this.options.source.blobs({ isPresent })) {
        if (this.failed) break;
        if (seen.has(blob.digest)) continue;
        seen.add(blob.digest);
        for (const t of this.targets) track(this.pushBlob(t, blob));
      }
    } catch (err) {
      this.fail(err);
    }
    await Promise.all(tasks);
    if (this.failed) throw this.failed;
  }

  private fail(err: unknown): void {
    // A task the pool did not start names the failure that stopped it; keep that one.
    this.failed ??= err instanceof PoolStoppedError ? err.cause : err;
  }

  private progress(t: PushTarget, blob: Blob, state: BlobState, bytes: number): void {
    this.options.onProgress?.({ destination: t.name, digest: blob.digest, mediaType: blob.mediaType, size: blob.size, state, pushedBytes: bytes });
  }

  /** One blob to one target: mounted from the repository that took it first, else uploaded. */
  private async pushBlob(t: PushTarget, blob: Blob): Promise<void> {
    const claim = this.dedup.claim(t.registry, blob.digest, t.repository);
    if (claim.role === 'follower') {
      // Wait outside the pool: holding a slot while waiting for a queued task could deadlock.
      const ok = await claim.done;
      if (this.failed) return;
      if (ok) return this.mountOrUpload(t, blob, claim.from);
    }
    try {
      await this.slot(t, () => this.checkThenUpload(t, blob));
      if (claim.role === 'owner') claim.settle(true);
    } catch (err) {
      if (claim.role === 'owner') claim.settle(false);
      throw err;
    }
  }

  /** The blob is already in `from` (same registry): check, then mount, then upload as a last resort. */
  private async mountOrUpload(t: PushTarget, blob: Blob, from: string): Promise<void> {
    const outcome = await this.slot(t, async () => {
      if (await this.checkExistingBlob(t, blob.digest)) return 'exists' as const;
      const location = await this.mountBlob(t, blob, from);
      if (location === undefined) return 'mounted' as const;
      await this.uploadInSession(t, blob, location);
      return 'uploaded' as const;
    });
    if (outcome === 'uploaded') {
      this.tally.pushedBytes += blob.size;
      this.tally.uploadedBlobs++;
    } else this.tally.reusedBlobs++;
    this.progress(t, blob, outcome, outcome === 'uploaded' ? blob.size : 0);
  }

  private async checkThenUpload(t: PushTarget, blob: Blob): Promise<void> {
    if (this.failed) return;
    this.progress(t, blob, 'checking', 0);
    if (await this.checkExistingBlob(t, blob.digest)) {
      this.tally.reusedBlobs++;
      this.progress(t, blob, 'exists', 0);
      return;
    }
    let sent = 0;
    this.progress(t, blob, 'uploading', 0);
    const onBytes = (n: number) => {
      sent += n;
      this.progress(t, blob, 'uploading', sent);
    };
    await this.uploadInSession(t, blob, await this.initiateUpload(t), onBytes);
    this.tally.pushedBytes += blob.size;
    this.tally.uploadedBlobs++;
    this.progress(t, blob, 'uploaded', sent);
  }

  // ---- The upload protocol, one step each ----

  /** HEAD the blob: true when the repository has it. */
  private async checkExistingBlob(t: PushTarget, digest: string): Promise<boolean> {
    return (await this.client(t).hasBlob(t.repository, digest)) !== undefined;
  }

  /** Ask to mount the blob from `from`: undefined when mounted, else the upload the registry opened instead. */
  private async mountBlob(t: PushTarget, blob: Blob, from: string): Promise<string | undefined> {
    const r = await this.client(t).startUpload(t.repository, { digest: blob.digest, from });
    return r.mounted ? undefined : r.location;
  }

  /** Open an upload session; its location. */
  private async initiateUpload(t: PushTarget): Promise<string> {
    const r = await this.client(t).startUpload(t.repository);
    if (r.mounted) throw new OciError('unexpected mount');
    return r.location;
  }

  /**
   * Stream and commit in the session at `location`, opening a new session when the registry lost
   * this one. A registry answers 404/416 to a session it dropped (restart, load balancer switch,
   * a body broken off mid-blob), and also to the retry of a commit whose answer never arrived:
   * so the blob is looked up first, and only uploaded again when it is not there.
   */
  private async uploadInSession(t: PushTarget, blob: Blob, location: string, onBytes?: (n: number) => void): Promise<void> {
    let loc = location;
    for (let restarts = 0; ; restarts++) {
      try {
        await this.streamAndCommit(t, blob, loc, onBytes);
        return;
      } catch (err) {
        const status = (err as { status?: number }).status;
        if ((status !== 404 && status !== 416) || restarts >= MAX_SESSION_RESTARTS) throw err;
        if (await this.checkExistingBlob(t, blob.digest)) {
          this.log(`${blob.digest} is in ${t.name} although its upload session was lost (HTTP ${status}): its commit got through`);
          return;
        }
        this.log(`restarting the upload of ${blob.digest} to ${t.name} (HTTP ${status})`);
        loc = await this.initiateUpload(t);
      }
    }
  }

  /** Send the bytes (one PUT, or PATCH chunks) and commit them under the blob's digest. */
  private streamAndCommit(t: PushTarget, blob: Blob, location: string, onBytes?: (n: number) => void): Promise<void> {
    return this.client(t).uploadBlob(t.repository, blob, onBytes, location);
  }

  // ---- Manifests ----

  /** Children by digest, then the root under every tag (or its digest); the refs pushed. */
  private async pushManifests(manifests: ImageManifests): Promise<string[]> {
    const digest = manifests.root.digest;
    for (const t of this.targets) {
      for (const d of t.digests) {
        if (d !== digest) {
          throw new OciError(
            `destination ${t.name}@${d} does not match the image, whose digest is ${digest}`,
            "drop the @digest from the destination or use the image's digest",
          );
        }
      }
    }
    const perTarget = await Promise.all(
      this.targets.map(async (t) => {
        const client = this.client(t);
        for (const child of manifests.children) await client.putManifest(t.repository, child.digest, child);
        const out: string[] = [];
        if (t.tags.length === 0) {
          await client.putManifest(t.repository, digest, manifests.root);
          out.push(`${t.name}@${digest}`);
        }
        for (const tag of t.tags) {
          await client.putManifest(t.repository, tag, manifests.root);
          out.push(`${t.name}:${tag}@${digest}`);
          this.log(`pushed ${t.name}:${tag}@${digest}`);
        }
        return out;
      }),
    );
    return perTarget.flat();
  }
}

/** Push one image to several destinations at once (see ImagePush). */
export function pushImage(options: PushOptions): Promise<PushResult> {
  try {
    return new ImagePush(options).run();
  } catch (err) {
    return Promise.reject(err);
  }
}

/** Config and layer digests of a single-platform image's manifest (empty for an index). */
function blobsOf(m: ImageManifests): string[] {
  const doc = JSON.parse(m.root.bytes.toString('utf8')) as { config?: { digest: string }; layers?: Array<{ digest: string }>; manifests?: unknown };
  if (!doc.config || doc.manifests) return [];
  return [doc.config.digest, ...(doc.layers ?? []).map((l) => l.digest)];
}
