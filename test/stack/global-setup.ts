// Vitest global setup for the `stack` project: brings the stack up (idempotent, fast when warm)
// and exports its variables so that test workers inherit them. With SHIPLINE_STACK_EXTERNAL=1
// nothing is started and the caller's environment is trusted. A stack that cannot start fails
// the run: integration tests never skip. Its teardown removes the kubeconfig copies gitlab-ci-local
// leaves behind (see removeGitlabFileVariables).
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { up, withStackEnv } from './index.ts';

const GCL_FILE_VARIABLES = 'gitlab-ci-local-file-variables-';

/**
 * gitlab-ci-local writes each File variable (the e2e runs' KUBECONFIG) 0644 under
 * /tmp/gitlab-ci-local-file-variables-<slug>-<job id> (the path is fixed in its code) and never
 * removes it: a GitLab run of the stack tests left 44 such dirs readable by every user. Removes
 * the ones made since `since`, unless a gitlab-ci-local is still running (another vitest run's
 * job may be using its files).
 */
export function removeGitlabFileVariables(since: number, log: (m: string) => void): void {
  const running = readdirSync('/proc').some((pid) => {
    if (!/^\d+$/.test(pid)) return false;
    try {
      return readFileSync(join('/proc', pid, 'cmdline'), 'utf8').includes('gitlab-ci-local');
    } catch {
      return false;
    }
  });
  const made = readdirSync('/tmp').filter(
    (n) => n.startsWith(GCL_FILE_VARIABLES) && (statSync(join('/tmp', n), { throwIfNoEntry: false })?.ctimeMs ?? 0) >= since,
  );
  if (made.length === 0) return;
  if (running) {
    log(`gitlab-ci-local is still running: its ${made.length} file-variable dirs in /tmp are left`);
    return;
  }
  for (const n of made) rmSync(join('/tmp', n), { recursive: true, force: true });
  log(`removed ${made.length} gitlab-ci-local file-variable dirs from /tmp`);
}

export default async function setup(): Promise<() => void> {
  const since = Date.now();
  const teardown = () => removeGitlabFileVariables(since, (m) => process.stderr.write(`[stack] ${m}\n`));
  // `vitest list` runs global setups too, but it only collects names: it must not start daemons.
  if (process.argv[2] === 'list') {
    process.stderr.write('[stack] vitest list: the stack is not started\n');
    return teardown;
  }
  if (process.env.SHIPLINE_STACK_EXTERNAL === '1') return teardown;
  try {
    await up((m) => process.stderr.write(`[stack] ${m}\n`));
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(`the local stack could not start${process.env.CI === 'true' ? ' (CI: failing, not skipping)' : ''}: ${msg}`);
  }
  Object.assign(process.env, withStackEnv(process.env));
  return teardown;
}
