// Reads an image straight out of a local dockerd's overlay2 store instead of exporting it.
//
// `docker save` (GET /images/get) on the engines Debian and Ubuntu ship first copies every layer
// into a temporary directory and only then streams the tar, so an export-based push waits for a
// full copy of the image before the last layer can be compressed. The daemon already keeps what
// it needs to rebuild each layer's tar byte for byte: the layer's files (overlay2/<cache-id>/diff)
// and a tar-split record (the raw tar headers and padding, plus the name and size of every file
// body), which is how dockerd itself answers `docker save` and `docker push`. Reassembling from
// those gives the very bytes of the export, layers in parallel, with no copy.
//
// This only works on the daemon's own machine, for a process allowed to read its data root
// (root, usually). Everything read is checked: the config must hash to the image ID, each layer
// record must name the diff_id the config lists, and each rebuilt tar must hash to that diff_id.
// Anything else (remote daemon, other storage driver, no permission, a mismatch) falls back to
// the export, so the result is the same either way.
import { constants } from 'node:fs';
import { access, open, readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { pool } from '@shipline/kit/pool';
import { type CompressedLayer, type Compression, DEFAULT_BLOCK_SIZE, DEFAULT_COMPRESSION, InputBudget, LayerCompressor, layerMediaType } from './compress.ts';
import { sha256Digest } from './digest.ts';
import { type LayerCache, reusableLayer } from './docker-archive.ts';
import { AsyncQueue, BlobStore, configMediaType, imageManifest, type LayerDescriptor, once } from './image-blobs.ts';
import type { Blob, BlobContext, ImageManifests, ImageSource } from './source.ts';

const gunzip = promisify(zlib.gunzip);

/** One layer of an image as the overlay2 driver keeps it. */
export interface StoredLayer {
  diffId: string;
  /** The layer's files: <root>/overlay2/<cache-id>/diff. */
  dir: string;
  /** <root>/image/overlay2/layerdb/sha256/<chain-id>/tar-split.json.gz */
  tarSplit: string;
}

export interface StoredImage {
  /** The config exactly as stored; its sha256 is the image ID. */
  config: Buffer;
  layers: StoredLayer[];
}

/** Chain IDs as the layer store names them: chain(1) = diff(1), chain(n) = sha256(chain(n-1) + " " + diff(n)). */
export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) out.push(out.length === 0 ? d : sha256Digest(`${out[out.length - 1]} ${d}`));
  return out;
}

const HEX = /^sha256:[a-f0-9]{64}$/;

/**
 * Finds `imageId` in an overlay2 data root (DockerRootDir), or says why it can't be read here.
 * Every file is checked against the content addresses the daemon gave, so a data root that is
 * not the daemon's (another mount namespace, a stale copy) is never trusted.
 */
export async function findStoredImage(root: string, imageId: string): Promise<StoredImage | string> {
  if (!HEX.test(imageId)) return `image ID ${imageId} is not a sha256 digest`;
  const db = path.join(root, 'image', 'overlay2');
  let config: Buffer;
  try {
    config = await readFile(path.join(db, 'imagedb', 'content', 'sha256', imageId.slice(7)));
  } catch (err) {
    return `cannot read the image store under ${root} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
  }
  if (sha256Digest(config) !== imageId) return `the image store under ${root} is not the daemon's (config digest differs)`;
  let diffIds: unknown;
  try {
    diffIds = (JSON.parse(config.toString('utf8')) as { rootfs?: { diff_ids?: unknown } }).rootfs?.diff_ids;
  } catch {
    return 'the image config is not JSON';
  }
  if (!Array.isArray(diffIds) || !diffIds.every((d): d is string => typeof d === 'string' && HEX.test(d))) return 'the image config lists no usable diff_ids';
  const layers: StoredLayer[] = [];
  for (const [i, chain] of chainIds(diffIds).entries()) {
    const dir = path.join(db, 'layerdb', 'sha256', chain.slice(7));
    try {
      const [diff, cacheId] = await Promise.all([readFile(path.join(dir, 'diff'), 'utf8'), readFile(path.join(dir, 'cache-id'), 'utf8')]);
      if (diff.trim() !== diffIds[i]) return `layer record ${chain} names ${diff.trim()}, not ${diffIds[i]}`;
      if (!/^[A-Za-z0-9_-]+$/.test(cacheId.trim())) return `layer ${diffIds[i]} has an unexpected cache-id`;
      const tarSplit = path.join(dir, 'tar-split.json.gz');
      const files = path.join(root, 'overlay2', cacheId.trim(), 'diff');
      await Promise.all([access(tarSplit, constants.R_OK), access(files, constants.R_OK | constants.X_OK)]);
      layers.push({ diffId: diffIds[i]!, dir: files, tarSplit });
    } catch (err) {
      return `layer ${diffIds[i]} is not readable in the store (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
    }
  }
  return { config, layers };
}

interface SplitEntry {
  type: number;
  name?: string;
  name_raw?: string;
  size?: number;
  payload?: string | null;
}

/** Thrown when the store's bytes don't rebuild the layer the config names. */
export class StoreMismatch extends Error {}

// File bodies up to this size are read whole, several at a time; larger ones in chunks.
const SMALL_FILE = 1024 * 1024;
const CHUNK = 4 * 1024 * 1024;
// Headers and small bodies are gathered into writes of about this size.
const BATCH = 256 * 1024;

/** A file body of `size` bytes, in chunks; a file of another size (or a symlink) is a mismatch. */
async function* readBody(file: string, size: number): AsyncGenerator<Buffer> {
  const fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    if ((await fh.stat()).size !== size) throw new StoreMismatch(`${file} is not ${size} bytes`);
    let off = 0;
    while (off < size) {
      const buf = Buffer.allocUnsafe(Math.min(CHUNK, size - off));
      const { bytesRead } = await fh.read(buf, 0, buf.length, off);
      if (bytesRead === 0) throw new StoreMismatch(`${file} ended early`);
      off += bytesRead;
      yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}

async function readWhole(file: string, size: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of readBody(file, size)) parts.push(c);
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
}

/**
 * The layer's tar, rebuilt from its tar-split record and its files, as a stream of buffers that
 * are never reused (the compressor keeps views of them).
 */
export async function* assembleLayer(layer: StoredLayer): AsyncGenerator<Buffer> {
  const lines = (await gunzip(await readFile(layer.tarSplit))).toString('utf8').split('\n');
  const root = await realpath(layer.dir);
  const fileOf = async (e: SplitEntry): Promise<string> => {
    const name = e.name_raw ? Buffer.from(e.name_raw, 'base64').toString('latin1') : (e.name ?? '');
    // Stay inside the layer even for a name with `..` or a symlinked parent directory.
    const full = path.join(root, path.posix.normalize(`/${name}`));
    const real = await realpath(full);
    if (real !== full && !real.startsWith(`${root}/`)) throw new StoreMismatch(`${name} leads outside the layer`);
    return real;
  };
  // Small file bodies are read up to 16 entries ahead; large ones stream when their turn comes.
  const entries: SplitEntry[] = [];
  for (const line of lines) if (line.trim()) entries.push(JSON.parse(line) as SplitEntry);
  const ahead = new Map<number, Promise<Buffer>>();
  let next = 0;
  const prefetch = (from: number) => {
    for (let j = Math.max(next, from); j < entries.length && ahead.size < 16; j++) {
      next = j + 1;
      const e = entries[j]!;
      const size = e.size ?? 0;
      if (e.type !== 1 || size === 0) continue;
      if (size > SMALL_FILE) break;
      const p = fileOf(e).then((f) => readWhole(f, size));
      p.catch(() => {});
      ahead.set(j, p);
    }
  };
  let batch: Buffer[] = [];
  let batched = 0;
  const take = () => {
    const out = batch.length === 1 ? batch[0]! : Buffer.concat(batch, batched);
    batch = [];
    batched = 0;
    return out;
  };
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    let body: Buffer | undefined;
    if (e.type === 2) {
      body = Buffer.from(e.payload ?? '', 'base64');
    } else if (e.type === 1 && (e.size ?? 0) > 0) {
      prefetch(i);
      const pending = ahead.get(i);
      if (pending) {
        ahead.delete(i);
        body = await pending;
      } else {
        // A large body: stream it after what is batched so far.
        if (batched) yield take();
        yield* readBody(await fileOf(e), e.size as number);
        continue;
      }
    } else if (e.type !== 1) {
      throw new StoreMismatch(`tar-split entry of unknown type ${e.type}`);
    }
    if (body?.length) {
      batch.push(body);
      batched += body.length;
      if (batched >= BATCH) yield take();
    }
  }
  if (batched) yield take();
}

export interface DockerStoreOptions {
  compression?: Compression;
  manifestFormat?: 'oci' | 'docker';
  blockSize?: number;
  inputBudget?: number;
  memoryLimit?: number;
  layerCache?: LayerCache;
  description?: string;
  /** Layers read at once. Default 3. */
  layerConcurrency?: number;
  /** Where the same image comes from when the store can't rebuild a layer (the export). */
  fallback: () => ImageSource;
  /** Told when the store did not rebuild the image and the export takes over (worth a warning). */
  warn?: (line: string) => void;
}

/**
 * An ImageSource over a StoredImage: layers are rebuilt and compressed in parallel and each is
 * yielded once compressed; the manifest is made once every layer hashed to its diff_id. Should a
 * layer not rebuild exactly, the source says so in the log and continues from `fallback`.
 */
export function dockerStoreSource(image: StoredImage, options: DockerStoreOptions): ImageSource {
  const compression = options.compression ?? DEFAULT_COMPRESSION;
  const format = options.manifestFormat ?? 'oci';
  const layerType = layerMediaType(compression, format);
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  const budget = new InputBudget(Math.max(options.inputBudget ?? 256 * 1024 * 1024, 2 * blockSize));
  const store = new BlobStore(options.memoryLimit);
  const queue = new AsyncQueue<Blob>();
  const layerConcurrency = options.layerConcurrency ?? 3;
  const compressed: CompressedLayer[] = [];
  const emitted = new Set<string>();
  const emit = (b: Blob) => {
    if (emitted.has(b.digest)) return;
    emitted.add(b.digest);
    queue.push(b);
  };
  let ctx: BlobContext | undefined;
  let fallback: ImageSource | undefined;
  let aborted = false;
  let closed = false;

  const rebuild = async (l: StoredLayer, i: number): Promise<LayerDescriptor> => {
    const cached = await reusableLayer(options.layerCache, ctx, l.diffId);
    if (cached) return cached;
    if (aborted) throw new StoreMismatch('aborted');
    const c = new LayerCompressor(compression, budget, blockSize);
    for await (const chunk of assembleLayer(l)) {
      if (aborted) throw new StoreMismatch('aborted');
      await c.write(chunk);
    }
    const r = await c.end();
    if (r.diffId !== l.diffId) throw new StoreMismatch(`layer ${i + 1} rebuilt as ${r.diffId}, not ${l.diffId}`);
    compressed.push(r);
    emit(await store.add(r.digest, r.size, layerType, r.chunks));
    return { mediaType: layerType, digest: r.digest, size: r.size };
  };
  const layer = (l: StoredLayer, i: number): Promise<LayerDescriptor> =>
    rebuild(l, i).catch((err: unknown) => {
      // Stop the layers still running early (the pool starts no new one): the export redoes them.
      aborted = true;
      throw err;
    });

  const direct = async (): Promise<ImageManifests> => {
    // The pool throws the first real failure; the layers it stopped only say 'aborted'.
    const layers = await pool(image.layers, layerConcurrency, layer);
    emit(BlobStore.memory(sha256Digest(image.config), image.config.length, configMediaType(format), [image.config]));
    return imageManifest(format, image.config, layers);
  };

  const consume = async (): Promise<ImageManifests> => {
    try {
      return await direct();
    } catch (err) {
      if (closed) throw err;
      aborted = true;
      const reason = err instanceof StoreMismatch ? err.message : `${(err as NodeJS.ErrnoException).code ?? ''} ${(err as Error).message}`.trim();
      options.warn?.(`reading the docker store directly failed (${reason}); exporting the image instead`);
      fallback = options.fallback();
      for await (const b of fallback.blobs(ctx)) emit(b);
      return fallback.manifests();
    }
  };

  const start = once(queue, consume);

  return {
    description: options.description ?? 'docker-store',
    blobs(context?: BlobContext) {
      ctx ??= context;
      void start();
      return queue[Symbol.asyncIterator]();
    },
    manifests: () => start(),
    pushed: async (m) => {
      if (fallback) return fallback.pushed?.(m);
      for (const r of compressed) await options.layerCache?.put(r.diffId, { digest: r.digest, size: r.size, mediaType: layerType });
    },
    close: async () => {
      closed = true;
      aborted = true;
      compressed.length = 0;
      await Promise.all([store.close(), fallback?.close?.()]);
    },
  };
}
