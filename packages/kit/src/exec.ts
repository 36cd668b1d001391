// The one way an action runs a program, over @actions/exec: an argument array (never a shell), the
// command line never echoed by exec itself (its echo would print secret arguments unmasked) but
// written, masked and inert, to the debug log; a timeout that kills (SIGTERM, then SIGKILL); the
// job's cancellation kills too; captured output is bounded (the tail is kept: that is where a
// failure's reason is); lines are streamed to callbacks. A non-zero exit is not an exception:
// callers decide what it means.
//
// Kept here rather than taken from @actions/exec: the line splitting. exec's own `stdline` drops a
// last line that has no newline, splits UTF-8 characters that straddle two chunks, and ends lines
// only at `\n` (the runner also ends them at a lone `\r`).
import type { ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { StringDecoder } from 'node:string_decoder';
import * as actionsExec from '@actions/exec';
import { cancelSignal, trackChild } from './cleanup.ts';
import { secrets } from './mask.ts';
import { inertLine } from './untrusted.ts';

export interface ExecOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  onStdoutLine?: (line: string) => void;
  onStderrLine?: (line: string) => void;
  /** Kills the program after this long; 0 or absent: no limit (cancellation still kills it). */
  timeoutMs?: number;
  /** Between SIGTERM and SIGKILL. Default 5 s. */
  killGraceMs?: number;
  /** Characters of each stream kept (the last ones). Default 4 Mi. */
  maxOutput?: number;
  /** Aborting it kills the program, as a timeout does. */
  signal?: AbortSignal;
  /** Where the command line goes (as a debug line, secrets masked). */
  log?: { debug(message: string): void };
  /** Written to the program's stdin, which is then closed (it is closed at once without this). */
  input?: string | Buffer;
}

export interface ExecResult {
  /** The exit code; 128 + the signal's number when a signal ended it; 127 when it did not start. */
  code: number;
  stdout: string;
  stderr: string;
  /** True when the program could not be started at all (not installed). */
  notFound: boolean;
  timedOut: boolean;
  /** The job was cancelled (or `signal` aborted) while it ran. */
  cancelled?: boolean;
  /** The signal that ended it, when one did. */
  signal?: string;
  /** Some of the output was dropped (its beginning). */
  truncated?: boolean;
}

export type Exec = (program: string, args: readonly string[], options?: ExecOptions) => Promise<ExecResult>;

const DEFAULT_MAX = 4 * 1024 * 1024;

/** Splits a stream into lines at `\r\n`, `\n` or a lone `\r`, across chunk boundaries. */
export class LineSplitter {
  private partial = '';
  private readonly onLine: (line: string) => void;
  constructor(onLine: (line: string) => void) {
    this.onLine = onLine;
  }
  push(chunk: string): void {
    let text = this.partial + chunk;
    // A CR at the end may be the first half of a CRLF: wait for the next chunk.
    let hold = '';
    if (text.endsWith('\r')) {
      hold = '\r';
      text = text.slice(0, -1);
    }
    const parts = text.split(/\r\n|\n|\r/);
    this.partial = (parts.pop() ?? '') + hold;
    for (const p of parts) this.onLine(p);
  }
  end(): void {
    const rest = this.partial.replace(/\r$/, '');
    this.partial = '';
    if (rest !== '') this.onLine(rest);
  }
}

/** The last `max` characters of a stream. */
class Tail {
  private text = '';
  truncated = false;
  private readonly max: number;
  constructor(max: number) {
    this.max = max;
  }
  push(s: string): void {
    this.text += s;
    // Cut in batches, not on every chunk.
    if (this.text.length > this.max * 2) {
      this.text = this.text.slice(-this.max);
      this.truncated = true;
    }
  }
  value(): string {
    if (this.text.length > this.max) {
      this.text = this.text.slice(-this.max);
      this.truncated = true;
    }
    return this.text;
  }
}

function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The command line as a person would type it, secrets masked and made inert: for debug logs. */
export function commandLine(program: string, args: readonly string[]): string {
  return inertLine(
    secrets.redact(
      [program, ...args]
        .map(shellWord)
        .join(' ')
        .replace(/[\r\n]/g, ' '),
    ),
  );
}

function signalNumber(signal: string | null): number {
  const n = signal ? (constants.signals as Record<string, number>)[signal] : undefined;
  return n ?? 0;
}

export const exec: Exec = async (program, args, options = {}) => {
  // @actions/exec parses its first argument as a command line: quote the program so a path with a
  // space stays one word (its parser knows double quotes only).
  if (program.includes('"')) throw new Error(`program path contains a double quote: ${program}`);
  const job = cancelSignal();
  const max = options.maxOutput ?? DEFAULT_MAX;
  const grace = options.killGraceMs ?? 5000;
  const out = new Tail(max);
  const err = new Tail(max);
  const outLines = options.onStdoutLine ? new LineSplitter(options.onStdoutLine) : undefined;
  const errLines = options.onStderrLine ? new LineSplitter(options.onStderrLine) : undefined;
  const outDecoder = new StringDecoder('utf8');
  const errDecoder = new StringDecoder('utf8');
  options.log?.debug(`exec: ${commandLine(program, args)}`);

  let child: ChildProcess | undefined;
  let timedOut = false;
  let cancelled = job.aborted || options.signal?.aborted === true;
  let killTimer: NodeJS.Timeout | undefined;
  const kill = () => {
    if (!child || child.exitCode !== null || child.signalCode !== null || killTimer) return;
    child.kill('SIGTERM');
    killTimer = setTimeout(() => child?.kill('SIGKILL'), grace);
  };
  const onAbort = () => {
    cancelled = true;
    kill();
  };
  if (cancelled) return { code: 128 + signalNumber('SIGTERM'), stdout: '', stderr: '', notFound: false, timedOut: false, cancelled: true };
  job.addEventListener('abort', onAbort, { once: true });
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const timer = options.timeoutMs
    ? setTimeout(() => {
        timedOut = true;
        kill();
      }, options.timeoutMs)
    : undefined;
  const take = (tail: Tail, lines: LineSplitter | undefined, text: string) => {
    if (text === '') return;
    tail.push(text);
    lines?.push(text);
  };
  try {
    const code = await actionsExec.exec(`"${program}"`, [...args], {
      cwd: options.cwd,
      env: options.env as Record<string, string> | undefined,
      silent: true,
      ignoreReturnCode: true,
      // After the exit, how long a grandchild holding the pipes open may delay the result.
      delay: 2000,
      input: Buffer.from(options.input ?? ''),
      listeners: {
        stdout: (b: Buffer) => take(out, outLines, outDecoder.write(b)),
        stderr: (b: Buffer) => take(err, errLines, errDecoder.write(b)),
        spawn: (c: ChildProcess) => {
          child = c;
          // A program that exits without reading its stdin makes exec's write fail with EPIPE, an
          // unhandled 'error' event that would crash the action; its exit code says what happened.
          c.stdin?.on('error', () => {});
          trackChild(c);
          if (cancelled || timedOut) kill();
        },
      },
    });
    take(out, outLines, outDecoder.end());
    take(err, errLines, errDecoder.end());
    outLines?.end();
    errLines?.end();
    const signal = child?.signalCode ?? null;
    return {
      code: typeof code === 'number' ? code : 128 + signalNumber(signal),
      stdout: out.value(),
      stderr: err.value(),
      notFound: false,
      timedOut,
      cancelled,
      ...(signal ? { signal } : {}),
      truncated: out.truncated || err.truncated,
    };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    // io.which's wording when the program is not on PATH (or not executable).
    const notFound = /Unable to locate executable file/.test(message) || (e as NodeJS.ErrnoException).code === 'ENOENT';
    return { code: 127, stdout: out.value(), stderr: `${err.value()}${message}`, notFound, timedOut, cancelled };
  } finally {
    if (timer) clearTimeout(timer);
    if (killTimer) clearTimeout(killTimer);
    job.removeEventListener('abort', onAbort);
    options.signal?.removeEventListener('abort', onAbort);
  }
};
