import { createHash } from 'node:crypto';
import path from 'node:path/posix';
import type { Readable } from 'node:stream';
import {
  type CompressedLayer,
  type Compression,
  DEFAULT_BLOCK_SIZE,
  DEFAULT_COMPRESSION,
  InputBudget,
  LayerCompressor,
  layerMediaType,
  memoryStream,
} from './compress.ts';
import { sha256Digest } from './digest.ts';
import { OciError } from './errors.ts';
import type { Blob, ImageManifests, ImageSource } from './source.ts';
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
  description?: string;
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
  | { kind: 'compressing'; result: Promise<CompressedLayer> }
  | { kind: 'precompressed'; digest: string; size: number; chunks: Buffer[]; mediaType: string };

/** Pushes items to one consumer; the producer runs ahead, the consumer awaits. */
class AsyncQueue<T> {
  private items: T[] = [];
  private waiting: ((r: IteratorResult<T>) => void) | undefined;
  private failed: unknown;
  private closed = false;
  push(item: T): void {
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = undefined;
      w({ value: item, done: false });
    } else this.items.push(item);
  }
  close(err?: unknown): void {
    this.closed = true;
    this.failed = err;
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = undefined;
      if (err) this.reject?.(err);
      else w({ value: undefined, done: true });
    }
  }
  private reject: ((e: unknown) => void) | undefined;
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
        this.waiting = resolve;
        this.reject = reject;
      });
      if (r.done) return;
      yield r.value;
    }
  }
}

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
  let started: Promise<ImageManifests> | undefined;

  const memBlob = (digest: string, size: number, mediaType: string, chunks: Buffer[]): Blob => ({
    digest,
    size,
    mediaType,
    open: (range) => memoryStream(chunks, range),
    // We hashed these bytes ourselves while compressing.
    verified: true,
  });

  let opened: Readable | undefined;
  let closed = false;
  const consume = async (): Promise<ImageManifests> => {
    const stream = await open();
    opened = stream;
    if (closed) stream.destroy();
    const emitted = new Set<string>();
    const emit = (b: Blob) => {
      if (emitted.has(b.digest)) return;
      emitted.add(b.digest);
      queue.push(b);
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
      let compressor: LayerCompressor | undefined;
      let pre: { hash: ReturnType<typeof createHash>; chunks: Buffer[]; size: number; mediaType: string } | undefined;
      for await (const chunk of body) {
        if (!compressor && !pre) {
          // Layers already compressed in the store (containerd snapshotter) are pushed as they are.
          if (startsWith(chunk, GZIP_MAGIC))
            pre = {
              hash: createHash('sha256'),
              chunks: [],
              size: 0,
              mediaType: format === 'docker' ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : 'application/vnd.oci.image.layer.v1.tar+gzip',
            };
          else if (startsWith(chunk, ZSTD_MAGIC))
            pre = { hash: createHash('sha256'), chunks: [], size: 0, mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd' };
          else compressor = new LayerCompressor(compression, budget, blockSize);
        }
        if (pre) {
          const copy = Buffer.from(chunk);
          pre.hash.update(copy);
          pre.chunks.push(copy);
          pre.size += copy.length;
        } else await compressor!.write(chunk);
      }
      if (pre) {
        const digest = `sha256:${pre.hash.digest('hex')}`;
        held.set(entry.name, { kind: 'precompressed', digest, size: pre.size, chunks: pre.chunks, mediaType: pre.mediaType });
        emit(memBlob(digest, pre.size, pre.mediaType, pre.chunks));
      } else if (compressor) {
        const result = compressor.end();
        held.set(entry.name, { kind: 'compressing', result });
        // Upload as soon as this layer is compressed, while later ones still stream in.
        result.then(
          (r) => emit(memBlob(r.digest, r.size, layerType, r.chunks)),
          () => {},
        );
      }
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

  const finish = async (emit: (b: Blob) => void): Promise<ImageManifests> => {
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
        emit(memBlob(h.digest, h.size, h.mediaType, h.chunks));
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
      const r = await h.result;
      if (r.diffId !== diffIds[i]) {
        throw new OciError(`layer ${i + 1} (${name}) hashes to ${r.diffId} but the image config says ${diffIds[i]}`, 'the image export is damaged; try again');
      }
      emit(memBlob(r.digest, r.size, layerType, r.chunks));
      layers.push({ mediaType: layerType, digest: r.digest, size: r.size });
    }
    const configType = format === 'docker' ? 'application/vnd.docker.container.image.v1+json' : 'application/vnd.oci.image.config.v1+json';
    emit(memBlob(configDigest, configBytes.length, configType, [configBytes]));
    const manifest =
      format === 'docker'
        ? {
            schemaVersion: 2,
            mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
            config: { mediaType: configType, size: configBytes.length, digest: configDigest },
            layers,
          }
        : {
            schemaVersion: 2,
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            config: { mediaType: configType, digest: configDigest, size: configBytes.length },
            layers,
          };
    const bytes = Buffer.from(JSON.stringify(manifest));
    return { root: { digest: sha256Digest(bytes), mediaType: manifest.mediaType, bytes }, children: [], configDigest };
  };

  const start = () => {
    started ??= consume().then(
      (m) => {
        queue.close();
        return m;
      },
      (err: unknown) => {
        queue.close(err);
        throw err;
      },
    );
    started.catch(() => {});
    return started;
  };

  return {
    description: options.description ?? 'docker-archive',
    blobs() {
      void start();
      return queue[Symbol.asyncIterator]();
    },
    manifests: () => start(),
    close: async () => {
      closed = true;
      opened?.destroy();
      // Compressed layers can be hundreds of MiB; let them go once the push is over.
      held.clear();
    },
  };
}

/** A `docker save` tarball on disk as a source. */
export function dockerArchiveFileSource(file: string, options: DockerArchiveOptions = {}): ImageSource {
  return dockerArchiveSource(
    async () => {
      const { createReadStream } = await import('node:fs');
      const { stat } = await import('node:fs/promises');
      await stat(file).catch(() => {
        throw new OciError(`docker archive ${file} does not exist`, 'write it with docker save -o <file> <image>');
      });
      return createReadStream(file, { highWaterMark: 1024 * 1024 });
    },
    { description: `docker-archive:${file}`, ...options },
  );
}
