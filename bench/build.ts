// Build of a Node service with dependencies (vendored tarballs unpacked: yaml at run time;
// typescript, @types/node, vitest, ncc and biome at build time, ~150 MB; TypeScript compiled;
// production modules copied) through the bundled docker-build, as a CI runner sees it: cold (empty
// builder, empty cache dir) against warm (empty builder again, the cache dir of the cold run
// restored, as actions/GitLab caches restore it). Median of BENCH_RUNS (3) pairs; "other" is the cold build.
// The builder is a docker-container builder of the bench's own, named by the `builder` input (the
// action creates it on first use, as it creates its managed one); it is emptied before each build and
// kept for the next run (`pnpm stack clean` removes it with the stack). Brings the local stack up first.
// Not a test: nothing here asserts a time.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { up, withStackEnv } from '../test/stack/index.ts';
import { docker, nodeImage, nodeServiceContext, pruneBuilder, tempDir } from '../test/support/build-contexts.ts';
import { runGitHubAction } from '../test/support/run-action.ts';
import { median, span } from './lib/stats.ts';

await up();
Object.assign(process.env, withStackEnv());

const work = tempDir('bench');
const builder = { name: 'shipline-bench-build' };
const ctx = nodeServiceContext();
const image = `${process.env.SHIPLINE_REGISTRY ?? '127.0.0.1:5000'}/shipline-bench/orders`;
const env = { DOCKER_HOST: process.env.DOCKER_HOST, RUNNER_TEMP: work, GITHUB_SHA: 'b'.repeat(40), GITHUB_REF: 'refs/heads/main' };
const inputs = {
  context: ctx,
  image,
  tags: 'type=raw,value=bench',
  'build-args': `BASE_IMAGE=${nodeImage()}`,
  cache: 'local',
  'cache-dir': join(work, 'cache'),
  builder: builder.name,
};

async function build(label: string): Promise<{ seconds: number; hit: string; steps: string }> {
  pruneBuilder(builder.name);
  docker(['image', 'rm', '--force', `${image}:bench`], { allowFail: true });
  const t = performance.now();
  const r = await runGitHubAction('docker-build', inputs, { env, timeoutMs: 600_000 });
  const seconds = (performance.now() - t) / 1000;
  if (r.code !== 0) throw new Error(`${label} build failed:\n${r.stdout.slice(-3000)}${r.stderr}`);
  const cache = JSON.parse(r.outputs.metadata ?? '{}').cache ?? {};
  return { seconds, hit: r.outputs['cache-hit'] ?? '', steps: `${cache.cachedSteps}/${cache.steps}` };
}

const rounds = Number(process.env.BENCH_RUNS ?? 3);
try {
  const colds: Awaited<ReturnType<typeof build>>[] = [];
  const warms: Awaited<ReturnType<typeof build>>[] = [];
  for (let i = 0; i < rounds; i++) {
    // Each round starts from an empty cache dir: a cold build, then a warm one from its cache.
    rmSync(inputs['cache-dir'], { recursive: true, force: true });
    colds.push(await build('cold'));
    warms.push(await build('warm'));
  }
  const c = median(colds.map((r) => r.seconds));
  const w = median(warms.map((r) => r.seconds));
  const warm = warms[warms.length - 1] as Awaited<ReturnType<typeof build>>;
  const cold = colds[colds.length - 1] as Awaited<ReturnType<typeof build>>;
  console.log(
    `build/warm-vs-cold: ratio=${(c / w).toFixed(2)} (shipline ${w.toFixed(2)} s, other ${c.toFixed(2)} s) median of ${rounds} (warm ${span(
      warms.map((r) => r.seconds),
      1,
    )}, cold ${span(
      colds.map((r) => r.seconds),
      1,
    )}); ` +
      `warm cache-hit=${warm.hit} steps cached ${warm.steps}, cold cache-hit=${cold.hit} steps cached ${cold.steps}; load into dockerd included, node ${process.version}`,
  );
} finally {
  docker(['image', 'rm', '--force', `${image}:bench`], { allowFail: true });
  rmSync(work, { recursive: true, force: true });
  rmSync(ctx, { recursive: true, force: true });
}
