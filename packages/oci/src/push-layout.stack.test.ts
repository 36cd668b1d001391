import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultProxy } from '../../../test/support/fault-proxy.ts';
import { type Fixture, makeOciLayout } from '../../../test/support/oci/layout.ts';
import { skopeoConfig, skopeoExists, skopeoInspect, skopeoRaw } from '../../../test/support/oci/skopeo.ts';
import { removeScratch, stack, uniqueRepo } from '../../../test/support/oci/stack-env.ts';
import { createCredentialSource } from './docker-config.ts';
import { OciError, RegistryError, RegistryTlsError } from './errors.ts';
import { ociLayoutSource } from './layout.ts';
import { type BlobProgress, pushImage } from './push.ts';

let work: string;
let single: Fixture;
let multi: Fixture;

const creds = () => createCredentialSource({ explicit: { [stack.tlsRegistry]: { username: stack.user, password: stack.password } }, dockerConfigPath: false });
const noSleep = async () => {};

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'oci-push-'));
  single = await makeOciLayout(path.join(work, 'single'), [{ layers: [300_000, 2_000_000, 50_000] }]);
  multi = await makeOciLayout(path.join(work, 'multi'), [
    { platform: { os: 'linux', architecture: 'amd64' }, layers: [400_000, 100_000] },
    { platform: { os: 'linux', architecture: 'arm64' }, layers: [400_000, 100_000] },
  ]);
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
  removeScratch();
});

describe('push an OCI layout to the real registry', () => {
  it('pushes byte for byte: digest, config digest and diff_ids as skopeo reads them back', async () => {
    const repo = `${stack.registry}/${uniqueRepo('oci/single')}`;
    const events: BlobProgress[] = [];
    const result = await pushImage({
      source: await ociLayoutSource(single.dir),
      destinations: [`${repo}:1.0`, `${repo}:latest`],
      credentials: creds(),
      onProgress: (e) => events.push(e),
    });
    expect(result.digest).toBe(single.rootDigest);
    expect(result.refs).toEqual([`${repo}:1.0@${single.rootDigest}`, `${repo}:latest@${single.rootDigest}`]);
    expect(result.configDigest).toBe(single.configDigests[0]);
    expect(result.uploadedBlobs).toBe(4);
    expect(result.reusedBlobs).toBe(0);
    expect(result.pushedBytes).toBeGreaterThan(2_300_000);

    const raw = await skopeoRaw(`${repo}:1.0`);
    expect(raw.digest).toBe(single.rootDigest);
    expect(raw.bytes.equals(await readFile(path.join(single.dir, 'blobs/sha256', single.rootDigest.slice(7))))).toBe(true);
    const inspected = await skopeoInspect(`${repo}:latest`);
    expect(inspected.Digest).toBe(single.rootDigest);
    expect(inspected.Layers).toEqual(single.layerDigests[0]);
    const config = await skopeoConfig(`${repo}:1.0`);
    expect(config.digest).toBe(single.configDigests[0]);
    expect(config.json.rootfs.diff_ids).toEqual(single.diffIds[0]);

    // Per-layer progress ends with every byte of every blob.
    const done = events.filter((e) => e.state === 'uploaded');
    expect(done.map((e) => e.digest).sort()).toEqual([...single.layerDigests[0]!, single.configDigests[0]!].sort());
    for (const e of done) expect(e.pushedBytes).toBe(e.size);
    expect(events.some((e) => e.state === 'uploading' && e.pushedBytes > 0 && e.pushedBytes < e.size)).toBe(true);
  });

  it('re-push from a fresh start uploads nothing', async () => {
    const repo = `${stack.registry}/${uniqueRepo('oci/again')}`;
    await pushImage({ source: await ociLayoutSource(single.dir), destinations: [`${repo}:a`], credentials: creds() });
    const t0 = performance.now();
    const again = await pushImage({ source: await ociLayoutSource(single.dir), destinations: [`${repo}:a`], credentials: creds() });
    const ms = performance.now() - t0;
    expect(again.pushedBytes).toBe(0);
    expect(again.uploadedBlobs).toBe(0);
    expect(again.reusedBlobs).toBe(4);
    expect(again.digest).toBe(single.rootDigest);
    expect(ms).toBeLessThan(2000);
  });

  it('pushes a multi-platform index with its children, digest kept', async () => {
    const repo = `${stack.registry}/${uniqueRepo('oci/multi')}`;
    const result = await pushImage({ source: await ociLayoutSource(multi.dir), destinations: [`${repo}:v1`], credentials: creds() });
    expect(result.digest).toBe(multi.rootDigest);
    expect(result.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    const raw = await skopeoRaw(`${repo}:v1`);
    expect(raw.digest).toBe(multi.rootDigest);
    for (const [i, md] of multi.manifestDigests.entries()) {
      const child = await skopeoRaw(`${repo}@${md}`);
      expect(child.digest).toBe(md);
      expect((await skopeoConfig(`${repo}@${md}`)).digest).toBe(multi.configDigests[i]);
    }
  });

  it('pushes to several registries and repositories at once, mounting inside one registry', async () => {
    const a = `${stack.registry}/${uniqueRepo('oci/many-a')}`;
    const b = `${stack.registry}/${uniqueRepo('oci/many-b')}`;
    const c = `${stack.tlsRegistry}/${uniqueRepo('oci/many-c')}`;
    const secrets: string[] = [];
    const result = await pushImage({
      source: await ociLayoutSource(single.dir),
      destinations: [`${a}:1`, `${b}:1`, `${c}:1`, `${c}:2`],
      credentials: creds(),
      caFile: stack.ca,
      onSecret: (s) => secrets.push(s),
    });
    expect(result.refs).toEqual([`${a}:1@${single.rootDigest}`, `${b}:1@${single.rootDigest}`, `${c}:1@${single.rootDigest}`, `${c}:2@${single.rootDigest}`]);
    // Four blobs uploaded to each registry once; the second repository got them by mount.
    expect(result.uploadedBlobs).toBe(8);
    expect(result.reusedBlobs).toBe(4);
    expect(secrets).toContain(stack.password);
    for (const ref of [`${a}:1`, `${b}:1`, `${c}:2`]) expect((await skopeoRaw(ref)).digest).toBe(single.rootDigest);
  });

  it('uploads large blobs in PATCH chunks and verifies them', async () => {
    const repo = `${stack.registry}/${uniqueRepo('oci/chunked')}`;
    const result = await pushImage({ source: await ociLayoutSource(single.dir), destinations: [`${repo}:c`], credentials: creds(), chunkSize: 256 * 1024 });
    expect(result.digest).toBe(single.rootDigest);
    expect((await skopeoInspect(`${repo}:c`)).Layers).toEqual(single.layerDigests[0]);
  });

  it('a wrong password gives one clear error and pushes nothing', async () => {
    const repo = `${stack.tlsRegistry}/${uniqueRepo('oci/denied')}`;
    const err = await pushImage({
      source: await ociLayoutSource(single.dir),
      destinations: [`${repo}:1`],
      caFile: stack.ca,
      credentials: createCredentialSource({ explicit: { [stack.tlsRegistry]: { username: stack.user, password: 'wrong' } }, dockerConfigPath: false }),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as RegistryError).status).toBe(401);
    expect((err as Error).message).toContain(stack.tlsRegistry);
    expect((err as RegistryError).hint).toMatch(/credentials/);
    expect(String((err as Error).message)).not.toContain('wrong');
    expect(await skopeoExists(`${repo}:1`)).toBe(false);
  });

  it('without the CA the TLS error says what to do', async () => {
    const err = await pushImage({ source: await ociLayoutSource(single.dir), destinations: [`${stack.tlsRegistry}/x/y:1`], credentials: creds() }).catch(
      (e: unknown) => e,
    );
    // The library names no action input: it raises a typed TLS error that the action maps to `ca-file`.
    expect(err).toBeInstanceOf(RegistryTlsError);
    expect((err as RegistryTlsError).registry).toBe(stack.tlsRegistry);
    expect((err as RegistryTlsError).hint).toMatch(/trust the registry's CA/);
  });

  it('a registry listed as insecure is reached without verifying its certificate', async () => {
    const repo = `${stack.tlsRegistry}/${uniqueRepo('oci/insecure')}`;
    const result = await pushImage({
      source: await ociLayoutSource(single.dir),
      destinations: [`${repo}:1`],
      credentials: creds(),
      insecure: [stack.tlsRegistry],
    });
    expect(result.digest).toBe(single.rootDigest);
    expect((await skopeoRaw(`${repo}:1`)).digest).toBe(single.rootDigest);
  });

  it('a registry that is down fails after bounded retries naming the endpoint', async () => {
    const delays: number[] = [];
    const err = await pushImage({
      source: await ociLayoutSource(single.dir),
      destinations: ['127.0.0.1:1/none/app:1'],
      sleep: async (ms) => {
        delays.push(ms);
      },
      onRetry: () => {},
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as Error).message).toMatch(/127\.0\.0\.1:1\/v2\/ failed after 5 attempts/);
    expect(delays.length).toBe(4);
  });

  it('a corrupt blob in the layout is caught and the manifest is not pushed', async () => {
    const dir = path.join(work, 'corrupt');
    const fx = await makeOciLayout(dir, [{ layers: [100_000] }]);
    const layer = path.join(dir, 'blobs/sha256', fx.layerDigests[0]![0]!.slice(7));
    const bytes = await readFile(layer);
    bytes[bytes.length - 20] = (bytes[bytes.length - 20] ?? 0) ^ 0xff;
    await writeFile(layer, bytes);
    const repo = `${stack.registry}/${uniqueRepo('oci/corrupt')}`;
    const err = await pushImage({ source: await ociLayoutSource(dir), destinations: [`${repo}:1`], credentials: creds() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OciError);
    expect((err as Error).message).toMatch(/corrupt|DIGEST_INVALID|digest/i);
    expect(await skopeoExists(`${repo}:1`)).toBe(false);
  });
});

describe('fault injection through a proxy in front of the real registry', () => {
  it('retries 503 and 429 honouring Retry-After, and connection resets', async () => {
    let faults = 0;
    const proxy = await startFaultProxy(stack.registry, (req) => {
      if (req.url === '/v2/') return undefined;
      faults++;
      if (faults <= 2) return { status: 503, retryAfter: '2' };
      if (faults <= 3) return { status: 429, retryAfter: '1' };
      if (faults <= 5) return 'reset';
      if (req.method === 'PUT' && req.url?.includes('/manifests/') && faults < 20) {
        faults = 20;
        return { status: 502 };
      }
      return undefined;
    });
    try {
      const delays: number[] = [];
      const repo = uniqueRepo('oci/faults');
      const result = await pushImage({
        source: await ociLayoutSource(single.dir),
        destinations: [`${proxy.address}/${repo}:1`],
        sleep: async (ms) => {
          delays.push(ms);
        },
        backoff: { retries: 6 },
        concurrency: 1,
      });
      expect(result.digest).toBe(single.rootDigest);
      expect(delays.slice(0, 3)).toEqual([2000, 2000, 1000]);
      expect(delays.length).toBe(6);
      expect(proxy.requests.filter((r) => r.fault === 'reset')).toHaveLength(2);
      expect((await skopeoRaw(`${stack.registry}/${repo}:1`)).digest).toBe(single.rootDigest);
    } finally {
      await proxy.close();
    }
  });

  it('survives a reset in the middle of a blob upload and a lost upload session', async () => {
    let puts = 0;
    const proxy = await startFaultProxy(stack.registry, (req) => {
      if (req.method === 'PUT' && req.url?.includes('/blobs/uploads/')) {
        puts++;
        if (puts === 1) return 'reset';
        if (puts === 3) return { status: 404 };
      }
      return undefined;
    });
    try {
      const lines: string[] = [];
      const repo = uniqueRepo('oci/midupload');
      const result = await pushImage({
        source: await ociLayoutSource(single.dir),
        destinations: [`${proxy.address}/${repo}:1`],
        sleep: noSleep,
        concurrency: 1,
        log: (l) => lines.push(l),
      });
      expect(result.digest).toBe(single.rootDigest);
      expect(lines.some((l) => /restarting the upload of sha256:[0-9a-f]+ .*HTTP 404/.test(l))).toBe(true);
      expect(lines.some((l) => /retrying PUT http:\/\/127\.0\.0\.1:\d+\/v2\/.*\/blobs\/uploads\//.test(l))).toBe(true);
      expect((await skopeoInspect(`${stack.registry}/${repo}:1`)).Layers).toEqual(single.layerDigests[0]);
    } finally {
      await proxy.close();
    }
  });

  it('a commit whose answer was lost is found in place instead of failing on the closed session', async () => {
    let puts = 0;
    // The registry stores the first blob; its answer never arrives; the retried PUT meets a closed session.
    const proxy = await startFaultProxy(stack.registry, (req) =>
      req.method === 'PUT' && req.url?.includes('/blobs/uploads/') && ++puts === 1 ? { kind: 'lose-answer' } : undefined,
    );
    try {
      const lines: string[] = [];
      const repo = uniqueRepo('oci/lost-answer');
      const result = await pushImage({
        source: await ociLayoutSource(single.dir),
        destinations: [`${proxy.address}/${repo}:1`],
        sleep: noSleep,
        concurrency: 1,
        log: (l) => lines.push(l),
      });
      expect(result.digest).toBe(single.rootDigest);
      expect(proxy.requests.filter((r) => r.method === 'PUT' && r.url.includes('/blobs/uploads/')).map((r) => r.upstreamStatus)).toEqual([
        201, 404, 201, 201, 201,
      ]);
      expect(lines.some((l) => /although its upload session was lost \(HTTP 404\)/.test(l))).toBe(true);
      expect((await skopeoInspect(`${stack.registry}/${repo}:1`)).Layers).toEqual(single.layerDigests[0]);
    } finally {
      await proxy.close();
    }
  });

  it('retries a PATCH chunk reset in flight and still verifies the whole blob', async () => {
    let patches = 0;
    const proxy = await startFaultProxy(stack.registry, (req) => {
      if (req.method === 'PATCH' && ++patches === 2) return 'reset';
      return undefined;
    });
    try {
      const repo = uniqueRepo('oci/chunk-reset');
      const result = await pushImage({
        source: await ociLayoutSource(single.dir),
        destinations: [`${proxy.address}/${repo}:1`],
        sleep: noSleep,
        chunkSize: 256 * 1024,
        concurrency: 1,
      });
      expect(result.digest).toBe(single.rootDigest);
      expect(patches).toBeGreaterThan(2);
      expect((await skopeoInspect(`${stack.registry}/${repo}:1`)).Layers).toEqual(single.layerDigests[0]);
    } finally {
      await proxy.close();
    }
  });

  it('gives up after bounded retries with the endpoint in the error', async () => {
    const proxy = await startFaultProxy(stack.registry, (req) => (req.url === '/v2/' ? undefined : { status: 503 }));
    try {
      const err = await pushImage({
        source: await ociLayoutSource(single.dir),
        destinations: [`${proxy.address}/${uniqueRepo('oci/down')}:1`],
        sleep: noSleep,
        backoff: { retries: 3 },
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RegistryError);
      expect((err as Error).message).toMatch(new RegExp(`http://${proxy.address}/v2/oci/down-[^ ]+ failed after 4 attempts: HTTP 503`));
    } finally {
      await proxy.close();
    }
  });
});
