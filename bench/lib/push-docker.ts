// Side-by-side, in one run: push a ~200 MB, 6-layer image from the docker image store with
// @shipline/oci (read from the store, and through the export) vs `docker push` vs `skopeo copy
// docker-daemon:`, and the same layers from an OCI layout. Usage (DOCKER_HOST must point at dockerd):
//   node bench/lib/push-docker.ts <registry> [compression]
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { dockerEndpoint, dockerImageSource, ociLayoutSource, parseCompression, pushImage } from '../../packages/oci/src/index.ts';
import { makeDockerSave } from '../../test/support/oci/docker-save.ts';
import { makeOciLayout } from '../../test/support/oci/layout.ts';
import { benchLayers } from './real-layers.ts';

const registry = process.argv[2] ?? '127.0.0.1:5055';
const compression = parseCompression(process.argv[3] ?? 'gzip:1');
const MB = 1024 * 1024;
const ep = dockerEndpoint();

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { maxBuffer: 64 * MB }, (err, _o, stderr) => (err ? reject(new Error(`${cmd}: ${stderr}`)) : resolve())),
  );
}

function engine(method: string, path: string, body?: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request({ ...ep, method, path, headers: body ? { 'content-type': 'application/x-tar', 'content-length': body.length } : {} }, (res) => {
      let t = '';
      res.on('data', (c: Buffer) => {
        t += c.toString();
      });
      res.on('end', () => resolve(t));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function time(f: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await f();
  return (performance.now() - t0) / 1000;
}

const id = Date.now().toString(36);
const tag = `shipline-bench/push-${id}:1`;
const { layers, real } = benchLayers(id);
const fx = makeDockerSave(layers, 'legacy', { repoTag: tag });
console.log(
  `image: ${layers.length} layers, ${(fx.layerTars.reduce((a, t) => a + t.length, 0) / MB).toFixed(0)} MiB uncompressed, ${real ? 'real files' : 'random data'}`,
);
await engine('POST', '/images/load?quiet=1', fx.tar);
const dockerRef = `${registry}/bench/docker-${id}:1`;
await engine('POST', `/images/${encodeURIComponent(tag)}/tag?repo=${encodeURIComponent(`${registry}/bench/docker-${id}`)}&tag=1`);
try {
  const save = await time(() => engine('GET', `/images/get?names=${encodeURIComponent(tag)}`));
  const docker = await time(() => run('docker', ['push', '-q', dockerRef]));
  const skopeo = await time(() =>
    run('skopeo', [
      'copy',
      '--dest-tls-verify=false',
      ...(process.env.DOCKER_HOST ? ['--src-daemon-host', process.env.DOCKER_HOST] : []),
      `docker-daemon:${tag}`,
      `docker://${registry}/bench/skopeo-${id}:1`,
    ]),
  );
  let pushed = 0;
  const how: string[] = [];
  const ours = await time(async () => {
    const r = await pushImage({
      source: await dockerImageSource({ image: tag, compression, log: (l) => how.push(l) }),
      destinations: [`${registry}/bench/shipline-${id}:1`],
    });
    pushed = r.pushedBytes;
  });
  const viaExport = await time(async () =>
    pushImage({ source: await dockerImageSource({ image: tag, compression, read: 'export' }), destinations: [`${registry}/bench/shipline-export-${id}:1`] }),
  );
  // The same layers as docker-build's OCI layout output would hold them (already compressed).
  const layoutDir = await mkdtemp(path.join(tmpdir(), 'bench-layout-'));
  let fromLayout: number;
  try {
    const fxl = await makeOciLayout(path.join(layoutDir, 'layout'), [{ layers: fx.layerTars }]);
    fromLayout = await time(async () => pushImage({ source: await ociLayoutSource(fxl.dir), destinations: [`${registry}/bench/layout-${id}:1`] }));
  } finally {
    await rm(layoutDir, { recursive: true, force: true });
  }
  console.log(`docker save alone: ${save.toFixed(2)} s`);
  console.log(
    `push-oci-layout-vs-docker-push: ratio=${(fromLayout / docker).toFixed(2)} (shipline from an OCI layout ${fromLayout.toFixed(2)} s, other ${docker.toFixed(2)} s)`,
  );
  console.log(`shipline read the image by: ${how.join('; ')}`);
  console.log(
    `push-docker-store-export-cold: ratio=${(viaExport / docker).toFixed(2)} (shipline docker-read=export ${viaExport.toFixed(2)} s, other ${docker.toFixed(2)} s)`,
  );
  console.log(
    `push-docker-store-cold (${compression.algorithm}:${compression.level ?? 'default'}): ratio=${(ours / docker).toFixed(2)} (shipline ${ours.toFixed(2)} s, other ${docker.toFixed(2)} s) pushed=${(pushed / MB).toFixed(0)} MiB`,
  );
  console.log(`push-docker-store-vs-skopeo: ratio=${(ours / skopeo).toFixed(2)} (shipline ${ours.toFixed(2)} s, other ${skopeo.toFixed(2)} s)`);
} finally {
  await engine('DELETE', `/images/${encodeURIComponent(tag)}?force=1`);
  await engine('DELETE', `/images/${encodeURIComponent(dockerRef)}?force=1`);
}
