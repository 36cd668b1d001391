import { randomBytes } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { InputBudget, LayerCompressor, memoryStream, sampleEntropy } from './compress.ts';
import { sha256Digest } from './digest.ts';

describe('sampleEntropy', () => {
  it('tells random/compressed content from text', () => {
    expect(sampleEntropy(randomBytes(1 << 20))).toBeGreaterThan(7.99);
    expect(sampleEntropy(gzipSync(Buffer.from('hello world '.repeat(100000)).toString() + randomBytes(300000).toString('hex')))).toBeGreaterThan(7.9);
    expect(sampleEntropy(Buffer.from('the quick brown fox jumps over the lazy dog\n'.repeat(50000)))).toBeLessThan(5);
    expect(sampleEntropy(Buffer.alloc(0))).toBe(0);
  });
});

describe('LayerCompressor', () => {
  it('stores incompressible blocks but still produces valid gzip with the right digests', async () => {
    const data = Buffer.concat([randomBytes(3 << 20), Buffer.from('text '.repeat(400000))]);
    const c = new LayerCompressor({ algorithm: 'gzip', level: 6 }, new InputBudget(1 << 30), 1 << 20);
    for (let i = 0; i < data.length; i += 100_000) await c.write(data.subarray(i, i + 100_000));
    const r = await c.end();
    const z = Buffer.concat(r.chunks);
    expect(r.diffId).toBe(sha256Digest(data));
    expect(r.digest).toBe(sha256Digest(z));
    expect(r.size).toBe(z.length);
    expect(gunzipSync(z).equals(data)).toBe(true);
    // Random part ~stored (tiny overhead), text part shrinks a lot.
    expect(z.length).toBeLessThan((3 << 20) + 200_000);
    expect(z.length).toBeGreaterThan(3 << 20);
  });

  it('handles an empty layer', async () => {
    const r = await new LayerCompressor({ algorithm: 'gzip' }, new InputBudget(1 << 20)).end();
    expect(gunzipSync(Buffer.concat(r.chunks)).length).toBe(0);
    expect(r.diffId).toBe(sha256Digest(Buffer.alloc(0)));
  });

  it('memoryStream serves ranges across chunk boundaries', async () => {
    const chunks = [Buffer.from('abc'), Buffer.from('defg'), Buffer.from('hij')];
    const read = async (r?: { start: number; end: number }) => {
      const parts: Buffer[] = [];
      for await (const c of memoryStream(chunks, r)) parts.push(c as Buffer);
      return Buffer.concat(parts).toString();
    };
    expect(await read()).toBe('abcdefghij');
    expect(await read({ start: 2, end: 8 })).toBe('cdefgh');
    expect(await read({ start: 3, end: 7 })).toBe('defg');
  });
});
