import { RegistryAuth } from './auth.ts';
import type { BackoffOptions } from './backoff.ts';
import { RegistryClient } from './client.ts';
import { type CredentialSource, createCredentialSource } from './docker-config.ts';
import { OciError } from './errors.ts';
import { createLimiter } from './limiter.ts';
import { type ImageReference, parseReference, repositoryName } from './reference.ts';
import { defaultSleep, type RetryInfo, withRetry } from './retry.ts';
import type { Blob, ImageManifests, ImageSource } from './source.ts';
import { createNodeTransport, type Transport } from './transport.ts';

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
 * Push one image to several destinations at once. Blobs are uploaded once per registry (other
 * repositories of that registry mount them), in parallel, skipping what is present; manifests
 * are pushed only after every blob is confirmed, children before the index.
 */
export async function pushImage(options: PushOptions): Promise<PushResult> {
  const now = options.now ?? Date.now;
  const started = now();
  const targets = planDestinations(options.destinations);
  const concurrency = options.concurrency ?? 4;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new OciError(`concurrency must be a positive integer, got ${concurrency}`, 'use e.g. 4');
  const log = options.log ?? (() => {});
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
    sleep: options.sleep ?? defaultSleep,
    now,
    ...(options.backoff ? { backoff: options.backoff } : {}),
    onRetry: (info) => {
      log(`retrying ${info.endpoint} in ${info.delayMs} ms (${info.reason}, attempt ${info.attempt})`);
      options.onRetry?.(info);
    },
  });
  const auth = new RegistryAuth({
    transport,
    credentials: options.credentials ?? createCredentialSource(),
    ...(options.onSecret ? { onSecret: options.onSecret } : {}),
    now,
  });
  const clients = new Map<string, RegistryClient>();
  const limiters = new Map<string, ReturnType<typeof createLimiter>>();
  for (const t of targets) {
    if (!clients.has(t.registry)) {
      clients.set(t.registry, new RegistryClient(t.registry, { transport, auth, insecure, ...(options.chunkSize ? { chunkSize: options.chunkSize } : {}) }));
      limiters.set(t.registry, createLimiter(concurrency));
    }
  }

  // Fail on unreachable registries and refused credentials before the first byte is sent.
  await Promise.all(
    targets.map(async (t) => {
      const client = clients.get(t.registry)!;
      await client.ping();
      await client.checkAccess(t.repository);
    }),
  );

  let pushedBytes = 0;
  let reusedBlobs = 0;
  let uploadedBlobs = 0;
  let failed: unknown;
  // Per registry: digest → repository that has (or is getting) it, for cross-repo mounts.
  const holders = new Map<string, Map<string, { repository: string; done: Promise<boolean> }>>();

  const pushBlobTo = async (t: PushTarget, blob: Blob): Promise<void> => {
    const client = clients.get(t.registry)!;
    const limit = limiters.get(t.registry)!;
    const progress = (state: BlobState, bytes: number) =>
      options.onProgress?.({ destination: t.name, digest: blob.digest, mediaType: blob.mediaType, size: blob.size, state, pushedBytes: bytes });
    let registryHolders = holders.get(t.registry);
    if (!registryHolders) {
      registryHolders = new Map();
      holders.set(t.registry, registryHolders);
    }
    const holder = registryHolders.get(blob.digest);
    let resolveDone: ((ok: boolean) => void) | undefined;
    if (!holder) {
      registryHolders.set(blob.digest, {
        repository: t.repository,
        done: new Promise<boolean>((r) => {
          resolveDone = r;
        }),
      });
    }
    try {
      if (holder) {
        // Wait outside the limiter: holding a slot while waiting for a queued task could deadlock.
        const ok = await holder.done;
        if (failed) return;
        if (ok) {
          const mounted = await limit(async () => {
            if ((await client.hasBlob(t.repository, blob.digest)) !== undefined) return 'exists' as const;
            const r = await client.startUpload(t.repository, { digest: blob.digest, from: holder.repository });
            if (r.mounted) return 'mounted' as const;
            await client.uploadBlob(t.repository, blob, undefined, r.location);
            return 'uploaded' as const;
          });
          if (mounted === 'uploaded') {
            pushedBytes += blob.size;
            uploadedBlobs++;
          } else reusedBlobs++;
          progress(mounted, mounted === 'uploaded' ? blob.size : 0);
          return;
        }
      }
      await limit(async () => {
        if (failed) return;
        progress('checking', 0);
        if ((await client.hasBlob(t.repository, blob.digest)) !== undefined) {
          reusedBlobs++;
          progress('exists', 0);
          return;
        }
        let sent = 0;
        progress('uploading', 0);
        const onBytes = (n: number) => {
          sent += n;
          progress('uploading', sent);
        };
        try {
          await client.uploadBlob(t.repository, blob, onBytes);
        } catch (err) {
          // A registry that lost the upload session (restart, load balancer switch) answers
          // 404/416 to the next request of that session: start the upload once more.
          const status = (err as { status?: number }).status;
          if (status !== 404 && status !== 416) throw err;
          log(`restarting the upload of ${blob.digest} to ${t.name} (HTTP ${status})`);
          await client.uploadBlob(t.repository, blob, onBytes);
        }
        pushedBytes += blob.size;
        uploadedBlobs++;
        progress('uploaded', sent);
      });
      resolveDone?.(true);
    } catch (err) {
      resolveDone?.(false);
      throw err;
    }
  };

  // A source that remembers its manifests lets a re-push skip reading the image entirely.
  const preview = await options.source.cached?.().catch(() => undefined);
  let manifestsFromCache: ImageManifests | undefined;
  if (preview) {
    const needed = blobsOf(preview);
    const present = await Promise.all(
      targets.flatMap((t) => needed.map((d) => limiters.get(t.registry)!(() => clients.get(t.registry)!.hasBlob(t.repository, d)))),
    );
    if (needed.length > 0 && present.every((p) => p !== undefined)) {
      manifestsFromCache = preview;
      reusedBlobs += present.length;
      log(`all ${needed.length} blobs already present in every destination; pushing manifests only`);
    }
  }

  try {
    return await pushWithClients();
  } finally {
    // Stop an export still streaming after a failure, and free held buffers.
    await options.source.close?.().catch(() => {});
  }

  async function pushWithClients(): Promise<PushResult> {
    const tasks: Promise<void>[] = [];
    const track = (p: Promise<void>) => {
      tasks.push(
        p.catch((err) => {
          failed ??= err;
        }),
      );
    };
    const seenDigests = new Set<string>();
    try {
      const presence = new Map<string, Promise<boolean>>();
      const isPresent = (digest: string): Promise<boolean> => {
        let p = presence.get(digest);
        if (!p) {
          p = Promise.all(targets.map((t) => limiters.get(t.registry)!(() => clients.get(t.registry)!.hasBlob(t.repository, digest)))).then((r) => {
            const everywhere = r.every((x) => x !== undefined);
            // The source skips such a blob entirely; count it as reused in every destination.
            if (everywhere) reusedBlobs += targets.length;
            return everywhere;
          });
          presence.set(digest, p);
        }
        return p;
      };
      for await (const blob of manifestsFromCache ? [] : options.source.blobs({ isPresent })) {
        if (failed) break;
        if (seenDigests.has(blob.digest)) continue;
        seenDigests.add(blob.digest);
        for (const t of targets) track(pushBlobTo(t, blob));
      }
    } catch (err) {
      failed ??= err;
    }
    await Promise.all(tasks);
    if (failed) throw failed;

    const manifests = manifestsFromCache ?? (await options.source.manifests());
    const digest = manifests.root.digest;
    for (const t of targets) {
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
      targets.map(async (t) => {
        const client = clients.get(t.registry)!;
        for (const child of manifests.children) await client.putManifest(t.repository, child.digest, child);
        const out: string[] = [];
        if (t.tags.length === 0) {
          await client.putManifest(t.repository, digest, manifests.root);
          out.push(`${t.name}@${digest}`);
        }
        for (const tag of t.tags) {
          await client.putManifest(t.repository, tag, manifests.root);
          out.push(`${t.name}:${tag}@${digest}`);
          log(`pushed ${t.name}:${tag}@${digest}`);
        }
        return out;
      }),
    );
    const refs = perTarget.flat();
    await options.source.pushed?.(manifests).catch((err: unknown) => log(`could not remember the manifests: ${(err as Error).message}`));
    const result: PushResult = {
      digest,
      mediaType: manifests.root.mediaType,
      refs,
      pushedBytes,
      reusedBlobs,
      uploadedBlobs,
      durationMs: now() - started,
    };
    if (manifests.configDigest !== undefined) result.configDigest = manifests.configDigest;
    return result;
  }
}

/** Config and layer digests of a single-platform image's manifest (empty for an index). */
function blobsOf(m: ImageManifests): string[] {
  const doc = JSON.parse(m.root.bytes.toString('utf8')) as { config?: { digest: string }; layers?: Array<{ digest: string }>; manifests?: unknown };
  if (!doc.config || doc.manifests) return [];
  return [doc.config.digest, ...(doc.layers ?? []).map((l) => l.digest)];
}
