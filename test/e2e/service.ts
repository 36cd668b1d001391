// The order service as a team's repository holds it, for the end-to-end runs: its files copied
// (no tests, no local state), its manifests naming the repository the run pushes to.
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../support/run-action.ts';

/**
 * Copies examples/order-service to `to` (only the entries named in `only`, else all but its tests,
 * node_modules and its own .gitlab-ci.yml) and points its manifests at `image`: k8s-deploy pins the
 * image whose repository matches, and the manifests name the demo's.
 */
export function copyService(to: string, image: string, only?: string[]): void {
  const from = join(repoRoot, 'examples', 'order-service');
  const entries = only ?? readdirSync(from).filter((e) => !['node_modules', 'test', '.gitlab-ci.yml'].includes(e));
  for (const entry of entries) cpSync(join(from, entry), join(to, entry), { recursive: true });
  for (const f of readdirSync(join(to, 'k8s'))) {
    const p = join(to, 'k8s', f);
    writeFileSync(p, readFileSync(p, 'utf8').replace(/^(\s*image:\s*)\S*order-service\S*$/m, `$1${image}`));
  }
}
