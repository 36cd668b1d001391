import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { OciError } from './errors.ts';

const DIGEST = /^sha256:[a-f0-9]{64}$/;

export function sha256Digest(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function isSha256Digest(value: string): boolean {
  return DIGEST.test(value);
}

export function assertDigest(value: unknown, where: string): string {
  if (typeof value !== 'string' || !DIGEST.test(value)) {
    throw new OciError(`${where}: ${JSON.stringify(value)} is not a sha256 digest`, 'the image data is corrupt or uses an unsupported digest algorithm');
  }
  return value;
}

/** Pass-through that hashes and counts what flows, reporting byte deltas as they pass. */
export class DigestingStream extends Transform {
  private readonly hash: Hash = createHash('sha256');
  bytes = 0;
  private readonly onBytes: ((n: number) => void) | undefined;
  constructor(onBytes?: (n: number) => void) {
    super();
    this.onBytes = onBytes;
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.onBytes?.(chunk.length);
    cb(null, chunk);
  }
  /** Only valid once the stream has ended. */
  digest(): string {
    return `sha256:${this.hash.digest('hex')}`;
  }
}
