// Cancellation in-process: the handlers are invoked with process.emit (no real signal reaches the
// test runner); the bundled action is cancelled with a real SIGTERM in actions/docker-build/test.
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cancelSignal, installCancellation, privateTempDir, registerCancelTask, registeredPaths, removeRegistered } from './cleanup.ts';
import { exec } from './exec.ts';

describe('temp dirs', () => {
  it('are private, registered, and removed by remove() or removeRegistered()', () => {
    const a = privateTempDir('shipline-cleanup-test-');
    const b = privateTempDir('shipline-cleanup-test-');
    expect(statSync(a.path).mode & 0o077).toBe(0);
    expect(registeredPaths()).toEqual(expect.arrayContaining([a.path, b.path]));
    a.remove();
    a.remove();
    expect(existsSync(a.path)).toBe(false);
    expect(registeredPaths()).not.toContain(a.path);
    removeRegistered();
    expect(existsSync(b.path)).toBe(false);
  });
});

describe('a signal', () => {
  it('removes the files at once, kills running children, then exits 1', async () => {
    const secretDir = privateTempDir('shipline-cleanup-test-');
    writeFileSync(join(secretDir.path, 'token'), 'x', { mode: 0o600 });
    const exits: number[] = [];
    let exited!: () => void;
    const done = new Promise<void>((r) => (exited = r));
    const uninstall = installCancellation({
      exit: (c) => {
        exits.push(c);
        exited();
      },
    });
    try {
      const child = exec(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)']);
      await new Promise((r) => setTimeout(r, 300));
      process.emit('SIGTERM', 'SIGTERM');
      // Synchronously gone: a SIGKILL may follow the SIGTERM at any moment.
      expect(existsSync(secretDir.path)).toBe(false);
      expect(cancelSignal().aborted).toBe(true);
      const r = await child;
      expect(r).toMatchObject({ cancelled: true, signal: 'SIGTERM' });
      await done;
      expect(exits).toEqual([1]);
    } finally {
      uninstall();
    }
    expect(cancelSignal().aborted).toBe(false);
  });

  it('a child that ignores SIGTERM is killed after the grace', async () => {
    let exited!: () => void;
    const done = new Promise<void>((r) => (exited = r));
    const uninstall = installCancellation({ graceMs: 300, exit: () => exited() });
    try {
      const child = exec(process.execPath, ['-e', 'process.on("SIGTERM", () => {}); setInterval(() => {}, 1000)'], { killGraceMs: 60_000 });
      await new Promise((r) => setTimeout(r, 300));
      const started = Date.now();
      process.emit('SIGINT', 'SIGINT');
      expect((await child).signal).toBe('SIGKILL');
      await done;
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      uninstall();
    }
  });

  it('network work a cancelled run still owes (a lock release) is awaited before exit; unregistered work is not run', async () => {
    const events: string[] = [];
    let exited!: () => void;
    const done = new Promise<void>((r) => (exited = r));
    const uninstall = installCancellation({
      graceMs: 2000,
      exit: () => {
        events.push('exit');
        exited();
      },
    });
    const unregister = registerCancelTask(async () => events.push('not me'));
    unregister();
    registerCancelTask(async () => {
      await new Promise((r) => setTimeout(r, 100));
      events.push('released');
    });
    try {
      process.emit('SIGTERM', 'SIGTERM');
      await done;
      expect(events).toEqual(['released', 'exit']);
    } finally {
      uninstall();
    }
  });

  it('a cancel task that hangs does not keep the run past the grace', async () => {
    let exited!: () => void;
    const done = new Promise<void>((r) => (exited = r));
    const uninstall = installCancellation({ graceMs: 300, exit: () => exited() });
    registerCancelTask(() => new Promise(() => {}));
    try {
      const started = Date.now();
      process.emit('SIGTERM', 'SIGTERM');
      await done;
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      uninstall();
    }
  });
});
