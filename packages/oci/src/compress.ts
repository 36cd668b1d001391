import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { Pool } from '@shipline/kit/pool';
import { OciError } from './errors.ts';
import { compressedLayerType } from './media-types.ts';

export type Compression = { algorithm: 'gzip'; level?: number } | { algorithm: 'zstd'; level?: number };

// Speed over the last few percent of size, as go-containerregistry (crane) does: in a CI push the
// compression is on the critical path, and level 6 costs ~1.8x the CPU for ~8% smaller layers.
export const DEFAULT_GZIP_LEVEL = 1;
export const DEFAULT_ZSTD_LEVEL = 3;
export const DEFAULT_COMPRESSION: Compression = { algorithm: 'gzip', level: DEFAULT_GZIP_LEVEL };

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
  if (algorithm === 'gzip' && level !== undefined && (level < 1 || level > 9))
    throw new OciError(`gzip level ${level} is out of range`, 'use 1 (fastest) to 9 (smallest)');
  if (algorithm === 'zstd') {
    if (level !== undefined && (level < 1 || level > 19)) throw new OciError(`zstd level ${level} is out of range`, 'use 1 (fastest) to 19 (smallest)');
    if (!zstdAvailable()) throw new OciError('zstd compression needs Node 22.15 or newer', 'use gzip or run on Node 24');
  }
  return level === undefined ? { algorithm } : { algorithm, level };
}

export function layerMediaType(c: Compression, format: 'oci' | 'docker'): string {
  if (format === 'docker') {
    if (c.algorithm !== 'gzip') throw new OciError('zstd layers need an OCI manifest', 'use manifest format oci with zstd');
  }
  return compressedLayerType(c.algorithm, format);
}

function createCompressor(c: Compression): zlib.Gzip | zlib.ZstdCompress {
  if (c.algorithm === 'gzip') return zlib.createGzip({ level: c.level ?? DEFAULT_GZIP_LEVEL, memLevel: 9 });
  return zlib.createZstdCompress({ params: { [zlib.constants.ZSTD_c_compressionLevel]: c.level ?? DEFAULT_ZSTD_LEVEL } });
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
 * Shannon entropy of a few samples, in bits per byte. Already-compressed or encrypted content
 * (archives, images, random data) sits near 8; text and binaries well below.
 */
export function sampleEntropy(block: Buffer, sampleSize = 16 * 1024): number {
  if (block.length === 0) return 0;
  const counts = new Uint32Array(256);
  let total = 0;
  const starts = block.length <= 3 * sampleSize ? [0] : [0, Math.floor(block.length / 2), block.length - sampleSize];
  for (const start of starts) {
    const end = Math.min(block.length, start + (starts.length === 1 ? block.length : sampleSize));
    for (let i = start; i < end; i++) counts[block[i]!]!++;
    total += end - start;
  }
  let h = 0;
  for (const n of counts) {
    if (n) {
      const p = n / total;
      h -= p * Math.log2(p);
    }
  }
  return h;
}

// zlib spends most of its time failing to find matches in incompressible data (Go's flate and
// pigz bail out early; zlib does not), so such blocks are stored: same bytes out, ~free.
const INCOMPRESSIBLE_BITS = 7.97;

// One block per core at a time: more only thrashes the thread pool (and starves the sockets
// that share it); queued blocks wait here, in order. Shared by every push in the process, so
// one failed block must not stop another's: settle-all.
const compressSlots = new Pool(Math.max(1, availableParallelism()), 'settle-all');

function compressBlock(c: Compression, block: Buffer): Promise<Buffer> {
  return compressSlots.run(
    () =>
      new Promise<Buffer>((resolve, reject) => {
        const done = (err: Error | null, out: Buffer) => (err ? reject(err) : resolve(out));
        // A large chunkSize: zlib's convenience API returns to the main thread once per chunk.
        const chunkSize = Math.max(64 * 1024, Math.min(block.length + 1024, 8 * 1024 * 1024));
        if (c.algorithm === 'gzip')
          zlib.gzip(
            block,
            { level: block.length >= 64 * 1024 && sampleEntropy(block) > INCOMPRESSIBLE_BITS ? 0 : (c.level ?? DEFAULT_GZIP_LEVEL), memLevel: 9, chunkSize },
            done,
          );
        else zlib.zstdCompress(block, { chunkSize, params: { [zlib.constants.ZSTD_c_compressionLevel]: c.level ?? DEFAULT_ZSTD_LEVEL } }, done);
      }),
  );
}

/** Default size of independently compressed blocks (see LayerCompressor). */
export const DEFAULT_BLOCK_SIZE = 4 * 1024 * 1024;

/**
 * Compresses one layer while it streams in, hashing both sides. The input is cut into blocks
 * compressed independently on libuv's thread pool (pigz-style) and concatenated in order:
 * a multi-member gzip / multi-frame zstd stream, which every gzip and zstd reader (Go's, so
 * containerd's and docker's) decodes as one. That keeps every core busy even for an image
 * whose size is all in one layer; the cost is a few bytes per block. blockSize 0 gives one
 * classic single-member stream instead. `write` only waits when the shared budget of queued
 * input is exceeded.
 */
export class LayerCompressor {
  private readonly c: Compression;
  private readonly blockSize: number;
  private readonly rawHash = createHash('sha256');
  private rawSize = 0;
  private readonly budget: InputBudget;
  private pendingParts: Buffer[] = [];
  private pendingSize = 0;
  private readonly jobs: Array<Promise<Buffer>> = [];
  private readonly stream: zlib.Gzip | zlib.ZstdCompress | undefined;
  private readonly streamOut: Buffer[] = [];
  private readonly streamDone: Promise<void> | undefined;

  constructor(c: Compression, budget: InputBudget, blockSize: number = DEFAULT_BLOCK_SIZE) {
    this.c = c;
    this.budget = budget;
    this.blockSize = blockSize;
    if (blockSize === 0) {
      const z = createCompressor(c);
      this.stream = z;
      z.on('data', (chunk: Buffer) => this.streamOut.push(chunk));
      this.streamDone = new Promise((resolve, reject) => {
        z.once('error', reject);
        z.once('end', resolve);
      });
      this.streamDone.catch(() => {});
    }
  }

  private flush(): void {
    if (this.pendingSize === 0) return;
    const block = this.pendingParts.length === 1 ? this.pendingParts[0]! : Buffer.concat(this.pendingParts);
    const n = block.length;
    this.pendingParts = [];
    this.pendingSize = 0;
    const job = compressBlock(this.c, block).finally(() => this.budget.release(n));
    job.catch(() => {});
    this.jobs.push(job);
  }

  async write(chunk: Buffer): Promise<void> {
    this.rawHash.update(chunk);
    this.rawSize += chunk.length;
    this.budget.add(chunk.length);
    // No copy: the tar reader hands out views of buffers it never reuses, and flush() copies
    // them into the block anyway.
    const copy = chunk;
    if (this.stream) {
      this.stream.write(copy, () => this.budget.release(copy.length));
    } else {
      let off = 0;
      while (off < copy.length) {
        const take = Math.min(copy.length - off, this.blockSize - this.pendingSize);
        this.pendingParts.push(copy.subarray(off, off + take));
        this.pendingSize += take;
        off += take;
        if (this.pendingSize >= this.blockSize) this.flush();
      }
    }
    await this.budget.wait();
  }

  async end(): Promise<CompressedLayer> {
    let chunks: Buffer[];
    if (this.stream) {
      this.stream.end();
      await this.streamDone;
      chunks = this.streamOut;
    } else {
      this.flush();
      // An empty layer still needs a valid (empty) compressed stream.
      if (this.jobs.length === 0) this.jobs.push(compressBlock(this.c, Buffer.alloc(0)));
      chunks = await Promise.all(this.jobs);
    }
    const zHash = createHash('sha256');
    let size = 0;
    for (const c of chunks) {
      zHash.update(c);
      size += c.length;
    }
    return { digest: `sha256:${zHash.digest('hex')}`, size, diffId: `sha256:${this.rawHash.digest('hex')}`, uncompressedSize: this.rawSize, chunks };
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
