// A cancelled job: the bundled action gets SIGTERM while buildx runs. Its build-secret files must be
// gone from RUNNER_TEMP/TMPDIR and its child stopped, also when the child ignores SIGTERM. A
// stand-in `docker` (first on PATH) answers the calls before the build and then hangs in `buildx
// build`, writing its pid; the real daemon is not needed to observe the action's own cleanup.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../../test/support/run-action.ts';

let dir: string;
let bin: string;
let ctx: string;
const SECRET = 'cancel-test-secret-value-42';

const FAKE_DOCKER = `#!${process.execPath}
const fs = require('node:fs');
const [a, b] = process.argv.slice(2);
const out = (s) => process.stdout.write(s);
if (a === 'buildx' && b === 'version') out('github.com/docker/buildx v0.38.2 fake\\n');
else if (a === 'buildx' && b === 'inspect') out('Name: default\\nDriver: docker\\n\\nNodes:\\nName: default\\nStatus: running\\nPlatforms: linux/amd64\\n');
else if (a === 'buildx' && b === 'build') {
  const args = process.argv.slice(2);
  const src = /src=([^,]+)/.exec(args[args.indexOf('--secret') + 1])[1];
  fs.writeFileSync(process.env.FAKE_DOCKER_STATE, JSON.stringify({ pid: process.pid, secretFile: src, secretSeen: fs.readFileSync(src, 'utf8') }));
  if (process.env.FAKE_DOCKER_STUBBORN === '1') process.on('SIGTERM', () => {});
  setInterval(() => {}, 1000);
  return;
} else process.exit(1);
`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'shipline-db-cancel-'));
  bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'docker'), FAKE_DOCKER.replace('return;', ''));
  chmodSync(join(bin, 'docker'), 0o755);
  ctx = join(dir, 'ctx');
  mkdirSync(ctx);
  writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY hello.txt /\n');
  writeFileSync(join(ctx, 'hello.txt'), 'hi\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until<T>(what: string, fn: () => T | undefined, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function start(name: string, extraEnv: NodeJS.ProcessEnv) {
  const temp = join(dir, name);
  mkdirSync(temp);
  const state = join(dir, `${name}.state`);
  const env: NodeJS.ProcessEnv = {
    PATH: `${bin}:${process.env.PATH}`,
    HOME: process.env.HOME,
    RUNNER_TEMP: temp,
    TMPDIR: temp,
    GITHUB_ACTIONS: 'true',
    FAKE_DOCKER_STATE: state,
    INPUT_CONTEXT: ctx,
    INPUT_SECRETS: `npm_token=${SECRET}`,
    INPUT_CACHE: 'none',
    ...extraEnv,
  };
  const child: ChildProcess = spawn(process.execPath, [join(repoRoot, 'dist', 'docker-build', 'index.js')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout?.on('data', (c) => {
    stdout += c;
  });
  child.stderr?.on('data', (c) => {
    stdout += c;
  });
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  return { child, temp, state, exited, output: () => stdout };
}

describe('SIGTERM while buildx runs', () => {
  it.each([
    ['a child that stops on SIGTERM', {}],
    ['a child that ignores SIGTERM (killed after the grace)', { FAKE_DOCKER_STUBBORN: '1' }],
  ])('%s: no credential file remains, the child is gone, exit 1', async (_, extra) => {
    const name = `run-${Object.keys(extra).length}`;
    const run = start(name, extra);
    const state = await until('the build to start', () =>
      existsSync(run.state) && readFileSync(run.state, 'utf8') !== ''
        ? (JSON.parse(readFileSync(run.state, 'utf8')) as { pid: number; secretFile: string; secretSeen: string })
        : undefined,
    );
    // The secret really was on disk, in RUNNER_TEMP, while the build ran.
    expect(state.secretSeen).toBe(SECRET);
    expect(state.secretFile.startsWith(run.temp)).toBe(true);
    expect(readdirSync(run.temp).some((f) => f.startsWith('shipline-secrets-'))).toBe(true);
    const sent = Date.now();
    run.child.kill('SIGTERM');
    const { code } = await run.exited;
    expect(code, run.output()).toBe(1);
    expect(Date.now() - sent).toBeLessThan(8000);
    expect(readdirSync(run.temp).filter((f) => f.startsWith('shipline-'))).toEqual([]);
    expect(existsSync(state.secretFile)).toBe(false);
    expect(alive(state.pid)).toBe(false);
    expect(run.output()).toMatch(/::error::docker-build: cancelled \(SIGTERM\)/);
    // Only the masks name it.
    expect(
      run
        .output()
        .split('\n')
        .filter((l) => l.includes(SECRET) && !l.startsWith('::add-mask::')),
    ).toEqual([]);
  });
});
