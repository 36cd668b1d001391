// What a cancelled job must not leave behind. The runner cancels a step with SIGINT, then SIGTERM,
// then SIGKILL a few seconds apart; Node's default for the first two is to die on the spot, which
// leaves credential files (build secrets, kubeconfigs) in the runner's temp dir for the next job on
// a self-hosted machine, and children (buildx, kubectl) running. So every such file is registered
// here, every child the kit's exec starts is tracked here, and on a signal the files go first
// (synchronously: a SIGKILL may follow at any moment), then the children are stopped.
//
// No host import: packages/kube and packages/oci register their temp files here too.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const paths = new Set<string>();
const children = new Set<ChildProcess>();
const tasks = new Set<() => Promise<unknown>>();
let controller = new AbortController();

function remove(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true });
  } catch {
    // Best effort: one path that cannot be removed must not keep the others.
  }
}

/** Registers a file or directory for removal on cancellation; the returned function removes it now. */
export function registerCleanup(path: string): () => void {
  paths.add(path);
  return () => {
    remove(path);
    paths.delete(path);
  };
}

/** The runner's temp dir (emptied between jobs on hosted runners), else the system's. */
export function tempParent(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return env.RUNNER_TEMP || tmpdir();
}

export interface TempDir {
  path: string;
  /** Removes the directory and everything in it; safe to call twice. */
  remove(): void;
}

/** A private directory (mode 0700, as mkdtemp makes it) removed on cancellation or by `remove()`. */
export function privateTempDir(prefix: string, parent: string = tempParent()): TempDir {
  const path = mkdtempSync(join(parent, prefix));
  return { path, remove: registerCleanup(path) };
}

/** Removes every registered path now (at the end of a run, and on cancellation). */
export function removeRegistered(): void {
  for (const p of paths) remove(p);
  paths.clear();
}

/** Registered paths, for tests. */
export function registeredPaths(): string[] {
  return [...paths];
}

/**
 * Registers work a cancelled run still owes the world over the network (releasing a deploy lock),
 * awaited after the files are gone, within the children's grace; the returned function unregisters it.
 */
export function registerCancelTask(task: () => Promise<unknown>): () => void {
  tasks.add(task);
  return () => {
    tasks.delete(task);
  };
}

function runTasks(): Promise<void> {
  const all = [...tasks].map((t) =>
    Promise.resolve()
      .then(t)
      .catch(() => {}),
  );
  tasks.clear();
  return Promise.all(all).then(() => undefined);
}

/** Aborted when the job is cancelled: exec kills its child, long waits stop. */
export function cancelSignal(): AbortSignal {
  return controller.signal;
}

function running(c: ChildProcess): boolean {
  return c.exitCode === null && c.signalCode === null;
}

/** Tracks a child until it exits, so cancellation can stop it. */
export function trackChild(child: ChildProcess): void {
  if (!running(child)) return;
  children.add(child);
  child.once('exit', () => children.delete(child));
}

function killAll(signal: NodeJS.Signals): void {
  for (const c of children) if (running(c)) c.kill(signal);
}

function allExited(): Promise<void> {
  const live = [...children].filter(running);
  return Promise.all(live.map((c) => new Promise<void>((r) => (running(c) ? c.once('exit', () => r()) : r())))).then(() => undefined);
}

export class CancelledError extends Error {
  readonly signal: string;
  constructor(signal: string) {
    super(`cancelled (${signal})`);
    this.name = 'CancelledError';
    this.signal = signal;
  }
}

export interface CancellationOptions {
  /** Called once, after the files are gone and the children have been told to stop. */
  onCancel?(signal: NodeJS.Signals): void;
  /** How long children get after SIGTERM before SIGKILL (the runner's own SIGKILL comes ~2.5 s after its SIGTERM). */
  graceMs?: number;
  exit?(code: number): void;
}

/**
 * Installs SIGTERM/SIGINT handlers for one run; returns their uninstaller. A second signal while
 * children are stopping kills them at once.
 */
export function installCancellation(opts: CancellationOptions = {}): () => void {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const grace = opts.graceMs ?? 2000;
  let cancelling = false;
  const finish = () => {
    removeRegistered();
    exit(1);
  };
  const handler = (signal: NodeJS.Signals) => {
    removeRegistered();
    if (cancelling) {
      killAll('SIGKILL');
      exit(1);
      return;
    }
    cancelling = true;
    controller.abort(new CancelledError(signal));
    killAll('SIGTERM');
    try {
      opts.onCancel?.(signal);
    } catch {}
    const deadline = setTimeout(() => {
      killAll('SIGKILL');
      // A child that ignores even SIGKILL's delivery for a moment must not keep us waiting.
      setTimeout(finish, 200).unref();
    }, grace);
    void Promise.all([allExited(), runTasks()]).then(() => {
      clearTimeout(deadline);
      finish();
    });
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return () => {
    process.off('SIGTERM', handler);
    process.off('SIGINT', handler);
    // A later run (tests, the CLI running twice in one process) starts uncancelled.
    if (controller.signal.aborted) controller = new AbortController();
  };
}
