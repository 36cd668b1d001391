// Builds `docker save` archives in both shapes engines produce: the legacy one
// (<id>/layer.tar, <config>.json, manifest.json) and the OCI-layout one of Docker ≥ 25
// (blobs/sha256/…, index.json, manifest.json, plus legacy symlinks).
import { randomBytes } from 'node:crypto';
import { sha256Digest, writeTar } from '../../../packages/oci/src/index.ts';

export interface SaveFixture {
  tar: Buffer;
  configDigest: string;
  configSize: number;
  diffIds: string[];
  layerTars: Buffer[];
}

function layerTar(size: number, i: number, text: boolean): Buffer {
  const data = text ? Buffer.from(`layer ${i} `.repeat(Math.ceil(size / 9))).subarray(0, size) : randomBytes(size);
  return writeTar([{ name: `app/file-${i}.bin`, data }]);
}

/** `layers`: payload sizes of generated layers, or ready-made layer tars (e.g. of real directories). */
export function makeDockerSave(
  layers: number[] | Buffer[],
  shape: 'legacy' | 'oci',
  options: { text?: boolean; repoTag?: string; historyEntries?: number; config?: Buffer } = {},
): SaveFixture {
  const layerTars = layers.map((s, i) => (typeof s === 'number' ? layerTar(s, i, options.text ?? false) : s));
  const diffIds = layerTars.map((t) => sha256Digest(t));
  const config =
    options.config ??
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: { Env: ['PATH=/usr/bin'] },
        created: '2026-01-01T00:00:00Z',
        rootfs: { type: 'layers', diff_ids: diffIds },
        history: [
          ...diffIds.map(() => ({ created_by: 'COPY . /app' })),
          ...Array.from({ length: options.historyEntries ?? 0 }, (_, i) => ({ created_by: `RUN step ${i}`, empty_layer: true })),
        ],
      }),
    );
  const configDigest = sha256Digest(config);
  const hex = (d: string) => d.slice(7);
  const repoTags = options.repoTag ? [options.repoTag] : null;
  const files: Array<{ name: string; data: Buffer | string; type?: '0' | '5' | '2'; linkname?: string }> = [];
  if (shape === 'legacy') {
    const ids = layerTars.map((_, i) => hex(sha256Digest(`v1-${i}-${configDigest}`)));
    ids.forEach((id, i) => {
      files.push(
        { name: `${id}/`, data: '', type: '5' },
        { name: `${id}/VERSION`, data: '1.0' },
        { name: `${id}/json`, data: '{}' },
        { name: `${id}/layer.tar`, data: layerTars[i]! },
      );
    });
    files.push({ name: `${hex(configDigest)}.json`, data: config });
    files.push({
      name: 'manifest.json',
      data: JSON.stringify([{ Config: `${hex(configDigest)}.json`, RepoTags: repoTags, Layers: ids.map((id) => `${id}/layer.tar`) }]),
    });
  } else {
    files.push({ name: 'blobs/', data: '', type: '5' }, { name: 'blobs/sha256/', data: '', type: '5' });
    for (const t of layerTars) files.push({ name: `blobs/sha256/${hex(sha256Digest(t))}`, data: t });
    files.push({ name: `blobs/sha256/${hex(configDigest)}`, data: config });
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
        layers: layerTars.map((t) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256Digest(t), size: t.length })),
      }),
    );
    files.push({ name: `blobs/sha256/${hex(sha256Digest(manifest))}`, data: manifest });
    files.push({
      name: 'index.json',
      data: JSON.stringify({
        schemaVersion: 2,
        manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256Digest(manifest), size: manifest.length }],
      }),
    });
    files.push({
      name: 'manifest.json',
      data: JSON.stringify([
        { Config: `blobs/sha256/${hex(configDigest)}`, RepoTags: repoTags, Layers: layerTars.map((t) => `blobs/sha256/${hex(sha256Digest(t))}`) },
      ]),
    });
    files.push({ name: 'oci-layout', data: '{"imageLayoutVersion":"1.0.0"}' });
    // Docker 25+ keeps the legacy paths as symlinks into blobs/.
    layerTars.forEach((t, i) => {
      const id = hex(sha256Digest(`v1-${i}`));
      files.push(
        { name: `${id}/`, data: '', type: '5' },
        { name: `${id}/layer.tar`, data: '', type: '2', linkname: `../blobs/sha256/${hex(sha256Digest(t))}` },
      );
    });
  }
  return { tar: writeTar(files), configDigest, configSize: config.length, diffIds, layerTars };
}
