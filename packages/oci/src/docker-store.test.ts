import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { makeDockerSave } from '../../../test/support/oci/docker-save.ts';
import { makeOverlayStore } from '../../../test/support/oci/overlay-store.ts';
import { sha256Digest } from './digest.ts';
import { dockerArchiveSource } from './docker-archive.ts';
import { assembleLayer, chainIds, dockerStoreSource, findStoredImage, type StoredImage, StoreMismatch } from './docker-store.ts';
import type { ImageSource } from './source.ts';
import { writeTar } from './tar.ts';

const work = mkdtempSync(path.join(tmpdir(), 'docker-store-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let n = 0;
const fresh = () => path.join(work, `root-${n++}`);

async function bytesOf(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
}

async function stored(root: string, id: string): Promise<StoredImage> {
  const s = await findStoredImage(root, id);
  if (typeof s === 'string') throw new Error(s);
  return s;
}

// Small and large bodies (the prefetched and the chunked read paths), a directory, a symlink,
// a hard link, a UTF-8 name, an empty file, and a whiteout as a later layer would carry it.
const big = randomBytes(9 * 1024 * 1024 + 123);
const layerOne = writeTar([
  { name: 'app/', data: '', type: '5' },
  { name: 'app/small.txt', data: 'hello\n' },
  { name: 'app/empty', data: '' },
  { name: 'app/café.txt', data: 'accent '.repeat(1000) },
  { name: 'app/big.bin', data: big },
  { name: 'app/mid.bin', data: randomBytes(1024 * 1024 + 1) },
  { name: 'app/link', data: '', type: '2', linkname: 'small.txt' },
  { name: 'app/hard', data: '', type: '1', linkname: 'app/small.txt' },
  ...Array.from({ length: 40 }, (_, i) => ({ name: `app/many/f${i}`, data: `file ${i}\n`.repeat(i * 50) })),
]);
const layerTwo = writeTar([
  { name: 'app/', data: '', type: '5' },
  { name: 'app/.wh.small.txt', data: '' },
  { name: 'app/new.txt', data: 'second layer\n' },
]);

describe('chainIds', () => {
  it('is the first diff_id, then sha256 of "<previous chain> <diff_id>"', () => {
    const d = [sha256Digest('a'), sha256Digest('b'), sha256Digest('c')];
    const c = chainIds(d);
    expect(c[0]).toBe(d[0]);
    expect(c[1]).toBe(sha256Digest(`${d[0]} ${d[1]}`));
    expect(c[2]).toBe(sha256Digest(`${c[1]} ${d[2]}`));
  });
});

describe('assembleLayer', () => {
  it('rebuilds each layer tar byte for byte from its tar-split record and files', async () => {
    const fx = makeOverlayStore(fresh(), [layerOne, layerTwo]);
    const img = await stored(fx.root, fx.imageId);
    expect(img.config.equals(fx.config)).toBe(true);
    expect((await bytesOf(assembleLayer(img.layers[0]!))).equals(layerOne)).toBe(true);
    expect((await bytesOf(assembleLayer(img.layers[1]!))).equals(layerTwo)).toBe(true);
  });

  it('a file whose size changed is a mismatch, not a short or padded layer', async () => {
    const fx = makeOverlayStore(fresh(), [layerOne]);
    writeFileSync(path.join(fx.layerDirs[0]!, 'app', 'small.txt'), 'hello, changed\n');
    const img = await stored(fx.root, fx.imageId);
    await expect(bytesOf(assembleLayer(img.layers[0]!))).rejects.toBeInstanceOf(StoreMismatch);
  });

  it('never reads outside the layer: `..` names stay inside, symlinked parents are refused', async () => {
    const outside = path.join(work, `outside-${n++}`);
    mkdirSync(outside);
    writeFileSync(path.join(outside, 'secret'), 'do not upload');
    const fx = makeOverlayStore(fresh(), [writeTar([{ name: 'etc/', data: '', type: '5' }])]);
    const layer = (await stored(fx.root, fx.imageId)).layers[0]!;
    symlinkSync(outside, path.join(fx.layerDirs[0]!, 'escape'));
    for (const name of ['escape/secret', `../../../../../../../../..${outside}/secret`]) {
      writeFileSync(layer.tarSplit, gzipSync(`${JSON.stringify({ type: 1, name, size: 13, payload: null, position: 0 })}\n`));
      const err = await bytesOf(assembleLayer(layer)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect(String(err)).not.toContain('do not upload');
    }
  });
});

describe('findStoredImage', () => {
  it('says why an image cannot be read, naming what is wrong', async () => {
    const fx = makeOverlayStore(fresh(), [layerOne, layerTwo]);
    expect(await findStoredImage(path.join(work, 'nowhere'), fx.imageId)).toMatch(/^cannot read the image store under .*nowhere \(ENOENT\)$/);
    expect(await findStoredImage(fx.root, 'latest')).toBe('image ID latest is not a sha256 digest');
    // A store that holds a different config under the same name is not the daemon's.
    writeFileSync(path.join(fx.root, 'image/overlay2/imagedb/content/sha256', fx.imageId.slice(7)), '{}');
    expect(await findStoredImage(fx.root, fx.imageId)).toMatch(/is not the daemon's/);
    writeFileSync(path.join(fx.root, 'image/overlay2/imagedb/content/sha256', fx.imageId.slice(7)), fx.config);
    const chain = chainIds(fx.diffIds)[1]!.slice(7);
    rmSync(path.join(fx.root, 'image/overlay2/layerdb/sha256', chain, 'tar-split.json.gz'));
    expect(await findStoredImage(fx.root, fx.imageId)).toBe(`layer ${fx.diffIds[1]} is not readable in the store (ENOENT)`);
    writeFileSync(path.join(fx.root, 'image/overlay2/layerdb/sha256', chain, 'diff'), fx.diffIds[0]!);
    expect(await findStoredImage(fx.root, fx.imageId)).toBe(`layer record sha256:${chain} names ${fx.diffIds[0]}, not ${fx.diffIds[1]}`);
  });
});

async function drain(src: ImageSource): Promise<{ digests: string[]; manifest: string }> {
  const digests: string[] = [];
  for await (const b of src.blobs()) {
    expect(sha256Digest(await bytesOf(b.open() as AsyncIterable<Buffer>))).toBe(b.digest);
    digests.push(b.digest);
  }
  const m = await src.manifests();
  return { digests: digests.sort(), manifest: m.root.bytes.toString('utf8') };
}

describe('dockerStoreSource', () => {
  const compression = { algorithm: 'gzip', level: 1 } as const;
  // The export of the image in a store, as `docker save` would give it.
  const exportOf = (store: { config: Buffer }) => () => {
    const fx = makeDockerSave([layerOne, layerTwo], 'legacy', { config: store.config });
    return dockerArchiveSource(() => Readable.from([fx.tar]), { compression });
  };

  it('makes the very manifest and blobs the export would', async () => {
    const fx = makeOverlayStore(fresh(), [layerOne, layerTwo]);
    const lines: string[] = [];
    const direct = await drain(
      dockerStoreSource(await stored(fx.root, fx.imageId), {
        compression,
        fallback: () => {
          throw new Error('no fallback expected');
        },
        warn: (l) => lines.push(l),
      }),
    );
    expect(lines).toEqual([]);
    const exported = await drain(exportOf(fx)());
    expect(direct).toEqual(exported);
    expect(JSON.parse(direct.manifest).config.digest).toBe(fx.imageId);
  });

  it('falls back to the export when a layer does not rebuild to its diff_id', async () => {
    const fx = makeOverlayStore(fresh(), [layerOne, layerTwo]);
    // Same size, other bytes: only the final hash can tell.
    writeFileSync(path.join(fx.layerDirs[1]!, 'app', 'new.txt'), 'SECOND LAYER\n');
    const lines: string[] = [];
    const viaFallback = await drain(dockerStoreSource(await stored(fx.root, fx.imageId), { compression, fallback: exportOf(fx), warn: (l) => lines.push(l) }));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^reading the docker store directly failed \(layer 2 rebuilt as sha256:[a-f0-9]{64}, not sha256:.*\); exporting the image instead$/,
    );
    expect(viaFallback).toEqual(await drain(exportOf(fx)()));
  });
});
