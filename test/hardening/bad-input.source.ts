// For checking a product change before the bundles are rebuilt: the same contracts as
// test/support/run-action.ts (GitHub: INPUT_* env, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY; the CLI), run
// on the sources. Opt-in with SHIPLINE_HARDENING_FROM=source; by default the hardening files run the
// committed bundles, which are what users run.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseOutputFile, type Run, repoRoot, runCli, runGitHubAction } from '../support/run-action.ts';

export const FROM_SOURCE = process.env.SHIPLINE_HARDENING_FROM === 'source';

function node(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: performance.now() - t });
    });
  });
}

/** An action under the GitHub contract: the bundle, or its sources under SHIPLINE_HARDENING_FROM=source. */
export async function runAction(action: string, inputs: Record<string, string>, env: NodeJS.ProcessEnv, timeoutMs = 180_000): Promise<Run> {
  if (!FROM_SOURCE) return runGitHubAction(action, inputs, { env, timeoutMs });
  const work = mkdtempSync(join(tmpdir(), 'shipline-gha-src-'));
  const output = join(work, 'output');
  const summary = join(work, 'summary');
  writeFileSync(output, '');
  writeFileSync(summary, '');
  const all: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    GITHUB_ACTIONS: 'true',
    GITHUB_OUTPUT: output,
    GITHUB_STEP_SUMMARY: summary,
    ...env,
  };
  for (const [k, v] of Object.entries(inputs)) all[`INPUT_${k.toUpperCase()}`] = v;
  try {
    const r = await node([join(repoRoot, 'actions', action, 'src', 'main.ts')], all, timeoutMs);
    return { ...r, outputs: parseOutputFile(readFileSync(output, 'utf8')), summary: readFileSync(summary, 'utf8') };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** `shipline <args>`: the bundled CLI, or its sources. */
export async function runShipline(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<Run> {
  if (!FROM_SOURCE) return runCli(args, { env, timeoutMs });
  const r = await node([join(repoRoot, 'packages', 'cli', 'src', 'main.ts'), ...args], { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, timeoutMs);
  return { ...r, outputs: parseOutputFile(r.stdout), summary: '' };
}

/** The CLI entry a shell script runs as `shipline` (the GitLab components' job script). */
export const cliEntry = (): string => join(repoRoot, FROM_SOURCE ? join('packages', 'cli', 'src', 'main.ts') : join('dist', 'cli', 'index.js'));
