import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeOciLayout } from '../../../test/support/oci/layout.ts';
import { sha256Digest } from './digest.ts';
import { OciError } from './errors.ts';
import { ociLayoutSource, readOciLayout } from './layout.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'oci-layout-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('readOciLayout', () => {
  it('reads a single-platform layout: root manifest, config and layers', async () => {
    const fx = await makeOciLayout(path.join(dir, 'one'), [{ layers: [1000, 5000] }], { refName: '1.0' });
    const { manifests, blobs } = await readOciLayout(fx.dir);
    expect(manifests.root.digest).toBe(fx.rootDigest);
    expect(sha256Digest(manifests.root.bytes)).toBe(fx.rootDigest);
    expect(manifests.root.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(manifests.children).toEqual([]);
    expect(manifests.configDigest).toBe(fx.configDigests[0]);
    expect(blobs.map((b) => b.digest)).toEqual([fx.configDigests[0], ...fx.layerDigests[0]!]);
    for (const b of blobs) {
      const bytes = await collect(b.open());
      expect(bytes.length).toBe(b.size);
      expect(sha256Digest(bytes)).toBe(b.digest);
    }
    const layer = blobs[1]!;
    const part = await collect(layer.open({ start: 10, end: 30 }));
    expect(part.equals((await collect(layer.open())).subarray(10, 30))).toBe(true);
  });

  it('reads one image under several tags (one index.json entry per tag, as buildx writes) as that image', async () => {
    const fx = await makeOciLayout(path.join(dir, 'tags'), [{ layers: [300] }], { refName: 'v1' });
    const indexFile = path.join(fx.dir, 'index.json');
    const index = JSON.parse(await readFile(indexFile, 'utf8'));
    const entry = { ...index.manifests[0], platform: { os: 'linux', architecture: 'amd64' } };
    index.manifests = ['v1', 'sha-abc1234', 'main'].map((tag) => ({ ...entry, annotations: { 'org.opencontainers.image.ref.name': tag } }));
    await writeFile(indexFile, JSON.stringify(index));
    const { manifests } = await readOciLayout(fx.dir);
    expect(manifests.root.digest).toBe(fx.rootDigest);
    expect(manifests.root.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(manifests.children).toEqual([]);
  });

  it('reads a multi-platform index with children before the root', async () => {
    const fx = await makeOciLayout(path.join(dir, 'multi'), [
      { platform: { os: 'linux', architecture: 'amd64' }, layers: [100] },
      { platform: { os: 'linux', architecture: 'arm64' }, layers: [200] },
    ]);
    const source = await ociLayoutSource(fx.dir);
    const m = await source.manifests();
    expect(m.root.digest).toBe(fx.rootDigest);
    expect(m.root.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(m.children.map((c) => c.digest)).toEqual(fx.manifestDigests);
    const digests: string[] = [];
    for await (const b of source.blobs()) digests.push(b.digest);
    expect(digests).toHaveLength(4);
    expect(m.configDigest).toBeUndefined();
  });

  it('treats an index.json with several platform entries as the index itself', async () => {
    const fx = await makeOciLayout(path.join(dir, 'flat'), [
      { platform: { os: 'linux', architecture: 'amd64' }, layers: [100] },
      { platform: { os: 'linux', architecture: 'arm64' }, layers: [200] },
    ]);
    const idxBlob = await readFile(path.join(fx.dir, 'blobs/sha256', fx.rootDigest.slice(7)));
    await writeFile(path.join(fx.dir, 'index.json'), idxBlob);
    const { manifests } = await readOciLayout(fx.dir);
    expect(manifests.root.digest).toBe(fx.rootDigest);
    expect(manifests.children).toHaveLength(2);
  });

  it('picks an entry by ref name and lists names when ambiguous', async () => {
    const a = await makeOciLayout(path.join(dir, 'refs'), [{ layers: [10] }], { refName: 'a' });
    const index = JSON.parse(await readFile(path.join(a.dir, 'index.json'), 'utf8'));
    const b = await makeOciLayout(path.join(dir, 'refs-b'), [{ layers: [20] }], { refName: 'b' });
    const indexB = JSON.parse(await readFile(path.join(b.dir, 'index.json'), 'utf8'));
    for (const d of [...b.manifestDigests, ...b.configDigests, ...b.layerDigests[0]!]) {
      await writeFile(path.join(a.dir, 'blobs/sha256', d.slice(7)), await readFile(path.join(b.dir, 'blobs/sha256', d.slice(7))));
    }
    const entryB = { ...indexB.manifests[0] };
    delete entryB.platform;
    index.manifests.push(entryB);
    await writeFile(path.join(a.dir, 'index.json'), JSON.stringify(index));
    expect((await readOciLayout(a.dir, { ref: 'b' })).manifests.root.digest).toBe(b.rootDigest);
    await expect(readOciLayout(a.dir)).rejects.toThrow(/holds 2 images/);
    await expect(readOciLayout(a.dir, { ref: 'c' })).rejects.toMatchObject({ hint: 'it has: a, b' });
  });

  it('names what is wrong with a damaged layout', async () => {
    await expect(readOciLayout(path.join(dir, 'missing'))).rejects.toThrow(/does not exist/);
    const fx = await makeOciLayout(path.join(dir, 'broken'), [{ layers: [100, 200] }]);
    await unlink(path.join(fx.dir, 'blobs/sha256', fx.layerDigests[0]![1]!.slice(7)));
    await expect(readOciLayout(fx.dir)).rejects.toThrow(/blob sha256:[0-9a-f]+ \(layer of sha256:[0-9a-f]+\) is missing/);
    const fx2 = await makeOciLayout(path.join(dir, 'badmanifest'), [{ layers: [100] }]);
    await writeFile(path.join(fx2.dir, 'blobs/sha256', fx2.rootDigest.slice(7)), '{"tampered":true}');
    await expect(readOciLayout(fx2.dir)).rejects.toThrow(/is corrupt/);
    const fx3 = await makeOciLayout(path.join(dir, 'noindex'), [{ layers: [1] }]);
    await unlink(path.join(fx3.dir, 'index.json'));
    const err = await readOciLayout(fx3.dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OciError);
    expect((err as Error).message).toMatch(/index\.json is missing/);
  });
});
