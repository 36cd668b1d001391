// A dockerd overlay2 data root in a temp directory, for unit tests of the direct store reader:
// the image config under imagedb, per-layer records (diff, cache-id, tar-split.json.gz) under
// layerdb, and each layer's files extracted under overlay2/<cache-id>/diff, the way dockerd
// lays them out after `docker load`.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { chainIds } from '../../../packages/oci/src/docker-store.ts';
import { sha256Digest } from '../../../packages/oci/src/index.ts';

/** A tar-split record of a tar: raw headers and padding as segments, file bodies by name and size. */
export function tarSplitOf(tar: Buffer): Buffer {
  const lines: string[] = [];
  let segment: Buffer[] = [];
  let position = 0;
  const flush = () => {
    if (segment.length === 0) return;
    lines.push(JSON.stringify({ type: 2, payload: Buffer.concat(segment).toString('base64'), position: position++ }));
    segment = [];
  };
  let off = 0;
  let longName: string | undefined;
  while (off < tar.length) {
    const header = tar.subarray(off, off + 512);
    off += 512;
    segment.push(header);
    if (header.every((b) => b === 0)) continue;
    const size = parseInt(header.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim() || '0', 8);
    const type = String.fromCharCode(header[156] || 0x30);
    const padded = Math.ceil(size / 512) * 512;
    if (type === 'x' || type === 'L') {
      if (type === 'L')
        longName = tar
          .subarray(off, off + size)
          .toString('utf8')
          .replace(/\0.*$/s, '');
      segment.push(tar.subarray(off, off + padded));
      off += padded;
      continue;
    }
    const raw = header.subarray(0, 100).toString('utf8');
    const name = longName ?? raw.slice(0, raw.indexOf('\0') < 0 ? 100 : raw.indexOf('\0'));
    longName = undefined;
    flush();
    lines.push(JSON.stringify({ type: 1, name, ...(size > 0 ? { size } : {}), payload: null, position: position++ }));
    off += size;
    segment.push(tar.subarray(off, off + (padded - size)));
    off += padded - size;
  }
  flush();
  return gzipSync(`${lines.join('\n')}\n`);
}

export interface OverlayFixture {
  root: string;
  imageId: string;
  config: Buffer;
  diffIds: string[];
  /** overlay2/<cache-id>/diff of each layer. */
  layerDirs: string[];
}

/** Writes `layerTars` as an image into a fake data root under `root`. */
export function makeOverlayStore(root: string, layerTars: Buffer[]): OverlayFixture {
  const diffIds = layerTars.map((t) => sha256Digest(t));
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: diffIds } }));
  const imageId = sha256Digest(config);
  const db = path.join(root, 'image', 'overlay2');
  mkdirSync(path.join(db, 'imagedb', 'content', 'sha256'), { recursive: true });
  writeFileSync(path.join(db, 'imagedb', 'content', 'sha256', imageId.slice(7)), config);
  const layerDirs: string[] = [];
  chainIds(diffIds).forEach((chain, i) => {
    const record = path.join(db, 'layerdb', 'sha256', chain.slice(7));
    const cacheId = `cache${i}${chain.slice(7, 19)}`;
    mkdirSync(record, { recursive: true });
    writeFileSync(path.join(record, 'diff'), diffIds[i]!);
    writeFileSync(path.join(record, 'cache-id'), cacheId);
    writeFileSync(path.join(record, 'tar-split.json.gz'), tarSplitOf(layerTars[i]!));
    const dir = path.join(root, 'overlay2', cacheId, 'diff');
    mkdirSync(dir, { recursive: true });
    execFileSync('tar', ['-x', '-C', dir, '-f', '-'], { input: layerTars[i]! });
    layerDirs.push(dir);
  });
  return { root, imageId, config, diffIds, layerDirs };
}
