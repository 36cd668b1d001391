// `pnpm run actionlint`: actionlint (pinned in test/stack/versions.env, built from its Go module by
// the stack's build-go.sh) over the project's workflows and the examples' workflows. Exits 1 on any
// finding. Run from the repository root: actionlint checks local actions' inputs and local
// reusable workflows only inside a git repository that has .github/workflows.
import { spawnSync } from 'node:child_process';
import { existsSync, globSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ACTIONLINT_OUT } from '../test/stack/lib/install.ts';

const root = resolve(import.meta.dirname, '..');
const binary = join(ACTIONLINT_OUT, 'bin', 'actionlint');

function ensureBuilt(): void {
  if (existsSync(join(ACTIONLINT_OUT, '.done'))) return;
  console.error(`actionlint is not built yet; building it into ${ACTIONLINT_OUT} (needs Go 1.24+ and the Go module proxy)`);
  const r = spawnSync('bash', [join(root, 'test', 'stack', 'build-go.sh'), 'actionlint'], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error('actionlint: the build failed (see above); install Go (/usr/local/go) or run `pnpm stack up`, which builds it, and retry');
    process.exit(1);
  }
}

const patterns = ['.github/workflows/*.yml', '.github/workflows/*.yaml', 'examples/**/.github/workflows/*.yml', 'examples/**/.github/workflows/*.yaml'];
const files = patterns.flatMap((p) => globSync(p, { cwd: root })).sort();
if (files.length === 0) {
  console.error('actionlint: no workflow files found under .github/workflows or examples/**/.github/workflows');
  process.exit(1);
}

ensureBuilt();
const r = spawnSync(binary, ['-no-color', ...files], { cwd: root, encoding: 'utf8' });
if (r.error) {
  console.error(`actionlint: cannot run ${binary}: ${r.error.message}`);
  process.exit(1);
}
const findings = `${r.stdout}${r.stderr}`.trim();
if (r.status !== 0 || findings !== '') {
  console.error(findings || `actionlint exited ${r.status}`);
  console.error(`actionlint: ${files.length} workflow file(s) checked; fix the findings above`);
  process.exit(1);
}
console.log(`actionlint: ${files.length} workflow file(s) clean (${files.join(', ')})`);
