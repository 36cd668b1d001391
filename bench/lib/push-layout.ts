// Side-by-side: push a ~200 MB, 6-layer OCI layout with @shipline/oci vs `skopeo copy`, cold,
// then a warm re-push, then two registries at once. Usage:
//   node bench/lib/push-layout.ts <registry> [second-registry]
// Prints `name: ratio=… (shipline … s, other … s)` lines.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ociLayoutSource, pushImage } from '../../packages/oci/src/index.ts';
import { makeOciLayout } from '../../test/support/oci/layout.ts';
import { benchLayers } from './real-layers.ts';

const registry = process.argv[2] ?? '127.0.0.1:5055';
const second = process.argv[3];
const MB = 1024 * 1024;

function skopeo(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => execFile('skopeo', args, (err, _o, stderr) => (err ? reject(new Error(stderr)) : resolve())));
}

async function time<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await f();
  return [r, (performance.now() - t0) / 1000];
}

const work = await mkdtemp(path.join(tmpdir(), 'oci-bench-'));
try {
  const run = Date.now().toString(36);
  const { layers, real } = benchLayers(run);
  const fx = await makeOciLayout(path.join(work, 'layout'), [{ layers }]);
  console.log(`layout: ${layers.length} layers, ${real ? 'real files' : 'random data'}`);
  const [res, ours] = await time(async () => pushImage({ source: await ociLayoutSource(fx.dir), destinations: [`${registry}/bench/shipline-${run}:1`] }));
  const [, theirs] = await time(() => skopeo(['copy', '--dest-tls-verify=false', `oci:${fx.dir}`, `docker://${registry}/bench/skopeo-${run}:1`]));
  console.log(
    `push-oci-layout-cold: ratio=${(ours / theirs).toFixed(2)} (shipline ${ours.toFixed(2)} s, other ${theirs.toFixed(2)} s) pushed=${(res.pushedBytes / MB).toFixed(0)} MiB`,
  );
  const [again, warm] = await time(async () => pushImage({ source: await ociLayoutSource(fx.dir), destinations: [`${registry}/bench/shipline-${run}:1`] }));
  const [, skWarm] = await time(() => skopeo(['copy', '--dest-tls-verify=false', `oci:${fx.dir}`, `docker://${registry}/bench/skopeo-${run}:1`]));
  console.log(
    `push-oci-layout-warm: ratio=${(warm / skWarm).toFixed(2)} (shipline ${warm.toFixed(3)} s, other ${skWarm.toFixed(3)} s) pushed=${again.pushedBytes} bytes`,
  );
  if (second) {
    const [, two] = await time(async () =>
      pushImage({ source: await ociLayoutSource(fx.dir), destinations: [`${registry}/bench/two-${run}:1`, `${second}/bench/two-${run}:1`] }),
    );
    console.log(`push-two-registries: ratio=${(two / ours).toFixed(2)} (shipline two ${two.toFixed(2)} s, shipline one ${ours.toFixed(2)} s)`);
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
