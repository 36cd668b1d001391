// gitlab-ci-local's docker executor moves the project and artifacts in and out of job volumes with
// a helper image (`--helper-image`, default firecow/gitlab-ci-local-util from Docker Hub, which
// cannot be pulled here) running `sh -c chown…` and `bash -c … rsync`. This builds the same tools
// FROM scratch out of this machine's binaries: bash, rsync and busybox (sh, chown, chmod, mkdir,
// mktemp, rm, …) with the libraries ldd names. Tagged with a hash of its inputs; built once.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const BINARIES = ['/usr/bin/bash', '/usr/bin/rsync', '/usr/bin/busybox'];
const APPLETS = ['sh', 'chown', 'chmod', 'mkdir', 'mktemp', 'rm', 'cat', 'cp', 'ls', 'find', 'id', 'printf', 'echo', 'true', 'env'];

function libraries(binary: string): string[] {
  try {
    const out = execFileSync('ldd', [binary], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return [...out.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)].map((m) => m[1] as string);
  } catch {
    return []; // a static binary (busybox-static)
  }
}

function docker(args: string[], env: NodeJS.ProcessEnv): string {
  return execFileSync('docker', args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 }).trim();
}

/** Returns the helper image's tag, building it in the stack's dockerd when it is missing. */
export function ensureHelperImage(env: NodeJS.ProcessEnv): string {
  for (const b of BINARIES) {
    try {
      statSync(b);
    } catch {
      throw new Error(`${b} is missing: gitlab-ci-local's helper image is made of bash, rsync and busybox-static (apt-get install rsync busybox-static)`);
    }
  }
  const files = [...new Set(BINARIES.flatMap((b) => [b, ...libraries(b)]))];
  const hash = createHash('sha256')
    .update(files.map((f) => `${f}:${statSync(f).size}:${statSync(f).mtimeMs}`).join('\n'))
    .digest('hex')
    .slice(0, 12);
  const tag = `shipline/gcl-helper:${hash}`;
  try {
    docker(['image', 'inspect', '--format', '{{.Id}}', tag], env);
    return tag;
  } catch {
    // not built yet
  }
  const ctx = mkdtempSync(join(tmpdir(), 'shipline-gcl-helper-'));
  try {
    const root = join(ctx, 'rootfs');
    for (const f of files) {
      const to = join(root, f);
      mkdirSync(dirname(to), { recursive: true });
      copyFileSync(f, to);
      chmodSync(to, statSync(f).mode & 0o777);
    }
    mkdirSync(join(root, 'bin'), { recursive: true });
    for (const a of APPLETS) symlinkSync('/usr/bin/busybox', join(root, 'bin', a));
    symlinkSync('/usr/bin/bash', join(root, 'bin', 'bash'));
    mkdirSync(join(root, 'tmp'), { recursive: true });
    chmodSync(join(root, 'tmp'), 0o1777);
    mkdirSync(join(root, 'etc'), { recursive: true });
    writeFileSync(join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    writeFileSync(join(root, 'etc', 'group'), 'root:x:0:\n');
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY rootfs/ /\nENV PATH=/bin:/usr/bin\n');
    docker(['build', '--quiet', '-t', tag, ctx], env);
    return tag;
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
}
