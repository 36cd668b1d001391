import { createReadStream, type Stats } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { untrusted } from '@shipline/kit/untrusted';
import { assertDigest, sha256Digest } from './digest.ts';
import { OciError } from './errors.ts';
import { isIndexType, OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST } from './media-types.ts';
import type { Blob, ImageManifests, ImageSource, ManifestDoc } from './source.ts';

const REF_NAME = 'org.opencontainers.image.ref.name';

export interface Descriptor {
  mediaType?: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { os?: string; architecture?: string; variant?: string };
  urls?: string[];
}

interface ManifestJson {
  mediaType?: string;
  manifests?: Descriptor[];
  config?: Descriptor;
  layers?: Descriptor[];
}

export interface LayoutOptions {
  /** Pick the index.json entry with this org.opencontainers.image.ref.name when there are several. */
  ref?: string;
}

function isIndex(mediaType: string | undefined, doc: ManifestJson): boolean {
  return isIndexType(mediaType) ?? (Array.isArray(doc.manifests) && !doc.config);
}

function blobPath(dir: string, digest: string): string {
  const [alg, hex] = digest.split(':') as [string, string];
  return path.join(dir, 'blobs', alg, hex);
}

async function readJson(file: string, what: string): Promise<{ bytes: Buffer; doc: ManifestJson }> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new OciError(
      `OCI layout: ${what} ${code === 'ENOENT' ? 'is missing' : `cannot be read: ${(err as Error).message}`} (${file})`,
      'point oci-layout at a complete OCI image layout directory (as written by docker-build or `docker buildx build --output type=oci,tar=false`)',
    );
  }
  try {
    return { bytes, doc: JSON.parse(bytes.toString('utf8')) as ManifestJson };
  } catch {
    throw new OciError(`OCI layout: ${what} is not valid JSON (${file})`, 'the layout is damaged; write it again');
  }
}

function fileBlob(dir: string, d: Descriptor, fallbackType: string): Blob {
  const file = blobPath(dir, d.digest);
  return {
    digest: d.digest,
    size: d.size,
    mediaType: d.mediaType ?? fallbackType,
    // Large reads: fewer syscalls and hash/socket calls per byte than the 64 KiB default.
    open: (range) => createReadStream(file, { highWaterMark: 1024 * 1024, ...(range ? { start: range.start, end: range.end - 1 } : {}) }),
  };
}

/**
 * Reads an OCI image layout (index.json + blobs/sha256) for pushing byte for byte: manifests
 * keep their digests; a multi-platform index and every child are pushed as they are.
 */
export async function readOciLayout(dir: string, options: LayoutOptions = {}): Promise<{ manifests: ImageManifests; blobs: Blob[] }> {
  let layoutStat: Stats;
  try {
    layoutStat = await stat(dir);
  } catch {
    throw new OciError(`OCI layout ${dir} does not exist`, 'build with an oci-layout output first, or fix the path');
  }
  if (!layoutStat.isDirectory())
    throw new OciError(`OCI layout ${dir} is not a directory`, 'point at the unpacked layout directory (tar archives are not supported)');
  const marker = await readJson(path.join(dir, 'oci-layout'), 'the oci-layout file').catch(() => undefined);
  if (marker && (marker.doc as { imageLayoutVersion?: string }).imageLayoutVersion === undefined) {
    throw new OciError(`OCI layout ${dir}: oci-layout has no imageLayoutVersion`, 'the layout is damaged; write it again');
  }
  const index = await readJson(path.join(dir, 'index.json'), 'index.json');
  const entries = index.doc.manifests ?? [];
  if (entries.length === 0) throw new OciError(`OCI layout ${dir}: index.json lists no manifests`, 'the layout holds no image; build again');

  let root: ManifestDoc;
  const blobs = new Map<string, Blob>();
  const children: ManifestDoc[] = [];
  const seen = new Set<string>();
  let configDigest: string | undefined;

  const loadManifest = async (d: Descriptor, where: string): Promise<{ doc: ManifestDoc; json: ManifestJson }> => {
    assertDigest(d.digest, where);
    const { bytes, doc } = await readJson(blobPath(dir, d.digest), `manifest ${d.digest}`);
    const actual = sha256Digest(bytes);
    if (actual !== d.digest)
      throw new OciError(`OCI layout ${dir}: manifest ${d.digest} is corrupt (its bytes hash to ${actual})`, 'the layout is damaged; write it again');
    const mediaType = d.mediaType ?? doc.mediaType ?? (isIndex(undefined, doc) ? OCI_INDEX : OCI_MANIFEST);
    return { doc: { digest: d.digest, mediaType, bytes }, json: doc };
  };

  const addBlob = async (d: Descriptor, fallbackType: string, where: string) => {
    assertDigest(d.digest, where);
    if (blobs.has(d.digest)) return;
    let st: Stats;
    try {
      st = await stat(blobPath(dir, d.digest));
    } catch {
      if (d.urls?.length) return; // foreign layer: lives elsewhere by design
      throw new OciError(`OCI layout ${dir}: blob ${d.digest} (${where}) is missing`, 'the layout is incomplete; write it again');
    }
    if (st.size !== d.size)
      throw new OciError(`OCI layout ${dir}: blob ${d.digest} is ${st.size} bytes but ${where} says ${d.size}`, 'the layout is damaged; write it again');
    blobs.set(d.digest, fileBlob(dir, d, fallbackType));
  };

  // Children before parents so a registry never sees a reference to something it lacks.
  const walk = async (m: { doc: ManifestDoc; json: ManifestJson }, isRoot: boolean): Promise<void> => {
    if (isIndex(m.doc.mediaType, m.json)) {
      for (const child of m.json.manifests ?? []) {
        if (seen.has(child.digest)) continue;
        seen.add(child.digest);
        const c = await loadManifest(child, `index ${m.doc.digest}`);
        await walk(c, false);
        children.push(c.doc);
      }
      return;
    }
    if (!m.json.config) throw new OciError(`OCI layout ${dir}: manifest ${m.doc.digest} has no config`, 'the layout is damaged; write it again');
    await addBlob(m.json.config, OCI_CONFIG, `config of ${m.doc.digest}`);
    if (isRoot) configDigest = m.json.config.digest;
    for (const layer of m.json.layers ?? []) await addBlob(layer, OCI_LAYER_GZIP, `layer of ${m.doc.digest}`);
  };

  // buildx writes one index.json entry per tag, each naming the same manifest (and its platform):
  // that is one image under several names, not a multi-platform index to push as a new digest.
  const distinct = [...new Map(entries.map((e) => [e.digest, e])).values()];
  if (distinct.length === 1 || options.ref !== undefined) {
    const pick = options.ref === undefined ? distinct[0] : entries.find((e) => e.annotations?.[REF_NAME] === options.ref);
    if (!pick) {
      const names = entries.map((e) => e.annotations?.[REF_NAME]).filter(Boolean);
      throw new OciError(
        `OCI layout ${dir} has no image named ${JSON.stringify(options.ref)}`,
        names.length ? `it has: ${untrusted(names.join(', '), { max: 300, oneLine: true })}` : 'its entries carry no org.opencontainers.image.ref.name',
      );
    }
    const m = await loadManifest(pick, 'index.json');
    root = m.doc;
    await walk(m, true);
  } else if (distinct.every((e) => e.platform)) {
    // Several platform entries directly in index.json: that file is itself the index.
    root = { digest: sha256Digest(index.bytes), mediaType: OCI_INDEX, bytes: index.bytes };
    await walk({ doc: root, json: index.doc }, true);
  } else {
    const names = entries.map((e) => e.annotations?.[REF_NAME] ?? e.digest);
    throw new OciError(
      `OCI layout ${dir} holds ${distinct.length} images; pick one`,
      `name one of: ${untrusted(names.join(', '), { max: 300, oneLine: true })}`,
    );
  }
  const manifests: ImageManifests = { root, children };
  if (configDigest !== undefined) manifests.configDigest = configDigest;
  return { manifests, blobs: [...blobs.values()] };
}

/** An OCI layout as an ImageSource: every blob is ready at once. */
export async function ociLayoutSource(dir: string, options: LayoutOptions = {}): Promise<ImageSource> {
  const read = await readOciLayout(dir, options);
  return {
    description: `oci-layout:${dir}`,
    async *blobs() {
      yield* read.blobs;
    },
    manifests: async () => read.manifests,
  };
}
