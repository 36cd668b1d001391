// `pnpm bench [name...]`: runs bench/<name>.ts (all of them when no name is given).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const dir = import.meta.dirname;
const all = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
  .map((f) => f.replace(/\.ts$/, ''));
const pick = process.argv.slice(2);
let failed = false;
for (const name of pick.length ? pick : all) {
  if (!all.includes(name)) {
    console.error(`bench: no bench/${name}.ts (have: ${all.join(', ')})`);
    process.exit(2);
  }
  const r = spawnSync(process.execPath, [join(dir, `${name}.ts`)], { stdio: 'inherit' });
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
