// Build contexts for docker-build's tests, the build benchmark and whatever else builds an image, made in a temp dir: a FROM-scratch context and
// a Node service whose dependencies are real packages from this repository's node_modules, packed
// as tarballs (no package registry is reachable from a build here).
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

export const repoRoot = resolve(import.meta.dirname, '..', '..');
const fixtureDir = resolve(import.meta.dirname, 'fixtures', 'node-service');

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `shipline-db-${prefix}-`));
}

/** A context with `FROM scratch` and one file, whose content makes each build distinct. */
export function scratchContext(content: string, dockerfile = 'FROM scratch\nCOPY hello.txt /hello.txt\n'): string {
  const dir = tempDir('scratch');
  writeFileSync(join(dir, 'Dockerfile'), dockerfile);
  writeFileSync(join(dir, 'hello.txt'), content);
  return dir;
}

function packageDir(name: string, from: string = repoRoot): string {
  const req = createRequire(join(from, 'noop.js'));
  return dirname(realpathSync(req.resolve(`${name}/package.json`)));
}

/** The Node service fixture with vendor/*.tgz made from installed packages. */
export function nodeServiceContext(): string {
  const dir = tempDir('node-service');
  cpSync(fixtureDir, dir, { recursive: true });
  mkdirSync(join(dir, 'vendor'));
  const typesNode = packageDir('@types/node');
  const packs: [string, string][] = [
    ['yaml.tgz', packageDir('yaml')],
    ['typescript.tgz', packageDir('typescript')],
    ['types-node.tgz', typesNode],
    ['undici-types.tgz', packageDir('undici-types', typesNode)],
    // Build-time tools a TypeScript service typically carries (test runner, bundler, linter).
    ['vitest.tgz', packageDir('vitest')],
    ['ncc.tgz', packageDir('@vercel/ncc')],
    ['biome.tgz', packageDir('@biomejs/biome')],
    ['biome-cli-linux-x64.tgz', packageDir('@biomejs/cli-linux-x64', packageDir('@biomejs/biome'))],
  ];
  for (const [file, src] of packs) execFileSync('tar', ['czf', join(dir, 'vendor', file), '-C', src, '.'], { stdio: 'ignore' });
  return dir;
}

/** `docker …` with the caller's environment (DOCKER_HOST from the stack); throws on failure. */
export function docker(args: string[], opts: { allowFail?: boolean } = {}): string {
  const r = spawnSync('docker', args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0 && !opts.allowFail) throw new Error(`docker ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** Forgets everything the builder has cached, so the next build starts as on a fresh runner. */
export function pruneBuilder(name: string): void {
  docker(['buildx', 'prune', '--builder', name, '--all', '--force'], { allowFail: true });
}

export const nodeImage = () => process.env.SHIPLINE_NODE_IMAGE ?? '127.0.0.1:5000/shipline/node:24';
