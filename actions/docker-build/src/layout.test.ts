// Digests read back from an OCI layout: one manifest, or an index with one manifest per platform.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readLayoutDigests } from './layout.ts';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function layout(): { put(doc: unknown): string; index(manifests: unknown[]): void } {
  dir = mkdtempSync(join(tmpdir(), 'shipline-db-layout-'));
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  return {
    put(doc) {
      const bytes = JSON.stringify(doc);
      const hex = createHash('sha256').update(bytes).digest('hex');
      writeFileSync(join(dir, 'blobs', 'sha256', hex), bytes);
      return `sha256:${hex}`;
    },
    index(manifests) {
      writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests }));
    },
  };
}

const M = 'application/vnd.oci.image.manifest.v1+json';
const I = 'application/vnd.oci.image.index.v1+json';

describe('readLayoutDigests', () => {
  it('reads one image and takes its platform from the config', () => {
    const l = layout();
    const config = l.put({ os: 'linux', architecture: 'amd64' });
    const manifest = l.put({ mediaType: M, config: { digest: config }, layers: [] });
    l.index([{ mediaType: M, digest: manifest, size: 1 }]);
    expect(readLayoutDigests(dir)).toEqual({ digest: manifest, platforms: { 'linux/amd64': manifest } });
  });

  it('reads an index, one digest per platform, attestations left out', () => {
    const l = layout();
    const amd = l.put({ mediaType: M, layers: [] });
    const arm = l.put({ mediaType: M, layers: [1] });
    const att = l.put({ mediaType: M, layers: [2] });
    const index = l.put({
      mediaType: I,
      manifests: [
        { mediaType: M, digest: amd, platform: { os: 'linux', architecture: 'amd64' } },
        { mediaType: M, digest: arm, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
        {
          mediaType: M,
          digest: att,
          platform: { os: 'unknown', architecture: 'unknown' },
          annotations: { 'vnd.docker.reference.type': 'attestation-manifest' },
        },
      ],
    });
    l.index([{ mediaType: I, digest: index, size: 1 }]);
    expect(readLayoutDigests(dir)).toEqual({ digest: index, platforms: { 'linux/amd64': amd, 'linux/arm/v7': arm } });
  });

  it('says when the layout lists nothing', () => {
    layout().index([]);
    expect(() => readLayoutDigests(dir)).toThrow(/lists no image/);
  });
});
