import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path/posix';
import type { Readable } from 'node:stream';
import { type CompressedLayer, type Compression, DEFAULT_BLOCK_SIZE, DEFAULT_COMPRESSION, InputBudget, LayerCompressor, layerMediaType } from './compress.ts';
import { sha256Digest } from './digest.ts';
import { OciError } from './errors.ts';
import { AsyncQueue, BlobStore, configMediaType, imageManifest, once } from './image-blobs.ts';
import type { Blob, BlobContext, ImageManifests, ImageSource } from './source.ts';
import { readTar } from './tar.ts';

export interface DockerArchiveOptions {
  compression?: Compression;
  /** `oci` (default) or `docker` (schema 2, what `docker push` writes; gzip only). */
  manifestFormat?: 'oci' | 'docker';
  /** Uncompressed bytes allowed to queue for compressors before the reader waits. Default 256 MiB. */
  inputBudget?: number;
  /** Independently compressed block size for parallel compression; 0 = one stream per layer. Default 4 MiB. */
  blockSize?: number;
  /** Which image of a multi-image archive (a RepoTags entry); default the only one. */
  image?: string;
  /** Expected config digest (image ID), checked against the archive. */
  expectConfigDigest?: string;
  /** Remembers diff_id → compressed blob, so layers present in every destination are skipped. */
  layerCache?: LayerCache;
  /**
   * Compressed bytes kept in memory; finished layers beyond this go to a temporary file that is
   * removed on close(). Default 2 GiB.
   */
  memoryLimit?: number;
  description?: string;
}

export interface CachedLayer {
  digest: string;
  size: number;
  mediaType: string;
}

/** diff_id → compressed blob made earlier with the same settings. */
export interface LayerCache {
  get(diffId: string): Promise<CachedLayer | undefined>;
  put(diffId: string, layer: CachedLayer): Promise<void>;
}

/**
 * A LayerCache in a directory, one small file per layer; `settings` (compression, block size,
 * manifest format) is part of the key because each gives a different blob.
 */
export function fileLayerCache(dir: string, settings: unknown): LayerCache {
  const file = (diffId: string) =>
    path.join(
      dir,
      `layer-${createHash('sha256')
        .update(JSON.stringify([diffId, settings]))
        .digest('hex')
        .slice(0, 40)}.json`,
    );
  return {
    async get(diffId) {
      try {
        const doc = JSON.parse(await readFile(file(diffId), 'utf8')) as CachedLayer;
        return typeof doc.digest === 'string' && typeof doc.size === 'number' && typeof doc.mediaType === 'string' ? doc : undefined;
      } catch {
        return undefined;
      }
    },
    async put(diffId, layer) {
      await mkdir(dir, { recursive: true });
      const f = file(diffId);
      const tmp = `${f}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify(layer));
      await rename(tmp, f);
    },
  };
}

/** A layer compressed earlier with these settings that every destination already has: nothing to redo. */
export async function reusableLayer(cache: LayerCache | undefined, ctx: BlobContext | undefined, diffId: string): Promise<CachedLayer | undefined> {
  const cached = await cache?.get(diffId);
  if (!cached || !ctx || !(await ctx.isPresent(cached.digest))) return undefined;
  return cached;
}

interface ManifestJsonEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
// Entries below this are held raw and compressed once we know they are layers.
const EAGER_MIN = 64 * 1024;

function startsWith(b: Buffer, magic: number[]): boolean {
  return magic.every((v, i) => b[i] === v);
}

function isMetadataName(name: string): boolean {
  return (
    name === 'manifest.json' ||
    name === 'index.json' ||
    name === 'oci-layout' ||
    name === 'repositories' ||
    name.endsWith('.json') ||
    name.endsWith('/json') ||
    name.endsWith('/VERSION')
  );
}

type Held =
  | { kind: 'raw'; bytes: Buffer }
  | { kind: 'known'; diffId: string; digest: string; size: number; mediaType: string }
  | { kind: 'compressing'; result: Promise<CompressedLayer> }
  | { kind: 'precompressed'; digest: string; size: number; chunks: Buffer[]; mediaType: string };

/**
 * Turns a `docker save` tar stream (legacy layout or the OCI layout of newer engines) into an
 * ImageSource: uncompressed layers are compressed in parallel as they stream past, each
 * compressed blob becoming uploadable as soon as it is done; the config is kept byte for
 * byte (its digest is the image ID) and every layer's diff_id is checked against it.
 */
export function dockerArchiveSource(open: () => Promise<Readable> | Readable, options: DockerArchiveOptions = {}): ImageSource {
  const compression = options.compression ?? DEFAULT_COMPRESSION;
  const format = options.manifestFormat ?? 'oci';
  const layerType = layerMediaType(compression, format);
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  // A budget below two blocks could wait on a block that is never flushed.
  const budget = new InputBudget(Math.max(options.inputBudget ?? 256 * 1024 * 1024, 2 * blockSize));
  const queue = new AsyncQueue<Blob>();
  const held = new Map<string, Held>();
  const links = new Map<string, string>();

  const store = new BlobStore(options.memoryLimit);
  const makeBlob = (digest: string, size: number, mediaType: string, chunks: Buffer[]) => store.add(digest, size, mediaType, chunks);

  let opened: Readable | undefined;
  let closed = false;
  let ctx: BlobContext | undefined;
  const layerCache = options.layerCache;
  const knownLayer = async (diffId: string): Promise<Held | undefined> => {
    const cached = await reusableLayer(layerCache, ctx, diffId);
    return cached && { kind: 'known', diffId, ...cached };
  };
  const consume = async (): Promise<ImageManifests> => {
    const stream = await open();
    opened = stream;
    if (closed) stream.destroy();
    const emitted = new Set<string>();
    const emit = async (b: Blob | Promise<Blob>) => {
      const blob = await b;
      if (emitted.has(blob.digest)) return;
      emitted.add(blob.digest);
      queue.push(blob);
    };
    const startCompression = async (name: string, chunks: AsyncIterable<Buffer> | Buffer[]) => {
      const compressor = new LayerCompressor(compression, budget, blockSize);
      for await (const c of chunks) await compressor.write(c);
      const result = compressor.end();
      held.set(name, { kind: 'compressing', result });
      // Upload as soon as this layer is compressed, while later ones still stream in.
      result
        .then(
          (r) => emit(makeBlob(r.digest, r.size, layerType, r.chunks)),
          () => {},
        )
        .catch(() => {});
    };
    for await (const { entry, body } of readTar(stream)) {
      if (entry.type === '2' || entry.type === '1') {
        links.set(entry.name, entry.type === '2' ? path.normalize(path.join(path.dirname(entry.name), entry.linkname)) : entry.linkname);
        continue;
      }
      if (entry.type !== '0' && entry.type !== '7') continue;
      if (isMetadataName(entry.name) || entry.size < EAGER_MIN) {
        const parts: Buffer[] = [];
        for await (const c of body) parts.push(Buffer.from(c));
        held.set(entry.name, { kind: 'raw', bytes: Buffer.concat(parts) });
        continue;
      }
      // Decide from the first bytes (at least 4, whatever the chunking) what the entry is.
      const head: Buffer[] = [];
      let headSize = 0;
      const it = body[Symbol.asyncIterator]();
      while (headSize < 4) {
        const r = await it.next();
        if (r.done) break;
        head.push(r.value);
        headSize += r.value.length;
      }
      const first = Buffer.concat(head);
      const rest = async function* () {
        yield* head;
        for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
      };
      if (first[0] === 0x7b /* { */) {
        // A large JSON file (a config with a long history), never a layer.
        const parts: Buffer[] = [];
        for await (const c of rest()) parts.push(Buffer.from(c));
        held.set(entry.name, { kind: 'raw', bytes: Buffer.concat(parts) });
        continue;
      }
      const preType = startsWith(first, ZSTD_MAGIC)
        ? 'application/vnd.oci.image.layer.v1.tar+zstd'
        : startsWith(first, GZIP_MAGIC)
          ? format === 'docker'
            ? 'application/vnd.docker.image.rootfs.diff.tar.gzip'
            : 'application/vnd.oci.image.layer.v1.tar+gzip'
          : undefined;
      if (preType) {
        // Layers already compressed in the store (containerd snapshotter) are pushed as they are.
        const hash = createHash('sha256');
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const c of rest()) {
          const copy = Buffer.from(c);
          hash.update(copy);
          chunks.push(copy);
          size += copy.length;
        }
        const digest = `sha256:${hash.digest('hex')}`;
        held.set(entry.name, { kind: 'precompressed', digest, size, chunks, mediaType: preType });
        await emit(makeBlob(digest, size, preType, chunks));
        continue;
      }
      // An uncompressed layer. With a layer cache, one compressed before and present in every
      // destination is neither compressed nor uploaded again (docker push's own trick).
      if (layerCache && ctx) {
        const named = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(resolveName(entry.name));
        if (named) {
          // OCI-shaped archives name uncompressed layers by their diff_id: decide before reading.
          const known = await knownLayer(`sha256:${named[1]}`);
          if (known) {
            held.set(entry.name, known);
            continue;
          }
        } else {
          // Legacy archives don't say which layer this is until it has been hashed: hold it.
          const raw = createHash('sha256');
          const parts: Buffer[] = [];
          for await (const c of rest()) {
            raw.update(c);
            parts.push(c);
          }
          const known = await knownLayer(`sha256:${raw.digest('hex')}`);
          if (known) {
            held.set(entry.name, known);
            continue;
          }
          await startCompression(entry.name, parts);
          continue;
        }
      }
      await startCompression(entry.name, rest());
    }
    return finish(emit);
  };

  const resolveName = (name: string): string => {
    let n = path.normalize(name);
    for (let i = 0; i < 10 && links.has(n); i++) n = links.get(n)!;
    return n;
  };

  const rawOf = (name: string, what: string): Buffer => {
    const h = held.get(resolveName(name));
    if (h?.kind !== 'raw') throw new OciError(`docker image archive has no ${what} (${name})`, 'the image export is incomplete; try again');
    return h.bytes;
  };

  const finish = async (emit: (b: Blob | Promise<Blob>) => Promise<void>): Promise<ImageManifests> => {
    let entries: ManifestJsonEntry[];
    try {
      entries = JSON.parse(rawOf('manifest.json', 'manifest.json').toString('utf8')) as ManifestJsonEntry[];
    } catch (err) {
      if (err instanceof OciError) throw err;
      throw new OciError('docker image archive has an unreadable manifest.json', 'the image export is damaged; try again');
    }
    let entry = entries[0];
    if (options.image !== undefined && entries.length > 1) entry = entries.find((e) => e.RepoTags?.includes(options.image!));
    if (!entry || (entries.length > 1 && options.image === undefined)) {
      throw new OciError(`docker image archive holds ${entries.length} images; expected one`, 'export a single image');
    }
    const configBytes = rawOf(entry.Config, 'image config');
    const configDigest = sha256Digest(configBytes);
    if (options.expectConfigDigest !== undefined && options.expectConfigDigest !== configDigest) {
      throw new OciError(
        `the docker engine exported image ${configDigest}, not the expected ${options.expectConfigDigest}`,
        'the tag moved while pushing; push again',
      );
    }
    const config = JSON.parse(configBytes.toString('utf8')) as { rootfs?: { diff_ids?: string[] } };
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== entry.Layers.length) {
      throw new OciError(`image config lists ${diffIds.length} layers but the archive has ${entry.Layers.length}`, 'the image export is damaged; try again');
    }
    const layers: Array<{ mediaType: string; digest: string; size: number }> = [];
    for (const [i, name] of entry.Layers.entries()) {
      const key = resolveName(name);
      let h = held.get(key);
      if (!h) throw new OciError(`docker image archive is missing layer ${name}`, 'the image export is incomplete; try again');
      if (h.kind === 'raw' && (startsWith(h.bytes, GZIP_MAGIC) || startsWith(h.bytes, ZSTD_MAGIC))) {
        const mediaType = startsWith(h.bytes, ZSTD_MAGIC)
          ? 'application/vnd.oci.image.layer.v1.tar+zstd'
          : format === 'docker'
            ? 'application/vnd.docker.image.rootfs.diff.tar.gzip'
            : 'application/vnd.oci.image.layer.v1.tar+gzip';
        h = { kind: 'precompressed', digest: sha256Digest(h.bytes), size: h.bytes.length, chunks: [h.bytes], mediaType };
        held.set(key, h);
        await emit(makeBlob(h.digest, h.size, h.mediaType, h.chunks));
      }
      if (h.kind === 'raw') {
        const c = new LayerCompressor(compression, budget, blockSize);
        await c.write(h.bytes);
        h = { kind: 'compressing', result: c.end() };
        held.set(key, h);
      }
      if (h.kind === 'precompressed') {
        layers.push({ mediaType: h.mediaType, digest: h.digest, size: h.size });
        continue;
      }
      if (h.kind === 'known') {
        if (h.diffId !== diffIds[i]) {
          throw new OciError(
            `layer ${i + 1} (${name}) hashes to ${h.diffId} but the image config says ${diffIds[i]}`,
            'the image export is damaged; try again',
          );
        }
        layers.push({ mediaType: h.mediaType, digest: h.digest, size: h.size });
        continue;
      }
      const r = await h.result;
      if (r.diffId !== diffIds[i]) {
        throw new OciError(`layer ${i + 1} (${name}) hashes to ${r.diffId} but the image config says ${diffIds[i]}`, 'the image export is damaged; try again');
      }
      await emit(makeBlob(r.digest, r.size, layerType, r.chunks));
      layers.push({ mediaType: layerType, digest: r.digest, size: r.size });
    }
    await emit(BlobStore.memory(configDigest, configBytes.length, configMediaType(format), [configBytes]));
    return imageManifest(format, configBytes, layers);
  };

  const start = once(queue, consume);

  return {
    description: options.description ?? 'docker-archive',
    blobs(context?: BlobContext) {
      ctx ??= context;
      void start();
      return queue[Symbol.asyncIterator]();
    },
    pushed: async () => {
      if (!layerCache) return;
      for (const h of held.values()) {
        if (h.kind !== 'compressing') continue;
        const r = await h.result;
        await layerCache.put(r.diffId, { digest: r.digest, size: r.size, mediaType: layerType });
      }
    },
    manifests: () => start(),
    close: async () => {
      closed = true;
      opened?.destroy();
      // Compressed layers can be hundreds of MiB; let them go once the push is over.
      held.clear();
      await store.close();
    },
  };
}

/** A `docker save` tarball on disk as a source. */
export function dockerArchiveFileSource(file: string, options: DockerArchiveOptions = {}): ImageSource {
  return dockerArchiveSource(
    async () => {
      await stat(file).catch(() => {
        throw new OciError(`docker archive ${file} does not exist`, 'write it with docker save -o <file> <image>');
      });
      return createReadStream(file, { highWaterMark: 1024 * 1024 });
    },
    { description: `docker-archive:${file}`, ...options },
  );
}
