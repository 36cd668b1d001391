// A BuildKit daemon for tests that need more than dockerd's built-in BuildKit (cache export, OCI
// layouts, several platforms). The stack's dockerd cannot start privileged containers (its
// capability bounding set lacks CAP_SYS_RESOURCE, so runc refuses `--privileged`), and buildx's
// docker-container driver always asks for one; so the stack's own buildkitd binary runs here as a
// process of the test, reached through a buildx `remote` builder. Stopped by its pid.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, tempDir } from './fixtures.ts';

export interface TestBuilder {
  /** The buildx builder name to pass as the `builder` input. */
  name: string;
  stop(): Promise<void>;
}

function buildkitd(): string {
  const versions = readFileSync(join(repoRoot, 'test', 'stack', 'versions.env'), 'utf8');
  const version = /^BUILDKIT_VERSION=(\S+)$/m.exec(versions)?.[1];
  const cache = process.env.SHIPLINE_CACHE ?? join(homedir(), '.cache', 'shipline');
  const bin = join(cache, `buildkit-${version}`, 'bin', 'buildkitd');
  if (!existsSync(bin)) throw new Error(`buildkitd ${version} is not built (${bin}); run \`pnpm stack up\` first`);
  return bin;
}

const docker = (args: string[]) => spawnSync('docker', args, { encoding: 'utf8' });

export async function startTestBuilder(name: string): Promise<TestBuilder> {
  const dir = tempDir('buildkitd');
  const sock = join(dir, 'buildkitd.sock');
  // The loopback registries are the runner's own and speak plain HTTP (A) or TLS with the stack CA (B).
  writeFileSync(join(dir, 'buildkitd.toml'), '[registry."127.0.0.1:5000"]\n  http = true\n');
  const child: ChildProcess = spawn(buildkitd(), ['--addr', `unix://${sock}`, '--root', join(dir, 'state'), '--config', join(dir, 'buildkitd.toml')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr?.on('data', (c) => {
    log = (log + c).slice(-20_000);
  });
  const deadline = Date.now() + 30_000;
  while (!existsSync(sock)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`buildkitd did not start: ${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  docker(['buildx', 'rm', '--force', name]);
  const created = docker(['buildx', 'create', '--name', name, '--driver', 'remote', `unix://${sock}`]);
  if (created.status !== 0) throw new Error(`buildx create --driver remote failed: ${created.stderr}`);
  return {
    name,
    async stop() {
      docker(['buildx', 'rm', '--force', name]);
      if (child.exitCode === null && child.pid !== undefined) {
        const exited = new Promise((r) => child.once('exit', r));
        process.kill(child.pid, 'SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      }
      // State holds overlay mounts only while buildkitd runs; after it exits the dir is plain files.
      spawnSync('rm', ['-rf', dir]);
    },
  };
}
