// Bundles every action (actions/<name>/src/main.ts) and the CLI with ncc into dist/<name>/.
// One folder each: ncc empties the .js files of its output folder. `--out DIR` bundles elsewhere
// (check-dist compares such a fresh bundle with the committed one).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { minify } from 'terser';

const root = resolve(import.meta.dirname, '..');
const ncc = join(root, 'node_modules', '@vercel', 'ncc', 'dist', 'ncc', 'cli.js');

export function entries(): { name: string; entry: string }[] {
  const list = readdirSync(join(root, 'actions'))
    .filter((n) => existsSync(join(root, 'actions', n, 'src', 'main.ts')))
    .sort()
    .map((name) => ({ name, entry: join('actions', name, 'src', 'main.ts') }));
  list.push({ name: 'cli', entry: join('packages', 'cli', 'src', 'main.ts') });
  return list;
}

/**
 * ncc's own minify leaves the chunks that dynamic imports split off untouched (the CLI loads each
 * action on demand; unminified, the Kubernetes client alone is a 19 MB chunk) and keeps much of
 * the entry file; terser over every output file makes bundles 3-4x smaller, so they load faster
 * and weigh less in git.
 */
async function minifyOutput(dir: string): Promise<void> {
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.js'))) {
    const path = join(dir, f);
    const out = await minify(readFileSync(path, 'utf8'), { module: true, compress: { passes: 1 }, mangle: true, format: { comments: false } });
    if (out.code === undefined) throw new Error(`terser produced nothing for ${path}`);
    writeFileSync(path, out.code);
  }
}

export async function bundle(outRoot: string, only?: string[]): Promise<void> {
  for (const { name, entry } of entries()) {
    if (only?.length && !only.includes(name)) continue;
    const started = Date.now();
    // ncc leaves chunk files of earlier builds behind; a chunk no longer produced must not linger.
    rmSync(join(outRoot, name), { recursive: true, force: true });
    execFileSync(process.execPath, [ncc, 'build', entry, '-o', join(outRoot, name), '-m', '--license', 'licenses.txt', '-q'], {
      cwd: root,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    await minifyOutput(join(outRoot, name));
    process.stderr.write(`bundled ${name} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  }
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--out');
  const out = at >= 0 ? resolve(args[at + 1] ?? '') : join(root, 'dist');
  const only = args.filter((a, i) => a !== '--out' && (at < 0 || i !== at + 1));
  await bundle(out, only);
}
