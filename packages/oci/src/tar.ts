import type { Readable } from 'node:stream';
import { OciError } from './errors.ts';

export interface TarEntry {
  name: string;
  size: number;
  /** '0' file, '5' directory, '2' symlink, ... (normalised: '\0' becomes '0'). */
  type: string;
  linkname: string;
}

const BLOCK = 512;

function field(buf: Buffer, off: number, len: number): string {
  const slice = buf.subarray(off, off + len);
  const nul = slice.indexOf(0);
  return slice.subarray(0, nul < 0 ? len : nul).toString('utf8');
}

function octal(buf: Buffer, off: number, len: number): number {
  // GNU base-256 for sizes ≥ 8 GiB: high bit set on the first byte.
  if ((buf[off] ?? 0) & 0x80) {
    let v = 0;
    for (let i = off + 1; i < off + len; i++) v = v * 256 + (buf[i] ?? 0);
    return v;
  }
  const s = field(buf, off, len).trim();
  return s === '' ? 0 : parseInt(s, 8);
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) break;
    const len = Number(data.subarray(i, sp).toString('ascii'));
    if (!len) break;
    const rec = data.subarray(sp + 1, i + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

/** Pulls exact byte counts out of a chunked stream without copying more than needed. */
class ByteReader {
  private readonly it: AsyncIterator<Buffer>;
  private buf: Buffer = Buffer.alloc(0);
  private done = false;
  constructor(stream: AsyncIterable<Buffer>) {
    this.it = stream[Symbol.asyncIterator]();
  }
  private async fill(): Promise<boolean> {
    if (this.done) return false;
    const r = await this.it.next();
    if (r.done) {
      this.done = true;
      return false;
    }
    this.buf = this.buf.length ? Buffer.concat([this.buf, r.value]) : r.value;
    return true;
  }
  async read(n: number): Promise<Buffer | undefined> {
    while (this.buf.length < n) if (!(await this.fill())) return undefined;
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
  /** Yields exactly n bytes in chunks as they arrive. */
  async *stream(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.buf.length === 0 && !(await this.fill()))
        throw new OciError('tar stream ended in the middle of a file', 'the image export was cut short; try again');
      const take = Math.min(left, this.buf.length);
      const out = this.buf.subarray(0, take);
      this.buf = this.buf.subarray(take);
      left -= take;
      yield out;
    }
  }
  async skip(n: number): Promise<void> {
    for await (const _ of this.stream(n)) {
      /* skip */
    }
  }
  async return(): Promise<void> {
    await this.it.return?.();
  }
}

/**
 * Streams a tar archive: yields each entry with its body. The body must be consumed (or
 * ignored — the reader skips what is left) before asking for the next entry.
 */
export async function* readTar(stream: Readable | AsyncIterable<Buffer>): AsyncGenerator<{ entry: TarEntry; body: AsyncGenerator<Buffer> }> {
  const r = new ByteReader(stream as AsyncIterable<Buffer>);
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  try {
    for (;;) {
      const header = await r.read(BLOCK);
      if (!header) return;
      if (header.every((b) => b === 0)) return;
      let sum = 0;
      for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : header[i]!;
      if (sum !== octal(header, 148, 8)) throw new OciError('not a tar archive (bad header checksum)', 'the image export is damaged');
      const size = octal(header, 124, 12);
      const rawType = field(header, 156, 1);
      const type = rawType === '' ? '0' : rawType;
      const padded = Math.ceil(size / BLOCK) * BLOCK;
      if (type === 'x' || type === 'L' || type === 'g') {
        const data = await r.read(padded);
        if (!data) throw new OciError('tar stream ended in a header', 'the image export was cut short');
        if (type === 'x') pax = parsePax(data.subarray(0, size));
        if (type === 'L') longName = field(data, 0, size);
        continue;
      }
      const prefix = field(header, 345, 155);
      let name = field(header, 0, 100);
      if (prefix && field(header, 257, 6).startsWith('ustar')) name = `${prefix}/${name}`;
      if (longName !== undefined) name = longName;
      if (pax.path !== undefined) name = pax.path;
      const entry: TarEntry = {
        name: name.replace(/^\.\//, ''),
        size: pax.size !== undefined ? Number(pax.size) : size,
        type,
        linkname: pax.linkpath ?? field(header, 157, 100),
      };
      pax = {};
      longName = undefined;
      const body = r.stream(entry.size);
      yield { entry, body };
      // Whatever the consumer left unread, skip to the next header.
      for await (const _ of body) {
        /* drain */
      }
      const pad = Math.ceil(entry.size / BLOCK) * BLOCK - entry.size;
      if (pad) await r.skip(pad);
    }
  } finally {
    await r.return();
  }
}

/** A minimal ustar writer for small archives (fixtures and test images). */
export function writeTar(files: Array<{ name: string; data: Buffer | string; mode?: number; type?: '0' | '1' | '2' | '5'; linkname?: string }>): Buffer {
  const parts: Buffer[] = [];
  for (const f of files) {
    const data = typeof f.data === 'string' ? Buffer.from(f.data) : f.data;
    const h = Buffer.alloc(BLOCK);
    if (Buffer.byteLength(f.name) > 100) throw new Error(`tar name too long: ${f.name}`);
    h.write(f.name, 0, 100, 'utf8');
    h.write(`${(f.mode ?? (f.type === '5' ? 0o755 : 0o644)).toString(8).padStart(7, '0')}\0`, 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
    h.write('00000000000\0', 136);
    h.write('        ', 148);
    h.write(f.type ?? '0', 156);
    if (f.linkname) h.write(f.linkname, 157, 100, 'utf8');
    h.write('ustar\0', 257);
    h.write('00', 263);
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += h[i]!;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    parts.push(h, data);
    const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
    if (pad) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}
