// The real entry point in a child process: exit codes and log lines as Kubernetes would see them.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const SERVER = join(import.meta.dirname, '..', 'src', 'server.js');

/** Runs `node src/server.js`; resolves with its exit code, JSON log lines and elapsed time. */
function run(env, { onLine } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [SERVER], {
      env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', READY_DELAY_MS: '100', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines = [];
    let stderr = '';
    let buffer = '';
    child.stdout.on('data', (chunk) => {
      buffer += chunk;
      let i = buffer.indexOf('\n');
      while (i >= 0) {
        const line = JSON.parse(buffer.slice(0, i));
        buffer = buffer.slice(i + 1);
        lines.push(line);
        onLine?.(line, child);
        i = buffer.indexOf('\n');
      }
    });
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, lines, stderr, ms: performance.now() - t0 });
    });
  });
}

describe('node src/server.js', () => {
  it('CRASH=1 logs why and exits 1 about a second after start, never having been ready', async () => {
    let port;
    let readyWhileUp;
    const r = await run(
      { CRASH: '1', READY_DELAY_MS: '0', APP_VERSION: 'broken' },
      {
        onLine: async (line) => {
          if (line.msg !== 'listening') return;
          port = line.port;
          readyWhileUp = (await fetch(`http://127.0.0.1:${port}/readyz`)).status;
        },
      },
    );
    expect(r.code).toBe(1);
    expect(r.ms).toBeGreaterThan(900);
    expect(r.ms).toBeLessThan(5000);
    expect(readyWhileUp).toBe(503);
    expect(r.lines.map((l) => l.msg)).not.toContain('ready');
    const last = r.lines.at(-1);
    expect(last).toMatchObject({ level: 'error', version: 'broken' });
    expect(last.msg).toContain('CRASH=1');
    expect(r.stderr).toBe('');
  });

  it('rejects a bad FAIL_RATE at start with one line and exit 1', async () => {
    const r = await run({ FAIL_RATE: '2' });
    expect(r.code).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatchObject({ level: 'error' });
    expect(r.lines[0].msg).toBe(
      'invalid configuration: FAIL_RATE="2" is not a number from 0 to 1; set it to e.g. 0.1 (one /orders request in ten answers 500) or 0',
    );
    expect(r.stderr).toBe('');
  });

  it('says which port is taken and exits 1', async () => {
    const blocker = createServer();
    await new Promise((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address();
    try {
      const r = await run({ PORT: String(port) });
      expect(r.code).toBe(1);
      expect(r.lines).toEqual([expect.objectContaining({ level: 'error', msg: expect.stringContaining(`cannot listen on 127.0.0.1:${port}: EADDRINUSE`) })]);
    } finally {
      blocker.close();
    }
  });

  it('on SIGTERM stops being ready and exits 0', async () => {
    let port;
    let served;
    const r = await run(
      {},
      {
        onLine: async (line, child) => {
          if (line.msg === 'listening') port = line.port;
          if (line.msg !== 'ready') return;
          served = (await fetch(`http://127.0.0.1:${port}/orders`)).status;
          child.kill('SIGTERM');
        },
      },
    );
    expect(served).toBe(200);
    expect(r.code).toBe(0);
    expect(r.lines.map((l) => l.msg)).toEqual(['listening', 'ready', 'shutting down', 'stopped']);
    expect(r.lines.at(-1)).toMatchObject({ reason: 'SIGTERM', graceful: true });
  });
});
