// Reads what a build wrote into an OCI layout: the top digest and one manifest digest per platform.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

interface Desc {
  mediaType?: string;
  digest: string;
  platform?: { os?: string; architecture?: string; variant?: string };
  annotations?: Record<string, string>;
}

const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);

const blob = (dir: string, digest: string) => join(dir, 'blobs', ...digest.split(':'));
const platformName = (p: Desc['platform']) => (p ? [p.os, p.architecture, p.variant].filter(Boolean).join('/') : 'unknown');

export interface LayoutDigests {
  /** Digest of the image the layout's index.json points at (an index for several platforms). */
  digest: string;
  /** platform → manifest digest. */
  platforms: Record<string, string>;
}

export function readLayoutDigests(dir: string): LayoutDigests {
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests?: Desc[] };
  const top = index.manifests?.[0];
  if (!top) throw new Error(`${dir}/index.json lists no image`);
  const platforms: Record<string, string> = {};
  if (top.mediaType && INDEX_TYPES.has(top.mediaType)) {
    const child = JSON.parse(readFileSync(blob(dir, top.digest), 'utf8')) as { manifests?: Desc[] };
    for (const m of child.manifests ?? []) {
      // Attestation manifests carry platform unknown/unknown; they are not images of a platform.
      if (m.platform?.os === 'unknown' || m.annotations?.['vnd.docker.reference.type']) continue;
      platforms[platformName(m.platform)] = m.digest;
    }
  } else {
    const manifest = JSON.parse(readFileSync(blob(dir, top.digest), 'utf8')) as { config?: Desc };
    const config = manifest.config
      ? (JSON.parse(readFileSync(blob(dir, manifest.config.digest), 'utf8')) as { os?: string; architecture?: string; variant?: string })
      : {};
    platforms[platformName(top.platform ?? config)] = top.digest;
  }
  return { digest: top.digest, platforms };
}
