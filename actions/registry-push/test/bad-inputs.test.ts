// Bad input to registry-push: exit 1, one ::error naming the input, before any network call
// (the registry named in the destinations does not exist, so any call would fail differently).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectRejected, runGitHubAction } from '../../../test/support/run-action.ts';

const dir = mkdtempSync(join(tmpdir(), 'shipline-rp-bad-'));
writeFileSync(join(dir, 'file.txt'), 'x');
const notLayout = mkdtempSync(join(tmpdir(), 'shipline-rp-empty-'));
const dest = 'registry.invalid:5000/team/app:1';

const cases: [string, Record<string, string>, string, RegExp][] = [
  ['no source', { destinations: dest }, 'image', /no source image/],
  ['both sources', { image: 'a:1', 'oci-layout': notLayout, destinations: dest }, 'image', /both `image` and `oci-layout`/],
  ['missing destinations', { image: 'a:1' }, 'destinations', /is required/],
  ['uppercase repository', { image: 'a:1', destinations: 'reg:5000/Team/App:1' }, 'destinations', /invalid image reference/],
  ['bad tag', { image: 'a:1', destinations: 'reg:5000/app:bad tag' }, 'destinations', /invalid image reference/],
  ['bad digest', { image: 'a:1', destinations: 'reg:5000/app@sha256:1234' }, 'destinations', /invalid image reference/],
  ['scheme in reference', { image: 'a:1', destinations: 'https://reg:5000/app:1' }, 'destinations', /invalid image reference/],
  ['layout is a file', { 'oci-layout': join(dir, 'file.txt'), destinations: dest }, 'oci-layout', /is not a directory/],
  ['layout without index.json', { 'oci-layout': notLayout, destinations: dest }, 'oci-layout', /holds no index\.json/],
  ['layout ref without layout', { image: 'a:1', 'oci-layout-ref': 'x', destinations: dest }, 'oci-layout-ref', /only used with `oci-layout`/],
  ['password without user', { image: 'a:1', destinations: dest, password: 'p4ssw0rd' }, 'username', /a password without a username/],
  ['user without password', { image: 'a:1', destinations: dest, username: 'u' }, 'password', /a username without a password/],
  ['ambiguous credentials', { image: 'a:1', destinations: `${dest}\nother.invalid/app:1`, username: 'u', password: 'p4ssw0rd' }, 'registry', /2 registries/],
  ['registry with scheme', { image: 'a:1', destinations: dest, registry: 'https://reg' }, 'registry', /not a registry host/],
  ['bad compression', { image: 'a:1', destinations: dest, compression: 'brotli' }, 'compression', /not understood/],
  ['gzip level out of range', { image: 'a:1', destinations: dest, compression: 'gzip:12' }, 'compression', /out of range/],
  ['zstd with docker manifests', { image: 'a:1', destinations: dest, compression: 'zstd', 'manifest-format': 'docker' }, 'compression', /cannot carry zstd/],
  ['unknown manifest format', { image: 'a:1', destinations: dest, 'manifest-format': 'v1' }, 'manifest-format', /use one of: oci, docker/],
  ['unknown docker-read mode', { image: 'a:1', destinations: dest, 'docker-read': 'mount' }, 'docker-read', /use one of: auto, export/],
  ['zero concurrency', { image: 'a:1', destinations: dest, concurrency: '0' }, 'concurrency', /out of range/],
  ['missing ca-file', { image: 'a:1', destinations: dest, 'ca-file': '/nope/ca.pem' }, 'ca-file', /does not exist/],
  ['bad insecure registry', { image: 'a:1', destinations: dest, 'insecure-registries': 'http://x/' }, 'insecure-registries', /not a registry host/],
  ['bad timeout', { image: 'a:1', destinations: dest, timeout: '10' }, 'timeout', /not a duration/],
  ['timeout beyond what timers hold', { image: 'a:1', destinations: dest, timeout: '600h' }, 'timeout', /too long/],
];

describe('registry-push rejects bad input', () => {
  it.each(cases)('%s', async (_why, inputs, name, text) => {
    const r = await runGitHubAction('registry-push', inputs, { env: { DOCKER_HOST: 'unix:///nonexistent/docker.sock' } });
    expect(expectRejected(r, name, text)).not.toContain('p4ssw0rd');
  });
});
