// What the docker-store sources (the `docker save` stream and the direct overlay2 read) share:
// a queue of blobs ready to upload, compressed layers held in memory or spilled to disk, and
// the manifest written around a config and its compressed layers.
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { memoryStream } from './compress.ts';
import { sha256Digest } from './digest.ts';
import { DOCKER_CONFIG, DOCKER_MANIFEST, OCI_CONFIG, OCI_MANIFEST } from './media-types.ts';
import type { Blob, ImageManifests } from './source.ts';

/** Pushes items to one consumer; the producer runs ahead, the consumer awaits. */
export class AsyncQueue<T> {
  private readonly items: T[] = [];
  private waiter: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | undefined;
  private failed: unknown;
  private closed = false;
  push(item: T): void {
    const w = this.waiter;
    this.waiter = undefined;
    if (w) w.resolve({ value: item, done: false });
    else this.items.push(item);
  }
  close(err?: unknown): void {
    this.closed = true;
    this.failed = err;
    const w = this.waiter;
    this.waiter = undefined;
    if (w && err) w.reject(err);
    else w?.resolve({ value: undefined, done: true });
  }
  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      if (this.items.length) {
        yield this.items.shift()!;
        continue;
      }
      if (this.closed) {
        if (this.failed) throw this.failed;
        return;
      }
      const r = await new Promise<IteratorResult<T>>((resolve, reject) => {
        this.waiter = { resolve, reject };
      });
      if (r.done) return;
      yield r.value;
    }
  }
}

/**
 * Runs `produce` on first call (later calls get the same promise) and closes `queue` when it
 * settles, with its error if it failed, so the consumer of the queue sees the failure too.
 */
export function once<T, R>(queue: AsyncQueue<T>, produce: () => Promise<R>): () => Promise<R> {
  let started: Promise<R> | undefined;
  return () => {
    started ??= produce().then(
      (r) => {
        queue.close();
        return r;
      },
      (err: unknown) => {
        queue.close(err);
        throw err;
      },
    );
    started.catch(() => {});
    return started;
  };
}

/** Blobs we hashed ourselves while making them: in memory below a limit, else in a temp file. */
export class BlobStore {
  private readonly memoryLimit: number;
  private inMemory = 0;
  private spillDir: Promise<string> | undefined;
  private readonly made = new Map<string, Promise<Blob>>();

  constructor(memoryLimit = 2 * 1024 * 1024 * 1024) {
    this.memoryLimit = memoryLimit;
  }

  static memory(digest: string, size: number, mediaType: string, chunks: Buffer[]): Blob {
    return { digest, size, mediaType, open: (range) => memoryStream(chunks, range), verified: true };
  }

  /** One Blob per digest, spilled to a file once when memory is over the limit. */
  add(digest: string, size: number, mediaType: string, chunks: Buffer[]): Promise<Blob> {
    let p = this.made.get(digest);
    if (!p) {
      p = (async () => {
        if (this.inMemory + size <= this.memoryLimit || size < 1024 * 1024) {
          this.inMemory += size;
          return BlobStore.memory(digest, size, mediaType, chunks);
        }
        this.spillDir ??= mkdtemp(path.join(tmpdir(), 'shipline-oci-'));
        const file = path.join(await this.spillDir, digest.slice(7));
        await writeFile(file, chunks, { mode: 0o600 });
        chunks.length = 0;
        return {
          digest,
          size,
          mediaType,
          verified: true,
          open: (range) => createReadStream(file, { highWaterMark: 1024 * 1024, ...(range ? { start: range.start, end: range.end - 1 } : {}) }),
        } satisfies Blob;
      })();
      this.made.set(digest, p);
    }
    return p;
  }

  /** Let go of what is held: compressed layers can be hundreds of MiB. */
  async close(): Promise<void> {
    this.made.clear();
    if (this.spillDir) await rm(await this.spillDir, { recursive: true, force: true });
  }
}

export interface LayerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export function configMediaType(format: 'oci' | 'docker'): string {
  return format === 'docker' ? DOCKER_CONFIG : OCI_CONFIG;
}

/** The image manifest for a config kept byte for byte and its compressed layers. */
export function imageManifest(format: 'oci' | 'docker', configBytes: Buffer, layers: LayerDescriptor[]): ImageManifests {
  const configDigest = sha256Digest(configBytes);
  const mediaType = configMediaType(format);
  // Field order as docker (schema 2) and the OCI spec examples write them.
  const manifest =
    format === 'docker'
      ? {
          schemaVersion: 2,
          mediaType: DOCKER_MANIFEST,
          config: { mediaType, size: configBytes.length, digest: configDigest },
          layers,
        }
      : {
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          config: { mediaType, digest: configDigest, size: configBytes.length },
          layers,
        };
  const bytes = Buffer.from(JSON.stringify(manifest));
  return { root: { digest: sha256Digest(bytes), mediaType: manifest.mediaType, bytes }, children: [], configDigest };
}
