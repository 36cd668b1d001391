import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { OciError } from './errors.ts';

export type Compression =
  | { algorithm: 'gzip'; level?: number }
  | { algorithm: 'zstd'; level?: number };

export const DEFAULT_COMPRESSION: Compression = { algorithm: 'gzip', level: 6 };

/** Node ≥ 22.15 ships zstd in zlib; older runtimes don't. */
export function zstdAvailable(): boolean {
  return typeof (zlib as { createZstdCompress?: unknown }).createZstdCompress === 'function';
}

/** Parse the `compression` input: `gzip`, `gzip:1`…`gzip:9`, `zstd`, `zstd:1`…`zstd:19`. */
export function parseCompression(value: string): Compression {
  const m = /^(gzip|zstd)(?::(\d{1,2}))?$/.exec(value.trim());
  if (!m) throw new OciError(`compression ${JSON.stringify(value)} is not understood`, 'use gzip, gzip:<1-9>, zstd or zstd:<1-19>');
  const algorithm = m[1] as 'gzip' | 'zstd';
  const level = m[2] === undefined ? undefined : Number(m[2]);
  if (algorithm === 'gzip' && level !== undefined && (level < 1 || level > 9)) throw new OciError(`gzip level ${level} is out of range`, 'use 1 (fastest) to 9 (smallest)');
  if (algorithm === 'zstd') {
    if (level !== undefined && (level < 1 || level > 19)) throw new OciError(`zstd level ${level} is out of range`, 'use 1 (fastest) to 19 (smallest)');
    if (!zstdAvailable()) throw new OciError('zstd compression needs Node 22.15 or newer', 'use gzip or run on Node 24');
  }
  return level === undefined ? { algorithm } : { algorithm, level };
}

export function layerMediaType(c: Compression, format: 'oci' | 'docker'): string {
  if (format === 'docker') {
    if (c.algorithm !== 'gzip') throw new OciError('zstd layers need an OCI manifest', 'use manifest format oci with zstd');
    return 'application/vnd.docker.image.rootfs.diff.tar.gzip';
  }
  return c.algorithm === 'gzip' ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.oci.image.layer.v1.tar+zstd';
}

function createCompressor(c: Compression): zlib.Gzip | zlib.ZstdCompress {
  if (c.algorithm === 'gzip') return zlib.createGzip({ level: c.level ?? 6, memLevel: 9 });
  return zlib.createZstdCompress({ params: { [zlib.constants.ZSTD_c_compressionLevel]: c.level ?? 3 } });
}

/** A finished compressed layer held in memory. */
export interface CompressedLayer {
  digest: string;
  size: number;
  /** sha256 of the uncompressed tar: the layer's diff_id. */
  diffId: string;
  uncompressedSize: number;
  chunks: Buffer[];
}

export function memoryStream(chunks: Buffer[], range?: { start: number; end: number }): Readable {
  if (!range) return Readable.from(chunks, { objectMode: false });
  const out: Buffer[] = [];
  let pos = 0;
  for (const c of chunks) {
    const s = Math.max(range.start, pos);
    const e = Math.min(range.end, pos + c.length);
    if (s < e) out.push(c.subarray(s - pos, e - pos));
    pos += c.length;
    if (pos >= range.end) break;
  }
  return Readable.from(out, { objectMode: false });
}

/**
 * Compresses one layer while it streams in, hashing both sides. zlib work runs on libuv's
 * thread pool, so several of these progress in parallel while the caller feeds the next layer;
 * `write` only waits when the shared budget of queued input is exceeded.
 */
export class LayerCompressor {
  private readonly z: zlib.Gzip | zlib.ZstdCompress;
  private readonly rawHash = createHash('sha256');
  private readonly zHash = createHash('sha256');
  private readonly chunks: Buffer[] = [];
  private rawSize = 0;
  private zSize = 0;
  private readonly done: Promise<CompressedLayer>;
  private readonly budget: InputBudget;

  constructor(c: Compression, budget: InputBudget) {
    this.budget = budget;
    this.z = createCompressor(c);
    this.z.on('data', (chunk: Buffer) => {
      this.zHash.update(chunk);
      this.zSize += chunk.length;
      this.chunks.push(chunk);
    });
    this.done = new Promise((resolve, reject) => {
      this.z.once('error', reject);
      this.z.once('end', () => resolve({
        digest: `sha256:${this.zHash.digest('hex')}`,
        size: this.zSize,
        diffId: `sha256:${this.rawHash.digest('hex')}`,
        uncompressedSize: this.rawSize,
        chunks: this.chunks,
      }));
    });
    // Keep the unhandled-rejection tracker quiet; callers observe errors through result().
    this.done.catch(() => {});
  }

  async write(chunk: Buffer): Promise<void> {
    this.rawHash.update(chunk);
    this.rawSize += chunk.length;
    this.budget.add(chunk.length);
    // Copy: the tar reader hands out views into its own buffer.
    this.z.write(Buffer.from(chunk), () => this.budget.release(chunk.length));
    await this.budget.wait();
  }

  end(): Promise<CompressedLayer> {
    this.z.end();
    return this.done;
  }
}

/** Bytes handed to compressors but not yet consumed by them, across all layers. */
export class InputBudget {
  private pending = 0;
  private waiters: Array<() => void> = [];
  readonly limit: number;
  constructor(limit: number) {
    this.limit = limit;
  }
  add(n: number): void {
    this.pending += n;
  }
  release(n: number): void {
    this.pending -= n;
    if (this.pending <= this.limit) {
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    }
  }
  wait(): Promise<void> {
    if (this.pending <= this.limit) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }
}
