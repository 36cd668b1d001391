// The bundled CLI (dist/cli) and bin/shipline: secrets from the environment and from files, a flag
// with a missing value, and the Node version check.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot, runCli } from '../../../test/support/run-action.ts';

const dir = mkdtempSync(join(tmpdir(), 'shipline-cli-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Enough for registry-push to pass validation (SHIPLINE_VALIDATE_ONLY stops before any work).
const push = [
  'registry-push',
  '--image',
  'order-service:dev',
  '--destinations',
  '127.0.0.1:5001/shop/orders:1',
  '--registry',
  '127.0.0.1:5001',
  '--username',
  'ci',
];
const SECRET = 'cli-secret-value-from-outside';

describe('secret inputs without a flag', () => {
  it('SHIPLINE_PASSWORD gives registry-push its password', async () => {
    const r = await runCli(push, { env: { SHIPLINE_VALIDATE_ONLY: 'true', SHIPLINE_PASSWORD: SECRET } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('password: read from $SHIPLINE_PASSWORD');
    expect(r.stderr).toContain('registry-push: inputs are valid');
    expect(r.stdout + r.stderr).not.toContain(SECRET);
  });

  it('without it the username alone is refused (so the variable was what counted)', async () => {
    const r = await runCli(push, { env: { SHIPLINE_VALIDATE_ONLY: 'true' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/input "password": a username without a password/);
  });

  it('--password-file reads it from a file (trimmed like every input)', async () => {
    const f = join(dir, 'pw');
    writeFileSync(f, `${SECRET}\n`, { mode: 0o600 });
    const r = await runCli([...push, '--password-file', f], { env: { SHIPLINE_VALIDATE_ONLY: 'true' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('password: read from the file given by --password-file');
  });

  it('a bad secret read from a file is not echoed in the error', async () => {
    const f = join(dir, 'secrets');
    writeFileSync(f, `${SECRET}-without-an-id\n`);
    const r = await runCli(['docker-build', '--context', dir, '--secrets-file', f], { env: { SHIPLINE_VALIDATE_ONLY: 'true' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/input "secrets"/);
    expect(r.stdout + r.stderr).not.toContain('cli-secret');
  });
});

describe('usage errors (exit 2)', () => {
  it('a flag followed by another flag reports the missing value', async () => {
    const r = await runCli(['registry-push', '--image', '--destinations', 'x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('shipline: --image needs a value (got the flag --destinations); write --image VALUE or --image=VALUE\n');
  });
});

describe('bin/shipline', () => {
  it('refuses a Node older than 24 in one line', () => {
    // A checkout without node_modules, and a `node` on PATH that is Node 20.
    const checkout = join(dir, 'checkout');
    mkdirSync(join(checkout, 'bin'), { recursive: true });
    copyFileSync(join(repoRoot, 'bin', 'shipline'), join(checkout, 'bin', 'shipline'));
    chmodSync(join(checkout, 'bin', 'shipline'), 0o755);
    const fakeBin = join(dir, 'fake-bin');
    mkdirSync(fakeBin);
    writeFileSync(join(fakeBin, 'node'), '#!/bin/sh\n[ "$1" = --version ] && echo v20.11.1 && exit 0\necho "old node ran the CLI" >&2\nexit 9\n');
    chmodSync(join(fakeBin, 'node'), 0o755);
    const r = spawnSync(join(checkout, 'bin', 'shipline'), ['--version'], { env: { PATH: `${fakeBin}:/usr/bin:/bin` }, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `shipline: Node.js 24 or later is needed, but ${join(fakeBin, 'node')} is v20.11.1 (install Node 24, or run \`pnpm install\` in ${checkout})\n`,
    );
  });

  it('uses the workspace Node when present (and through a symlink)', () => {
    const link = join(dir, 'shipline-link');
    spawnSync('ln', ['-s', join(repoRoot, 'bin', 'shipline'), link]);
    const r = spawnSync(link, ['--version'], { env: { PATH: '/usr/bin:/bin' }, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('shipline 0.1.0\n');
    expect(r.status).toBe(0);
  });
});
