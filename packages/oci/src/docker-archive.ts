import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path/posix';
import type { Readable } from 'node:stream';
import { type CompressedLayer, type Compression, DEFAULT_BLOCK_SIZE, DEFAULT_COMPRESSION, InputBudget, LayerCompressor, layerMediaType } from './compress.ts';
import { sha256Digest } from './digest.ts';
import { OciError } from './errors.ts';
import { AsyncQueue, BlobStore, configMediaType, imageManifest, type LayerDescriptor, once } from './image-blobs.ts';
import { compressedLayerType } from './media-types.ts';
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

const DAMAGED = 'the image export is damaged; try again';
const INCOMPLETE = 'the image export is incomplete; try again';

/**
 * Turns a `docker save` tar stream (legacy layout or the OCI layout of newer engines) into an
 * ImageSource: uncompressed layers are compressed in parallel as they stream past, each
 * compressed blob becoming uploadable as soon as it is done; the config is kept byte for
 * byte (its digest is the image ID) and every layer's diff_id is checked against it.
 *
 * Reading happens once, on the first blobs() or manifests(): each tar entry is held as raw bytes
 * (metadata, small files), as a layer already compressed, as a layer known from the cache, or
 * as a layer being compressed; `assemble` then matches manifest.json and the config to them.
 */
class DockerArchiveSource implements ImageSource {
  readonly description: string;
  private readonly open: () => Promise<Readable> | Readable;
  private readonly options: DockerArchiveOptions;
  private readonly compression: Compression;
  private readonly format: 'oci' | 'docker';
  private readonly layerType: string;
  private readonly blockSize: number;
  private readonly budget: InputBudget;
  private readonly queue = new AsyncQueue<Blob>();
  private readonly store: BlobStore;
  /** Tar entry name → what it turned out to be. */
  private readonly held = new Map<string, Held>();
  /** Tar link name → its target. */
  private readonly links = new Map<string, string>();
  private readonly emitted = new Set<string>();
  private readonly start: () => Promise<ImageManifests>;
  private opened: Readable | undefined;
  private closed = false;
  private ctx: BlobContext | undefined;

  constructor(open: () => Promise<Readable> | Readable, options: DockerArchiveOptions) {
    this.open = open;
    this.options = options;
    this.description = options.description ?? 'docker-archive';
    this.compression = options.compression ?? DEFAULT_COMPRESSION;
    this.format = options.manifestFormat ?? 'oci';
    this.layerType = layerMediaType(this.compression, this.format);
    this.blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
    // A budget below two blocks could wait on a block that is never flushed.
    this.budget = new InputBudget(Math.max(options.inputBudget ?? 256 * 1024 * 1024, 2 * this.blockSize));
    this.store = new BlobStore(options.memoryLimit);
    this.start = once(this.queue, () => this.consume());
  }

  blobs(context?: BlobContext): AsyncIterable<Blob> {
    this.ctx ??= context;
    void this.start();
    return this.queue[Symbol.asyncIterator]();
  }

  manifests(): Promise<ImageManifests> {
    return this.start();
  }

  /** Remembers each layer compressed here, so a later push of the same layers can skip them. */
  async pushed(): Promise<void> {
    const cache = this.options.layerCache;
    if (!cache) return;
    for (const h of this.held.values()) {
      if (h.kind !== 'compressing') continue;
      const r = await h.result;
      await cache.put(r.diffId, { digest: r.digest, size: r.size, mediaType: this.layerType });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.opened?.destroy();
    // Compressed layers can be hundreds of MiB; let them go once the push is over.
    this.held.clear();
    await this.store.close();
  }

  private async consume(): Promise<ImageManifests> {
    const stream = await this.open();
    this.opened = stream;
    if (this.closed) stream.destroy();
    for await (const { entry, body } of readTar(stream)) {
      if (entry.type === '2' || entry.type === '1') {
        this.links.set(entry.name, entry.type === '2' ? path.normalize(path.join(path.dirname(entry.name), entry.linkname)) : entry.linkname);
        continue;
      }
      if (entry.type !== '0' && entry.type !== '7') continue;
      if (isMetadataName(entry.name) || entry.size < EAGER_MIN) {
        this.held.set(entry.name, { kind: 'raw', bytes: await collect(body) });
        continue;
      }
      await this.readLargeEntry(entry.name, body);
    }
    return this.assemble();
  }

  /** A large entry: a JSON file, a layer compressed in the store, or an uncompressed layer. */
  private async readLargeEntry(name: string, body: AsyncGenerator<Buffer>): Promise<void> {
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
      this.held.set(name, { kind: 'raw', bytes: await collect(rest()) });
      return;
    }
    const preType = startsWith(first, ZSTD_MAGIC)
      ? compressedLayerType('zstd', this.format)
      : startsWith(first, GZIP_MAGIC)
        ? compressedLayerType('gzip', this.format)
        : undefined;
    if (preType) return this.holdPrecompressed(name, rest(), preType);
    return this.holdUncompressed(name, rest);
  }

  /** Layers already compressed in the store (containerd snapshotter) are pushed as they are. */
  private async holdPrecompressed(name: string, chunks: AsyncIterable<Buffer>, mediaType: string): Promise<void> {
    const hash = createHash('sha256');
    const kept: Buffer[] = [];
    let size = 0;
    for await (const c of chunks) {
      const copy = Buffer.from(c);
      hash.update(copy);
      kept.push(copy);
      size += copy.length;
    }
    const digest = `sha256:${hash.digest('hex')}`;
    this.held.set(name, { kind: 'precompressed', digest, size, chunks: kept, mediaType });
    await this.emit(this.store.add(digest, size, mediaType, kept));
  }

  /**
   * An uncompressed layer. With a layer cache, one compressed before and present in every
   * destination is neither compressed nor uploaded again (docker push's own trick).
   */
  private async holdUncompressed(name: string, rest: () => AsyncGenerator<Buffer>): Promise<void> {
    if (this.options.layerCache && this.ctx) {
      const named = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(this.resolveName(name));
      if (named) {
        // OCI-shaped archives name uncompressed layers by their diff_id: decide before reading.
        const known = await this.knownLayer(`sha256:${named[1]}`);
        if (known) return void this.held.set(name, known);
      } else {
        // Legacy archives don't say which layer this is until it has been hashed: hold it.
        const raw = createHash('sha256');
        const parts: Buffer[] = [];
        for await (const c of rest()) {
          raw.update(c);
          parts.push(c);
        }
        const known = await this.knownLayer(`sha256:${raw.digest('hex')}`);
        if (known) return void this.held.set(name, known);
        return this.startCompression(name, parts);
      }
    }
    return this.startCompression(name, rest());
  }

  private async knownLayer(diffId: string): Promise<Held | undefined> {
    const cached = await reusableLayer(this.options.layerCache, this.ctx, diffId);
    return cached && { kind: 'known', diffId, ...cached };
  }

  private async startCompression(name: string, chunks: AsyncIterable<Buffer> | Buffer[]): Promise<void> {
    const compressor = new LayerCompressor(this.compression, this.budget, this.blockSize);
    for await (const c of chunks) await compressor.write(c);
    const result = compressor.end();
    this.held.set(name, { kind: 'compressing', result });
    // Upload as soon as this layer is compressed, while later ones still stream in.
    result
      .then(
        (r) => this.emit(this.store.add(r.digest, r.size, this.layerType, r.chunks)),
        () => {},
      )
      .catch(() => {});
  }

  /** Each blob becomes uploadable once. */
  private async emit(b: Blob | Promise<Blob>): Promise<void> {
    const blob = await b;
    if (this.emitted.has(blob.digest)) return;
    this.emitted.add(blob.digest);
    this.queue.push(blob);
  }

  private resolveName(name: string): string {
    let n = path.normalize(name);
    for (let i = 0; i < 10 && this.links.has(n); i++) n = this.links.get(n) as string;
    return n;
  }

  private rawOf(name: string, what: string): Buffer {
    const h = this.held.get(this.resolveName(name));
    if (h?.kind !== 'raw') throw new OciError(`docker image archive has no ${what} (${name})`, INCOMPLETE);
    return h.bytes;
  }

  /** The manifest: the archive's one image, its config checked, each layer matched to its diff_id. */
  private async assemble(): Promise<ImageManifests> {
    const entry = this.imageEntry();
    const configBytes = this.rawOf(entry.Config, 'image config');
    const configDigest = sha256Digest(configBytes);
    if (this.options.expectConfigDigest !== undefined && this.options.expectConfigDigest !== configDigest) {
      throw new OciError(
        `the docker engine exported image ${configDigest}, not the expected ${this.options.expectConfigDigest}`,
        'the tag moved while pushing; push again',
      );
    }
    const config = JSON.parse(configBytes.toString('utf8')) as { rootfs?: { diff_ids?: string[] } };
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== entry.Layers.length) {
      throw new OciError(`image config lists ${diffIds.length} layers but the archive has ${entry.Layers.length}`, DAMAGED);
    }
    const layers: LayerDescriptor[] = [];
    for (const [i, name] of entry.Layers.entries()) layers.push(await this.layerDescriptor(i, name, diffIds[i] as string));
    await this.emit(BlobStore.memory(configDigest, configBytes.length, configMediaType(this.format), [configBytes]));
    return imageManifest(this.format, configBytes, layers);
  }

  /** The manifest.json entry of the image asked for (or the only one). */
  private imageEntry(): ManifestJsonEntry {
    let entries: ManifestJsonEntry[];
    try {
      entries = JSON.parse(this.rawOf('manifest.json', 'manifest.json').toString('utf8')) as ManifestJsonEntry[];
    } catch (err) {
      if (err instanceof OciError) throw err;
      throw new OciError('docker image archive has an unreadable manifest.json', DAMAGED);
    }
    const wanted = this.options.image;
    let entry = entries[0];
    if (wanted !== undefined && entries.length > 1) entry = entries.find((e) => e.RepoTags?.includes(wanted));
    if (!entry || (entries.length > 1 && wanted === undefined)) {
      throw new OciError(`docker image archive holds ${entries.length} images; expected one`, 'export a single image');
    }
    return entry;
  }

  /** Layer `i` of the manifest, compressed if it was held raw, checked against its diff_id. */
  private async layerDescriptor(i: number, name: string, diffId: string): Promise<LayerDescriptor> {
    const key = this.resolveName(name);
    let h = this.held.get(key);
    if (!h) throw new OciError(`docker image archive is missing layer ${name}`, INCOMPLETE);
    if (h.kind === 'raw' && (startsWith(h.bytes, GZIP_MAGIC) || startsWith(h.bytes, ZSTD_MAGIC))) {
      const mediaType = compressedLayerType(startsWith(h.bytes, ZSTD_MAGIC) ? 'zstd' : 'gzip', this.format);
      h = { kind: 'precompressed', digest: sha256Digest(h.bytes), size: h.bytes.length, chunks: [h.bytes], mediaType };
      this.held.set(key, h);
      await this.emit(this.store.add(h.digest, h.size, h.mediaType, h.chunks));
    }
    if (h.kind === 'raw') {
      const c = new LayerCompressor(this.compression, this.budget, this.blockSize);
      await c.write(h.bytes);
      h = { kind: 'compressing', result: c.end() };
      this.held.set(key, h);
    }
    if (h.kind === 'precompressed') return { mediaType: h.mediaType, digest: h.digest, size: h.size };
    if (h.kind === 'known') {
      if (h.diffId !== diffId) throw new OciError(`layer ${i + 1} (${name}) hashes to ${h.diffId} but the image config says ${diffId}`, DAMAGED);
      return { mediaType: h.mediaType, digest: h.digest, size: h.size };
    }
    const r = await h.result;
    if (r.diffId !== diffId) throw new OciError(`layer ${i + 1} (${name}) hashes to ${r.diffId} but the image config says ${diffId}`, DAMAGED);
    await this.emit(this.store.add(r.digest, r.size, this.layerType, r.chunks));
    return { mediaType: this.layerType, digest: r.digest, size: r.size };
  }
}

async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of chunks) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

/** A `docker save` tar stream as an ImageSource (see DockerArchiveSource). */
export function dockerArchiveSource(open: () => Promise<Readable> | Readable, options: DockerArchiveOptions = {}): ImageSource {
  return new DockerArchiveSource(open, options);
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
