// Installs what the stack runs: Debian packages (apt-get, as root) and the Go-built binaries
// (build-go.sh, cached per pinned version outside the repo).
import { copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BIN, CACHE, cbin, GO_OUT, kbin, localToolOut, pauseOut, STACK_DIR } from './paths.ts';
import { run } from './proc.ts';

export const BUILDX_PLUGIN = '/usr/local/lib/docker/cli-plugins/docker-buildx';

export const APT_PACKAGES = [
  'docker.io',
  'docker-registry',
  'containernetworking-plugins',
  'prometheus',
  'prometheus-pushgateway',
  'skopeo',
  'openssl',
  'apache2-utils',
  'iptables',
  'conntrack',
  'runc',
  // the runner image's shell and tools (GitLab and Jenkins run job scripts through sh)
  'busybox-static',
  'ca-certificates',
  // gitlab-ci-local copies the job's files with rsync on the host
  'rsync',
  // to build runc (cgo + seccomp)
  'gcc',
  'libc6-dev',
  'libseccomp-dev',
  'pkg-config',
];

async function missingPackages(): Promise<string[]> {
  const r = await run('dpkg-query', ['-W', '-f=${Package} ${db:Status-Abbrev}\n', ...APT_PACKAGES], { allowFail: true });
  const installed = new Set(
    r.stdout
      .split('\n')
      .filter((l) => /\sii\s*$/.test(l))
      .map((l) => l.split(' ')[0]),
  );
  return APT_PACKAGES.filter((p) => !installed.has(p));
}

export async function ensurePackages(log: (m: string) => void): Promise<void> {
  const missing = await missingPackages();
  if (missing.length === 0) return;
  log(`apt-get install ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['update'], { env, inherit: true });
  await run('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { env, inherit: true });
}

/** Where build-go.sh puts actionlint (checks the workflows; scripts/actionlint.ts runs it). */
export const ACTIONLINT_OUT = join(
  CACHE,
  `actionlint-${/^ACTIONLINT_VERSION=(\S+)$/m.exec(readFileSync(join(STACK_DIR, 'versions.env'), 'utf8'))?.[1] ?? 'unpinned'}`,
);

const GO_TARGETS: Record<string, string> = {
  k8s: GO_OUT.kubernetes,
  containerd: GO_OUT.containerd,
  runc: GO_OUT.runc,
  etcd: GO_OUT.etcd,
  buildkit: GO_OUT.buildkit,
  buildx: GO_OUT.buildx,
  act: GO_OUT.act,
  actionlint: ACTIONLINT_OUT,
};

export async function ensureGoBinaries(log: (m: string) => void): Promise<void> {
  const missing = Object.entries(GO_TARGETS)
    .filter(([, dir]) => !existsSync(join(dir, '.done')))
    .map(([t]) => t);
  if (!existsSync(join(pauseOut(), '.done'))) missing.push('pause');
  if (!existsSync(join(localToolOut('runc-capfilter'), '.done'))) missing.push('capfilter');
  if (missing.length > 0) {
    log(`building Go binaries (${missing.join(', ')}); cold Kubernetes builds take a while on 2 cores`);
    await run('bash', [join(STACK_DIR, 'build-go.sh'), ...missing], { inherit: true });
  }
  // One PATH entry for everything a user or test calls.
  mkdirSync(BIN, { recursive: true });
  const links: Record<string, string> = {
    kubectl: kbin('kubectl'),
    etcd: join(GO_OUT.etcd, 'bin', 'etcd'),
    act: join(GO_OUT.act, 'bin', 'act'),
    actionlint: join(ACTIONLINT_OUT, 'bin', 'actionlint'),
    ctr: cbin('ctr'),
    buildctl: join(GO_OUT.buildkit, 'bin', 'buildctl'),
  };
  for (const [name, target] of Object.entries(links)) {
    const link = join(BIN, name);
    let current: string | undefined;
    try {
      if (lstatSync(link).isSymbolicLink()) current = readlinkSync(link);
    } catch {
      /* missing */
    }
    if (current === target) continue;
    rmSync(link, { force: true });
    symlinkSync(target, link);
  }
  // buildx as a docker CLI plugin, where every docker CLI looks regardless of DOCKER_CONFIG.
  const pluginDir = dirname(BUILDX_PLUGIN);
  const plugin = BUILDX_PLUGIN;
  const built = join(GO_OUT.buildx, 'bin', 'docker-buildx');
  mkdirSync(pluginDir, { recursive: true });
  const same = existsSync(plugin) && (await run('cmp', ['-s', plugin, built], { allowFail: true })).code === 0;
  if (!same) {
    copyFileSync(built, `${plugin}.tmp`);
    await run('chmod', ['0755', `${plugin}.tmp`]);
    await run('mv', ['-f', `${plugin}.tmp`, plugin]);
  }
}
