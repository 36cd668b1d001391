import { Readable } from 'node:stream';
import { gunzipSync, gzipSync, zstdDecompressSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { makeDockerSave } from '../../../test/support/oci/docker-save.ts';
import { parseCompression, zstdAvailable } from './compress.ts';
import { sha256Digest } from './digest.ts';
import { type CachedLayer, dockerArchiveSource, type LayerCache } from './docker-archive.ts';
import { OciError } from './errors.ts';
import type { Blob, ImageSource } from './source.ts';
import { readTar, writeTar } from './tar.ts';

async function bytesOf(b: Blob): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of b.open()) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function drainSource(src: ImageSource): Promise<Map<string, Blob>> {
  const out = new Map<string, Blob>();
  for await (const b of src.blobs()) out.set(b.digest, b);
  return out;
}

// Chunked into small pieces so tar headers and bodies straddle chunk boundaries.
const chunked =
  (buf: Buffer, size = 7777) =>
  () =>
    Readable.from(
      (function* () {
        for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
      })(),
    );

describe('dockerArchiveSource', () => {
  for (const shape of ['legacy', 'oci'] as const) {
    it(`compresses a ${shape} docker-save archive, keeping config digest and diff_ids`, async () => {
      const fx = makeDockerSave([200_000, 1000, 700_000, 70_000], shape, { text: true });
      const src = dockerArchiveSource(chunked(fx.tar), { compression: { algorithm: 'gzip', level: 1 } });
      const blobs = await drainSource(src);
      const m = await src.manifests();
      expect(m.configDigest).toBe(fx.configDigest);
      const manifest = JSON.parse(m.root.bytes.toString('utf8'));
      expect(m.root.digest).toBe(sha256Digest(m.root.bytes));
      expect(manifest.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
      expect(manifest.config.digest).toBe(fx.configDigest);
      expect(manifest.layers).toHaveLength(4);
      expect(blobs.size).toBe(5);
      for (const [i, l] of manifest.layers.entries()) {
        expect(l.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
        const blob = blobs.get(l.digest)!;
        const z = await bytesOf(blob);
        expect(z.length).toBe(l.size);
        expect(sha256Digest(z)).toBe(l.digest);
        expect(sha256Digest(gunzipSync(z))).toBe(fx.diffIds[i]);
        // Text compresses: we really compressed.
        expect(z.length).toBeLessThan(fx.layerTars[i]!.length);
      }
      expect(sha256Digest(await bytesOf(blobs.get(fx.configDigest)!))).toBe(fx.configDigest);
    });
  }

  it('single-stream compression (blockSize 0) gives one gzip member', async () => {
    const fx = makeDockerSave([300_000], 'legacy', { text: true });
    const src = dockerArchiveSource(chunked(fx.tar), { blockSize: 0, compression: { algorithm: 'gzip', level: 6 } });
    const blobs = await drainSource(src);
    const manifest = JSON.parse((await src.manifests()).root.bytes.toString('utf8'));
    const z = await bytesOf(blobs.get(manifest.layers[0].digest)!);
    expect(z.equals(gzipSync(fx.layerTars[0]!, { level: 6, memLevel: 9 }))).toBe(true);
  });

  it('parallel blocks make a multi-member gzip that decodes to the layer', async () => {
    const fx = makeDockerSave([1_000_000], 'oci', { text: true });
    const src = dockerArchiveSource(chunked(fx.tar), { blockSize: 64 * 1024 });
    const blobs = await drainSource(src);
    const manifest = JSON.parse((await src.manifests()).root.bytes.toString('utf8'));
    const z = await bytesOf(blobs.get(manifest.layers[0].digest)!);
    // More than one member: the gzip magic appears again after the first.
    expect(z.indexOf(Buffer.from([0x1f, 0x8b, 0x08]), 10)).toBeGreaterThan(0);
    expect(gunzipSync(z).equals(fx.layerTars[0]!)).toBe(true);
  });

  it('spills finished layers beyond the memory limit to a temporary file, removed on close', async () => {
    const fx = makeDockerSave([1_500_000, 1_600_000, 1_700_000], 'legacy');
    const src = dockerArchiveSource(chunked(fx.tar, 65536), { memoryLimit: 2_000_000 });
    const blobs = await drainSource(src);
    const manifest = JSON.parse((await src.manifests()).root.bytes.toString('utf8'));
    const spilled: string[] = [];
    for (const [i, l] of manifest.layers.entries()) {
      const blob = blobs.get(l.digest)!;
      const stream = blob.open();
      if ('path' in stream) spilled.push(String((stream as unknown as { path: string }).path));
      stream.destroy();
      const z = await bytesOf(blob);
      expect(sha256Digest(z)).toBe(l.digest);
      expect(sha256Digest(gunzipSync(z))).toBe(fx.diffIds[i]);
      const part = await bytesOf({ ...blob, open: () => blob.open({ start: 100, end: 5000 }) });
      expect(part.equals(z.subarray(100, 5000))).toBe(true);
    }
    // Random data does not compress: only one ~1.5 MB layer fits under 2 MB.
    expect(spilled.length).toBe(2);
    await src.close?.();
    const { existsSync } = await import('node:fs');
    for (const f of spilled) expect(existsSync(f)).toBe(false);
  });

  it('writes docker schema 2 when asked', async () => {
    const fx = makeDockerSave([100_000], 'legacy');
    const src = dockerArchiveSource(chunked(fx.tar), { manifestFormat: 'docker' });
    await drainSource(src);
    const manifest = JSON.parse((await src.manifests()).root.bytes.toString('utf8'));
    expect(manifest.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
    expect(manifest.config.mediaType).toBe('application/vnd.docker.container.image.v1+json');
    expect(manifest.layers[0].mediaType).toBe('application/vnd.docker.image.rootfs.diff.tar.gzip');
  });

  it.runIf(zstdAvailable())('compresses with zstd on this Node', async () => {
    const fx = makeDockerSave([300_000], 'oci', { text: true });
    const src = dockerArchiveSource(chunked(fx.tar), { compression: parseCompression('zstd:3') });
    const blobs = await drainSource(src);
    const manifest = JSON.parse((await src.manifests()).root.bytes.toString('utf8'));
    expect(manifest.layers[0].mediaType).toBe('application/vnd.oci.image.layer.v1.tar+zstd');
    expect(sha256Digest(zstdDecompressSync(await bytesOf(blobs.get(manifest.layers[0].digest)!)))).toBe(fx.diffIds[0]);
  });

  it('passes through layers the store already holds compressed', async () => {
    const fx = makeDockerSave([100_000], 'legacy');
    // Swap the layer for its gzip form, as the containerd image store exports it.
    const gz = gzipSync(fx.layerTars[0]!);
    const entries: Array<{ name: string; data: Buffer; type?: '0' | '5' }> = [];
    for await (const { entry, body } of readTar(Readable.from([fx.tar]))) {
      const parts: Buffer[] = [];
      for await (const c of body) parts.push(Buffer.from(c));
      const data = entry.name.endsWith('layer.tar') ? gz : Buffer.concat(parts);
      entries.push({ name: entry.name, data, ...(entry.type === '5' ? { type: '5' as const } : {}) });
    }
    const src = dockerArchiveSource(chunked(writeTar(entries)));
    const blobs = await drainSource(src);
    const manifest = JSON.parse((await src.manifests()).root.bytes.toString('utf8'));
    expect(manifest.layers[0].digest).toBe(sha256Digest(gz));
    expect(blobs.has(sha256Digest(gz))).toBe(true);
  });

  it('rejects a layer whose content does not match the config diff_id', async () => {
    const fx = makeDockerSave([100_000, 100_000], 'legacy');
    const tampered = Buffer.from(fx.tar);
    // Flip a byte inside the first layer's payload (after its tar headers).
    const at = tampered.indexOf(Buffer.from('app/file-0.bin')) + 2048;
    tampered[at] = (tampered[at] ?? 0) ^ 0xff;
    const src = dockerArchiveSource(chunked(tampered));
    const err = await drainSource(src)
      .then(() => src.manifests())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OciError);
    expect((err as Error).message).toMatch(/layer 1 .* hashes to sha256:[0-9a-f]+ but the image config says/);
  });

  it('checks the expected image ID and names an incomplete archive', async () => {
    const fx = makeDockerSave([10], 'legacy');
    const src = dockerArchiveSource(chunked(fx.tar), { expectConfigDigest: `sha256:${'0'.repeat(64)}` });
    await expect(drainSource(src)).rejects.toThrow(/not the expected/);
    const cut = dockerArchiveSource(chunked(fx.tar.subarray(0, 3000)));
    await expect(drainSource(cut)).rejects.toBeInstanceOf(OciError);
  });
});

describe('dockerArchiveSource with a layer cache', () => {
  for (const shape of ['legacy', 'oci'] as const) {
    it(`${shape}: skips compressing layers already pushed, still checking diff_ids`, async () => {
      const store = new Map<string, CachedLayer>();
      const cache: LayerCache = { get: async (d) => store.get(d), put: async (d, l) => void store.set(d, l) };
      const present = new Set<string>();
      const ctx = { isPresent: async (d: string) => present.has(d) };
      const base = makeDockerSave([200_000, 300_000], shape, { text: true });
      const first = dockerArchiveSource(chunked(base.tar), { layerCache: cache });
      for await (const b of first.blobs(ctx)) present.add(b.digest);
      const m1 = JSON.parse((await first.manifests()).root.bytes.toString('utf8'));
      await first.pushed?.(await first.manifests());
      expect(store.size).toBe(2);

      // Same layers plus a new one on top: only the new layer (and the config) come out.
      const tars = [...base.layerTars, writeTar([{ name: 'app/new.txt', data: 'new '.repeat(50_000) }])];
      const fx = makeDockerSave(tars, shape);
      const second = dockerArchiveSource(chunked(fx.tar), { layerCache: cache });
      const emitted: string[] = [];
      for await (const b of second.blobs(ctx)) emitted.push(b.digest);
      const m2 = JSON.parse((await second.manifests()).root.bytes.toString('utf8'));
      expect(m2.layers.slice(0, 2)).toEqual(m1.layers);
      expect(emitted).toHaveLength(2);
      expect(emitted).toContain(m2.layers[2].digest);
      expect(emitted).toContain(fx.configDigest);
    });
  }

  it('ignores the cache when the destination lacks the blob', async () => {
    const store = new Map<string, CachedLayer>();
    const cache: LayerCache = { get: async (d) => store.get(d), put: async (d, l) => void store.set(d, l) };
    const fx = makeDockerSave([100_000], 'legacy', { text: true });
    const a = dockerArchiveSource(chunked(fx.tar), { layerCache: cache });
    await drainSource(a);
    await a.pushed?.(await a.manifests());
    const b = dockerArchiveSource(chunked(fx.tar), { layerCache: cache });
    const out: string[] = [];
    for await (const blob of b.blobs({ isPresent: async () => false })) out.push(blob.digest);
    expect(out).toHaveLength(2);
  });

  it('keeps a large JSON config in an OCI-shaped archive as the config, not a layer', async () => {
    const fx = makeDockerSave([100_000], 'oci', { text: true, historyEntries: 3000 });
    const src = dockerArchiveSource(chunked(fx.tar));
    await drainSource(src);
    const m = await src.manifests();
    expect(m.configDigest).toBe(fx.configDigest);
    expect(fx.configSize).toBeGreaterThan(64 * 1024);
  });
});

describe('parseCompression', () => {
  it.each([
    ['gzip', { algorithm: 'gzip' }],
    ['gzip:1', { algorithm: 'gzip', level: 1 }],
    ['gzip:9', { algorithm: 'gzip', level: 9 }],
    ['zstd', { algorithm: 'zstd' }],
    ['zstd:19', { algorithm: 'zstd', level: 19 }],
  ])('%s', (input, expected) => {
    expect(parseCompression(input)).toEqual(expected);
  });
  it.each(['gzip:0', 'gzip:10', 'zstd:20', 'brotli', 'gzip:x', ''])('rejects %j', (input) => {
    expect(() => parseCompression(input)).toThrow(OciError);
  });
  it('node 24 has zstd', () => {
    expect(zstdAvailable()).toBe(true);
  });
});
