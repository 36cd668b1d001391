// Builds real OCI image layouts (random file contents, valid tars, gzip) for tests and benches.
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { sha256Digest, writeTar } from '../../../packages/oci/src/index.ts';

export interface FixtureImage {
  platform?: { os: string; architecture: string };
  /** Uncompressed payload size of each generated layer, in bytes, or ready-made layer tars. */
  layers: number[] | Buffer[];
  /** Compressible content instead of random bytes. */
  text?: boolean;
}

export interface Fixture {
  dir: string;
  /** Digest of what index.json points at. */
  rootDigest: string;
  manifestDigests: string[];
  configDigests: string[];
  diffIds: string[][];
  layerDigests: string[][];
}

async function writeBlob(dir: string, data: Buffer): Promise<string> {
  const d = sha256Digest(data);
  await writeFile(path.join(dir, 'blobs', 'sha256', d.slice(7)), data);
  return d;
}

function payload(size: number, text: boolean, seed: number): Buffer {
  if (!text) return randomBytes(size);
  const line = Buffer.from(`line ${seed} of some compressible text for a layer\n`);
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i += line.length) line.copy(out, i);
  return out;
}

export async function makeOciLayout(dir: string, images: FixtureImage[], options: { refName?: string; forceIndex?: boolean } = {}): Promise<Fixture> {
  await mkdir(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const fx: Fixture = { dir, rootDigest: '', manifestDigests: [], configDigests: [], diffIds: [], layerDigests: [] };
  const descriptors = [];
  let n = 0;
  for (const img of images) {
    const layers = [];
    const diffIds: string[] = [];
    for (const size of img.layers) {
      const tar = typeof size === 'number' ? writeTar([{ name: `data/file-${n}.bin`, data: payload(size, img.text ?? false, n) }]) : size;
      n++;
      diffIds.push(sha256Digest(tar));
      const gz = gzipSync(tar, { level: 1 });
      const digest = await writeBlob(dir, gz);
      layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest, size: gz.length });
    }
    const platform = img.platform ?? { os: 'linux', architecture: 'amd64' };
    const config = Buffer.from(
      JSON.stringify({
        architecture: platform.architecture,
        os: platform.os,
        created: '2026-01-01T00:00:00Z',
        config: { Cmd: ['/bin/true'] },
        rootfs: { type: 'layers', diff_ids: diffIds },
        history: img.layers.map(() => ({ created_by: 'fixture' })),
      }),
    );
    const configDigest = await writeBlob(dir, config);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
        layers,
      }),
    );
    const md = await writeBlob(dir, manifest);
    fx.manifestDigests.push(md);
    fx.configDigests.push(configDigest);
    fx.diffIds.push(diffIds);
    fx.layerDigests.push(layers.map((l) => l.digest));
    descriptors.push({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: md, size: manifest.length, platform });
  }
  let top: { mediaType: string; digest: string; size: number };
  if (images.length > 1 || options.forceIndex) {
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: descriptors }));
    const d = await writeBlob(dir, index);
    top = { mediaType: 'application/vnd.oci.image.index.v1+json', digest: d, size: index.length };
  } else {
    const { platform: _p, ...rest } = descriptors[0]!;
    top = rest;
  }
  fx.rootDigest = top.digest;
  const annotated = options.refName ? { ...top, annotations: { 'org.opencontainers.image.ref.name': options.refName } } : top;
  await writeFile(
    path.join(dir, 'index.json'),
    JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [annotated] }),
  );
  return fx;
}
