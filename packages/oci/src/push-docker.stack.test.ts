import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDockerSave } from '../../../test/support/oci/docker-save.ts';
import { skopeoConfig, skopeoInspect, skopeoRaw } from '../../../test/support/oci/skopeo.ts';
import { removeScratch, stack, uniqueRepo } from '../../../test/support/oci/stack-env.ts';
import { dockerArchiveFileSource } from './docker-archive.ts';
import { createCredentialSource } from './docker-config.ts';
import { dockerEndpoint, dockerImageSource } from './docker-engine.ts';
import { OciError } from './errors.ts';
import { pushImage } from './push.ts';
import { writeTar } from './tar.ts';

let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'oci-docker-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
  removeScratch();
});

const creds = () => createCredentialSource({ explicit: { [stack.tlsRegistry]: { username: stack.user, password: stack.password } }, dockerConfigPath: false });

describe('push a docker-save archive (uncompressed layers) to the real registry', () => {
  for (const shape of ['legacy', 'oci'] as const) {
    it(`${shape} archive: skopeo sees the source config digest and uncompressed diff_ids`, async () => {
      const fx = makeDockerSave([500_000, 30_000, 2_000_000], shape, { text: true });
      const file = path.join(work, `${shape}.tar`);
      await writeFile(file, fx.tar);
      const a = `${stack.registry}/${uniqueRepo(`oci/archive-${shape}`)}`;
      const b = `${stack.tlsRegistry}/${uniqueRepo(`oci/archive-${shape}`)}`;
      const result = await pushImage({
        source: dockerArchiveFileSource(file, { compression: { algorithm: 'gzip', level: 1 } }),
        destinations: [`${a}:1`, `${b}:1`],
        credentials: creds(),
        caFile: stack.ca,
      });
      expect(result.configDigest).toBe(fx.configDigest);
      // Each compressed layer went to both registries: compressed once, uploaded twice.
      expect(result.uploadedBlobs).toBe(8);
      for (const ref of [`${a}:1`, `${b}:1`]) {
        expect((await skopeoRaw(ref)).digest).toBe(result.digest);
        const config = await skopeoConfig(ref);
        expect(config.digest).toBe(fx.configDigest);
        expect(config.json.rootfs.diff_ids).toEqual(fx.diffIds);
        expect((await skopeoInspect(ref)).Layers).toHaveLength(3);
      }
    });
  }
});

function dockerLoad(tar: Buffer): Promise<void> {
  const ep = dockerEndpoint(stack.dockerHost);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { ...ep, method: 'POST', path: '/images/load?quiet=1', headers: { 'content-type': 'application/x-tar', 'content-length': tar.length } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
        });
        res.on('end', () => (res.statusCode === 200 && !text.includes('"error') ? resolve() : reject(new Error(`docker load: ${res.statusCode} ${text}`))));
      },
    );
    req.on('error', reject);
    req.end(tar);
  });
}

async function dockerRemove(name: string): Promise<void> {
  const ep = dockerEndpoint(stack.dockerHost);
  await new Promise<void>((resolve) => {
    const req = http.request({ ...ep, method: 'DELETE', path: `/images/${encodeURIComponent(name)}?force=1` }, (res) => {
      res.resume();
      res.on('end', () => resolve());
    });
    req.on('error', () => resolve());
    req.end();
  });
}

describe('push from the docker image store (dockerd over its socket)', () => {
  it('pushes a loaded image: config digest = image ID, diff_ids kept, re-push uploads nothing', async () => {
    const tag = `shipline-oci-test/${uniqueRepo('img')}:1`;
    const fx = makeDockerSave([400_000, 1_500_000, 20_000], 'legacy', { text: true, repoTag: tag });
    await dockerLoad(fx.tar);
    const repo = `${stack.registry}/${uniqueRepo('oci/from-docker')}`;
    const cacheDir = path.join(work, 'cache');
    const source = await dockerImageSource({ image: tag, dockerHost: stack.dockerHost, cacheDir });
    expect(source.imageId).toBe(fx.configDigest);
    const result = await pushImage({ source, destinations: [`${repo}:1`], credentials: creds() });
    expect(result.configDigest).toBe(fx.configDigest);
    const config = await skopeoConfig(`${repo}:1`);
    expect(config.digest).toBe(fx.configDigest);
    expect(config.json.rootfs.diff_ids).toEqual(fx.diffIds);
    expect((await skopeoRaw(`${repo}:1`)).digest).toBe(result.digest);
    const again = await pushImage({
      source: await dockerImageSource({ image: tag, dockerHost: stack.dockerHost }),
      destinations: [`${repo}:1`],
      credentials: creds(),
    });
    expect(again.pushedBytes).toBe(0);
    expect(again.digest).toBe(result.digest);
    // With the manifest remembered, the image is not even exported again.
    const lines: string[] = [];
    const t0 = performance.now();
    const cachedPush = await pushImage({
      source: await dockerImageSource({ image: tag, dockerHost: stack.dockerHost, cacheDir }),
      destinations: [`${repo}:1`, `${repo}:2`],
      credentials: creds(),
      log: (l) => lines.push(l),
    });
    const ms = performance.now() - t0;
    expect(lines.some((l) => l.includes('pushing manifests only'))).toBe(true);
    expect(cachedPush.digest).toBe(result.digest);
    expect(cachedPush.pushedBytes).toBe(0);
    expect(cachedPush.refs).toEqual([`${repo}:1@${result.digest}`, `${repo}:2@${result.digest}`]);
    expect((await skopeoRaw(`${repo}:2`)).digest).toBe(result.digest);
    expect(ms).toBeLessThan(2000);
    await dockerRemove(tag);
  });

  it('a rebuilt image with the same base layers compresses and uploads only what changed', async () => {
    const cacheDir = path.join(work, 'layer-cache');
    const repo = `${stack.registry}/${uniqueRepo('oci/rebuild')}`;
    const v1tag = `shipline-oci-test/${uniqueRepo('rebuild')}:1`;
    const v1 = makeDockerSave([800_000, 1_200_000], 'legacy', { text: true, repoTag: v1tag });
    await dockerLoad(v1.tar);
    const first = await pushImage({
      source: await dockerImageSource({ image: v1tag, dockerHost: stack.dockerHost, cacheDir }),
      destinations: [`${repo}:1`],
      credentials: creds(),
    });
    expect(first.uploadedBlobs).toBe(3);
    const v2tag = v1tag.replace(/:1$/, ':2');
    const v2 = makeDockerSave([...v1.layerTars, writeTar([{ name: 'app/changed.txt', data: 'changed '.repeat(40_000) }])], 'legacy', { repoTag: v2tag });
    await dockerLoad(v2.tar);
    const second = await pushImage({
      source: await dockerImageSource({ image: v2tag, dockerHost: stack.dockerHost, cacheDir }),
      destinations: [`${repo}:2`],
      credentials: creds(),
    });
    // The new layer and the new config; both base layers were neither compressed nor sent.
    expect(second.uploadedBlobs).toBe(2);
    expect(second.reusedBlobs).toBe(2);
    const config = await skopeoConfig(`${repo}:2`);
    expect(config.digest).toBe(v2.configDigest);
    expect(config.json.rootfs.diff_ids).toEqual(v2.diffIds);
    const layers = (await skopeoInspect(`${repo}:2`)).Layers;
    expect(layers.slice(0, 2)).toEqual((await skopeoInspect(`${repo}:1`)).Layers);
    await dockerRemove(v1tag);
    await dockerRemove(v2tag);
  });

  it("reads the layers straight from dockerd's overlay2 store: the same manifest as the export", async () => {
    const tag = `shipline-oci-test/${uniqueRepo('direct')}:1`;
    // Links, a whiteout, a UTF-8 name and bodies on both sides of the reader's 1 MiB split.
    const layers = [
      writeTar([
        { name: 'app/', data: '', type: '5' },
        { name: 'app/small.txt', data: 'hello\n' },
        { name: 'app/café.txt', data: 'accent '.repeat(500) },
        { name: 'app/big.txt', data: 'big '.repeat(2_000_000) },
        { name: 'app/link', data: '', type: '2', linkname: 'small.txt' },
        { name: 'app/hard', data: '', type: '1', linkname: 'app/small.txt' },
      ]),
      writeTar([
        { name: 'app/', data: '', type: '5' },
        { name: 'app/.wh.small.txt', data: '' },
        { name: 'app/new.txt', data: 'second layer\n' },
      ]),
    ];
    const fx = makeDockerSave(layers, 'legacy', { repoTag: tag });
    await dockerLoad(fx.tar);
    const repo = `${stack.registry}/${uniqueRepo('oci/direct')}`;
    const push = async (read: 'auto' | 'export', t: string) => {
      const lines: string[] = [];
      const r = await pushImage({
        source: await dockerImageSource({ image: tag, dockerHost: stack.dockerHost, read, log: (l) => lines.push(l) }),
        destinations: [`${repo}:${t}`],
      });
      return { r, lines };
    };
    const direct = await push('auto', 'direct');
    expect(direct.lines).toContain(`reading ${tag} from the docker store (2 layers)`);
    expect(direct.lines.join('\n')).not.toContain('exporting');
    const exported = await push('export', 'exported');
    expect(exported.lines).toEqual([]);
    expect(direct.r.digest).toBe(exported.r.digest);
    const config = await skopeoConfig(`${repo}:direct`);
    expect(config.digest).toBe(fx.configDigest);
    expect(config.json.rootfs.diff_ids).toEqual(fx.diffIds);
    await dockerRemove(tag);
  });

  it('an unknown image is a clear error before any registry is contacted', async () => {
    const err = await dockerImageSource({ image: 'shipline-oci-test/does-not-exist:nope', dockerHost: stack.dockerHost }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OciError);
    expect((err as Error).message).toBe('image shipline-oci-test/does-not-exist:nope is not in the docker image store');
  });
});
