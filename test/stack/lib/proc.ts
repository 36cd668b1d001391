// Running programs (always argument arrays, never a shell) and the daemons the stack owns,
// tracked by pid files in .stack/run so that `down` stops exactly what `up` started.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOGS, RUN } from './paths.ts';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  input?: string | Buffer;
  timeoutMs?: number;
  /** Return a non-zero exit instead of throwing. */
  allowFail?: boolean;
  /** Stream output to our stderr (long builds, apt). */
  inherit?: boolean;
}

export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', opts.inherit ? 'inherit' : 'pipe', opts.inherit ? 'inherit' : 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs) timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', (err) => {
      if (timer) clearTimeout(timer);
      reject(new Error(`${cmd}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const result = { code: code ?? (signal ? 128 : 1), stdout, stderr };
      if (result.code !== 0 && !opts.allowFail) {
        const tail = (stderr || stdout).trim().split('\n').slice(-15).join('\n');
        reject(new Error(`${cmd} ${args.join(' ')} exited ${code ?? signal}\n${tail}`));
      } else resolvePromise(result);
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns true; throws with `what` and the last error after `timeoutMs`. */
export class Fatal extends Error {}

export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, intervalMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      if (err instanceof Fatal) throw new Error(`${what}: ${err.message}`);
      last = err;
    }
    if (Date.now() > deadline) {
      const why = last instanceof Error ? `: ${last.message}` : '';
      throw new Error(`timed out after ${Math.round(timeoutMs / 1000)}s waiting for ${what}${why}`);
    }
    await sleep(intervalMs);
  }
}

// ---- daemons ---------------------------------------------------------------------------------

interface PidRecord {
  pid: number;
  exe: string;
  startTime: string;
}

const pidFile = (name: string): string => join(RUN, `${name}.pid`);

/** Field 22 of /proc/<pid>/stat: start time, so a recycled pid is never mistaken for ours. */
function procStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (rest[0] === 'Z' || rest[0] === 'X') return undefined; // zombie: PID 1 here may not reap
    return rest[19];
  } catch {
    return undefined;
  }
}

function readPid(name: string): PidRecord | undefined {
  try {
    return JSON.parse(readFileSync(pidFile(name), 'utf8')) as PidRecord;
  } catch {
    return undefined;
  }
}

/** The pid of daemon `name` if the process we started is still alive. */
export function alivePid(name: string): number | undefined {
  const rec = readPid(name);
  if (!rec) return undefined;
  const st = procStartTime(rec.pid);
  return st !== undefined && st === rec.startTime ? rec.pid : undefined;
}

export interface DaemonSpec {
  name: string;
  exe: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export function logFile(name: string): string {
  return join(LOGS, `${name}.log`);
}

/** Starts a detached daemon logging to .stack/logs/<name>.log and records its pid. */
export function startDaemon(spec: DaemonSpec): number {
  mkdirSync(LOGS, { recursive: true });
  mkdirSync(RUN, { recursive: true });
  const fd = openSync(logFile(spec.name), 'a');
  writeFileSync(fd, `\n==== ${new Date().toISOString()} ${spec.exe} ${spec.args.join(' ')}\n`);
  const child = spawn(spec.exe, spec.args, {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: spec.env ?? process.env,
    cwd: spec.cwd,
  });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start ${spec.exe}`);
  child.unref();
  let startTime: string | undefined;
  for (let i = 0; i < 50 && startTime === undefined; i++) startTime = procStartTime(child.pid);
  writeFileSync(pidFile(spec.name), JSON.stringify({ pid: child.pid, exe: spec.exe, startTime: startTime ?? '' }));
  return child.pid;
}

/** Stops daemon `name` (SIGTERM, then SIGKILL after `graceMs`) if it is the process we started. */
export async function stopDaemon(name: string, graceMs = 15_000): Promise<boolean> {
  const pid = alivePid(name);
  if (pid === undefined) {
    rmSync(pidFile(name), { force: true });
    return false;
  }
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    /* already gone */
  }
  const deadline = Date.now() + graceMs;
  while (alivePid(name) !== undefined && Date.now() < deadline) await sleep(100);
  if (alivePid(name) !== undefined) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    while (alivePid(name) !== undefined && Date.now() < deadline + 5000) await sleep(100);
  }
  rmSync(pidFile(name), { force: true });
  return true;
}

export function tailLog(name: string, lines = 25): string {
  const f = logFile(name);
  if (!existsSync(f)) return '(no log)';
  return readFileSync(f, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}
