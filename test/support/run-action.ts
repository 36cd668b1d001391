// Runs a bundled action the way a runner does, for tests: GitHub contract (INPUT_* env, GITHUB_OUTPUT,
// GITHUB_STEP_SUMMARY) or the CLI. The committed bundle in dist/ (what users run); with
// SHIPLINE_FROM_SOURCE=1 an action runs from actions/<name>/src/main.ts and the CLI from
// packages/cli/src/main.ts, to check a fix before re-bundling (check-dist still holds the bundles
// to the sources).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'vitest';

export const repoRoot = resolve(import.meta.dirname, '..', '..');

export interface Run {
  code: number | null;
  /** The signal that ended it (a kill), if one did. */
  signal?: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
  ms: number;
}

export interface ExecOptions {
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Called with all of stdout so far after each chunk, and a function that SIGKILLs the process now. */
  onStdout?: (stdout: string, kill: () => void) => void;
}

function exec(args: string[], env: NodeJS.ProcessEnv, opts: ExecOptions): Promise<Omit<Run, 'outputs' | 'summary'>> {
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const kill = () => child.kill('SIGKILL');
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => {
      stdout += c;
      opts.onStdout?.(stdout, kill);
    });
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    const timer = setTimeout(kill, opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr, ms: performance.now() - started });
    });
  });
}

/** Parses GITHUB_OUTPUT's `name<<delimiter` entries (and plain `name=value` lines). */
export function parseOutputFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const [, name, delim] = heredoc;
      const body: string[] = [];
      for (i++; i < lines.length && lines[i] !== delim; i++) body.push(lines[i] as string);
      out[name as string] = body.join('\n');
    } else if (line.includes('=')) {
      out[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1);
    }
  }
  return out;
}

/** SHIPLINE_FROM_SOURCE=1: the actions and the CLI run from their sources, not the bundles. */
export const FROM_SOURCE = process.env.SHIPLINE_FROM_SOURCE === '1';

/** The entry file of an action: its bundle, or its sources under SHIPLINE_FROM_SOURCE=1. */
export function actionEntry(action: string): string {
  return FROM_SOURCE ? join(repoRoot, 'actions', action, 'src', 'main.ts') : join(repoRoot, 'dist', action, 'index.js');
}

/** The CLI's entry file (what `shipline` runs): the bundle, or its sources under SHIPLINE_FROM_SOURCE=1. */
export function cliEntry(): string {
  return FROM_SOURCE ? join(repoRoot, 'packages', 'cli', 'src', 'main.ts') : join(repoRoot, 'dist', 'cli', 'index.js');
}

/** The bundled action under the GitHub contract (a RUNNER_TEMP of its own unless `env` names one). `inputs` are named as in action.yml. */
export async function runGitHubAction(action: string, inputs: Record<string, string>, opts: ExecOptions = {}): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'shipline-gha-'));
  const outputFile = join(dir, 'output');
  const summaryFile = join(dir, 'summary');
  // A runner gives every step a RUNNER_TEMP, emptied after the job: here, removed with the run.
  const runnerTemp = join(dir, 'temp');
  writeFileSync(outputFile, '');
  writeFileSync(summaryFile, '');
  mkdirSync(runnerTemp);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    GITHUB_ACTIONS: 'true',
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    RUNNER_TEMP: runnerTemp,
    ...opts.env,
  };
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v;
  try {
    const r = await exec([actionEntry(action)], env, opts);
    return { ...r, outputs: parseOutputFile(readFileSync(outputFile, 'utf8')), summary: readFileSync(summaryFile, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The CLI (see cliEntry): `shipline <args>`; outputs parsed from its stdout. */
export async function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Run> {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...opts.env };
  const r = await exec([cliEntry(), ...args], env, opts);
  return { ...r, outputs: parseOutputFile(r.stdout), summary: '' };
}

/** Lines that look like a stack trace: a user-facing error must have none. */
export function stackLines(text: string): string[] {
  return text.split('\n').filter((l) => /^\s+at .+[:(]/.test(l) || /node:internal/.test(l));
}

/** The contract for a bad input: exit 1, one ::error naming the input, no stack trace, no outputs. Returns the error line. */
export function expectRejected(r: Run, input: string, text: RegExp): string {
  expect(r.code, r.stdout + r.stderr).toBe(1);
  const errors = r.stdout.split('\n').filter((l) => l.startsWith('::error::'));
  expect(errors, r.stdout).toHaveLength(1);
  const line = errors[0] as string;
  expect(line).toContain(`input "${input}"`);
  expect(line).toMatch(text);
  expect(stackLines(r.stdout + r.stderr)).toEqual([]);
  expect(r.outputs).toEqual({});
  return line;
}
