// Fails when dist/ is not what a fresh bundle of the sources makes: CI runs this, so the
// committed bundles (what `uses:` executes) never drift from the TypeScript they come from.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { bundle } from './bundle.ts';

const root = resolve(import.meta.dirname, '..');

function files(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

const fresh = mkdtempSync(join(tmpdir(), 'shipline-dist-'));
try {
  await bundle(fresh);
  const want = files(fresh);
  const have = files(join(root, 'dist'));
  const problems: string[] = [];
  for (const f of want) {
    if (!have.includes(f)) problems.push(`missing dist/${f}`);
    else if (!readFileSync(join(fresh, f)).equals(readFileSync(join(root, 'dist', f)))) problems.push(`dist/${f} differs from a fresh bundle`);
  }
  for (const f of have) if (!want.includes(f)) problems.push(`dist/${f} is not produced by the bundle (stale?)`);
  if (problems.length) {
    for (const p of problems) process.stderr.write(`check-dist: ${p}\n`);
    process.stderr.write('check-dist: run `pnpm bundle` and commit dist/\n');
    process.exit(1);
  }
  process.stderr.write(`check-dist: dist/ matches a fresh bundle (${want.length} files)\n`);
} finally {
  rmSync(fresh, { recursive: true, force: true });
}
