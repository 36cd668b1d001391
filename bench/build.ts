// Build of a Node service with dependencies (vendored tarballs unpacked: yaml at run time;
// typescript, @types/node, vitest, ncc and biome at build time, ~150 MB; TypeScript compiled;
// production modules copied) through the bundled docker-build, as a CI runner sees it: cold (empty
// builder, empty cache dir) against warm (empty builder again, the cache dir of the cold run
// restored, as actions/GitLab caches restore it). One run each; "other" is the cold build.
// The builder is the docker-container builder `shipline` the action creates for cache export.
// Needs the local stack: eval "$(pnpm -s stack env)" first. Not a test: nothing here asserts a time.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { docker, nodeImage, nodeServiceContext, pruneBuilder, tempDir } from '../actions/docker-build/test/support/fixtures.ts';
import { runGitHubAction } from '../test/support/run-action.ts';

if (!process.env.DOCKER_HOST) {
  console.error('bench/build: DOCKER_HOST is unset; start the stack and run eval "$(pnpm -s stack env)" first');
  process.exit(1);
}

const work = tempDir('bench');
const builder = { name: 'shipline' };
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

try {
  const cold = await build('cold');
  const warm = await build('warm');
  console.log(
    `build/warm-vs-cold: ratio=${(cold.seconds / warm.seconds).toFixed(2)} (shipline ${warm.seconds.toFixed(2)} s, other ${cold.seconds.toFixed(2)} s) ` +
      `warm cache-hit=${warm.hit} steps cached ${warm.steps}, cold cache-hit=${cold.hit} steps cached ${cold.steps}; load into dockerd included, node ${process.version}`,
  );
} finally {
  docker(['image', 'rm', '--force', `${image}:bench`], { allowFail: true });
  rmSync(work, { recursive: true, force: true });
  rmSync(ctx, { recursive: true, force: true });
}
