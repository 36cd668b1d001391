// Helpers for the stack's acceptance tests: run a program (argument arrays only) and fail with
// its output when it exits non-zero.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunOptions, run } from './lib/proc.ts';

export async function sh(cmd: string, args: string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(cmd, args, { timeoutMs: 240_000, ...opts });
  return r.stdout;
}

export function need(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run through the stack project's global setup or \`pnpm stack env\``);
  return v;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `shipline-${prefix}-`));
}

export const uniq = (): string => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
