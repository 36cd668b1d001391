// The one way this action runs a program: an argument array (never a shell), output captured and
// optionally streamed line by line, no exception for a non-zero exit (the caller decides).
import { spawn } from 'node:child_process';

export interface ExecOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  onStdoutLine?: (line: string) => void;
  onStderrLine?: (line: string) => void;
  /** Kills the program after this long; 0 or absent: no limit. */
  timeoutMs?: number;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
  /** True when the program could not be started at all (ENOENT: not installed). */
  notFound: boolean;
  timedOut: boolean;
}

export type Exec = (program: string, args: readonly string[], options?: ExecOptions) => Promise<ExecResult>;

// Logs of a long build can be large; keep what a failure message needs, not all of it.
const KEEP_BYTES = 4 * 1024 * 1024;

function lineSplitter(onLine: ((line: string) => void) | undefined, keep: { text: string }) {
  let partial = '';
  return {
    push(chunk: string) {
      keep.text += chunk;
      if (keep.text.length > KEEP_BYTES) keep.text = keep.text.slice(keep.text.length - KEEP_BYTES);
      if (!onLine) return;
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) onLine(l.replace(/\r$/, ''));
    },
    end() {
      if (onLine && partial !== '') onLine(partial);
      partial = '';
    },
  };
}

export const exec: Exec = (program, args, options = {}) =>
  new Promise((resolve) => {
    const out = { text: '' };
    const err = { text: '' };
    const so = lineSplitter(options.onStdoutLine, out);
    const se = lineSplitter(options.onStderrLine, err);
    let timedOut = false;
    const child = spawn(program, [...args], { env: options.env ?? process.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.setEncoding('utf8').on('data', (c: string) => so.push(c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => se.push(c));
    const timer = options.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          child.kill('SIGTERM');
        }, options.timeoutMs)
      : undefined;
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      resolve({ code: 127, stdout: out.text, stderr: `${err.text}${e.message}`, notFound: e.code === 'ENOENT', timedOut });
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      so.end();
      se.end();
      resolve({ code: code ?? (signal ? 128 : 1), stdout: out.text, stderr: err.text, notFound: false, timedOut });
    });
  });
