// up / down / status / env of the local stack, as functions (the CLI and the vitest global
// setup both call these).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { apiGet, type Component, components, ensureRunning } from './components.ts';
import { CFG, registryPassword, writeConfigs } from './config.ts';
import { httpGet } from './http.ts';
import { ensureImages } from './images.ts';
import { BUILDX_PLUGIN, ensureGoBinaries, ensurePackages } from './install.ts';
import {
  BIN,
  CONFIG,
  CONTAINERD_SOCK,
  DATA,
  DOCKER_SOCK,
  GO_OUT,
  IMAGES,
  KUBELET_ROOT,
  kbin,
  LOGS,
  NODE_NAME,
  PKI,
  PORTS,
  REGISTRY_A,
  REGISTRY_B,
  REGISTRY_USER,
  RUN,
  SOCK_DIR,
  STATE,
  VERSIONS,
} from './paths.ts';
import { ensurePki, type Pki } from './pki.ts';
import { alivePid, run, stopDaemon, tailLog, waitFor } from './proc.ts';

export type Log = (m: string) => void;
const defaultLog: Log = (m) => process.stderr.write(`[stack] ${m}\n`);

function byName(list: Component[]): Record<string, Component> {
  return Object.fromEntries(list.map((c) => [c.name, c]));
}

async function prepare(log: Log): Promise<Pki> {
  for (const d of [STATE, LOGS, RUN, PKI, CONFIG, DATA, BIN]) mkdirSync(d, { recursive: true });
  await ensurePackages(log);
  await ensureGoBinaries(log);
  const pki = await ensurePki();
  await writeConfigs(pki);
  return pki;
}

/**
 * A Prometheus that was already running keeps its old scrape jobs until told. When its
 * configuration file is newer than what it last loaded (or that load failed), reload it in place
 * through its lifecycle API rather than restart it: other users of the stack lose no data or time.
 */
async function reloadPrometheusIfStale(log: Log): Promise<void> {
  const base = `http://127.0.0.1:${PORTS.prometheus}`;
  const info = await httpGet(`${base}/api/v1/status/runtimeinfo`);
  const data = (JSON.parse(info.body) as { data?: { lastConfigTime?: string; reloadConfigSuccess?: boolean } }).data;
  const loaded = Date.parse(data?.lastConfigTime ?? '');
  if (data?.reloadConfigSuccess === true && loaded >= Math.floor(statSync(CFG.prometheus).mtimeMs / 1000) * 1000) return;
  const r = await httpGet(`${base}/-/reload`, { method: 'POST', timeoutMs: 30_000 });
  if (r.status !== 200) throw new Error(`Prometheus refused to reload ${CFG.prometheus}: HTTP ${r.status}: ${r.body.trim().slice(0, 300)}`);
  log('reloaded prometheus (its configuration changed)');
}

/** Ready, and (when `since` is given) reported by a kubelet heartbeat after `since`: after a
 * `down`, the node object still says Ready until the controller-manager notices. */
async function nodeReady(pki: Pki, since?: number): Promise<boolean> {
  const r = await apiGet(pki, `/api/v1/nodes/${NODE_NAME}`);
  if (r.status !== 200) return false;
  const node = JSON.parse(r.body) as { status?: { conditions?: { type: string; status: string; lastHeartbeatTime?: string }[] } };
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status !== 'True') return false;
  // Heartbeat times have second precision.
  return since === undefined || Date.parse(ready.lastHeartbeatTime ?? '') >= Math.floor(since / 1000) * 1000;
}

export interface UpResult {
  seconds: number;
}

export async function up(log: Log = defaultLog): Promise<UpResult> {
  const t0 = Date.now();
  const pki = await prepare(log);
  const c = byName(components(pki));
  const started = new Map<string, number>();
  const start = async (name: string) => {
    const comp = c[name];
    if (!comp) throw new Error(`unknown component ${name}`);
    const t = Date.now();
    if (await ensureRunning(comp, log)) started.set(name, t);
  };
  // A stack that was stopped by an older `down` (or a crash) may have left pod networks behind.
  if (alivePid('kubelet') === undefined) await removeLeftoverPods(log);
  // Independent services first, in parallel; then the control plane in dependency order.
  await Promise.all(['dockerd', 'registry-a', 'registry-b', 'prometheus', 'pushgateway', 'etcd', 'containerd'].map(start));
  await reloadPrometheusIfStale(log);
  // Images before the kubelet: its first pod needs the pause image in registry A.
  await Promise.all([ensureImages(log), start('kube-apiserver')]);
  await Promise.all(['kube-controller-manager', 'kube-scheduler', 'kubelet', 'kube-proxy', 'pod-targets'].map(start));
  await waitFor(`node ${NODE_NAME} to be Ready`, () => nodeReady(pki, started.get('kubelet')), 120_000, 500).catch((err: Error) => {
    throw new Error(`${err.message}\n--- kubelet log ---\n${tailLog('kubelet', 40)}`);
  });
  // Pods can only be created once the default ServiceAccount exists.
  await waitFor(
    'the default ServiceAccount',
    async () => (await apiGet(pki, '/api/v1/namespaces/default/serviceaccounts/default')).status === 200,
    60_000,
    500,
  );
  const seconds = (Date.now() - t0) / 1000;
  log(`stack is up (${seconds.toFixed(1)} s)`);
  return { seconds };
}

export async function down(log: Log = defaultLog): Promise<void> {
  const pki = await ensurePki();
  const list = components(pki).reverse();
  for (const comp of list) {
    if (alivePid(comp.name) !== undefined && comp.beforeStop) {
      try {
        await comp.beforeStop();
      } catch (err) {
        log(`${comp.name}: cleanup failed: ${(err as Error).message}`);
      }
    }
    if (await stopDaemon(comp.name)) log(`stopped ${comp.name}`);
  }
  await removeLeftoverPods(log);
}

/**
 * Pods outlive the kubelet and containerd: their shims stay, and each pod's network namespace
 * keeps its veth on the shared bridge with its pod IP. The next stack (this checkout's, or a
 * clone's with IPAM state of its own) hands the same IPs out again, and two pods answer ARP for one
 * address (a readiness probe then reaches the dead one: connection refused). Only one stack runs
 * at a time (fixed ports), so with the kubelet down a CNI namespace without a process is a
 * leftover; this stack's orphaned shims go too.
 */
async function removeLeftoverPods(log: Log): Promise<void> {
  const shims = readdirSync('/proc').filter((d) => /^\d+$/.test(d) && isShimOf(d, CONTAINERD_SOCK));
  for (const pid of shims) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {}
  }
  let removed = 0;
  const netns = existsSync('/var/run/netns') ? readdirSync('/var/run/netns').filter((n) => n.startsWith('cni-')) : [];
  for (const n of netns) {
    const pids = await run('ip', ['netns', 'pids', n], { allowFail: true });
    if (pids.code === 0 && pids.stdout.trim() === '' && (await run('ip', ['netns', 'delete', n], { allowFail: true })).code === 0) removed++;
  }
  if (shims.length || removed) log(`removed ${shims.length} leftover shim(s) and ${removed} pod network namespace(s)`);
}

function isShimOf(pid: string, socket: string): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.some((a) => a.includes('containerd-shim')) && argv[argv.indexOf('-address') + 1] === socket;
  } catch {
    return false;
  }
}

/** `down`, then unmount what the kubelet and containerd left and remove .stack (not the Go caches or dockerd's images). */
export async function clean(log: Log = defaultLog): Promise<void> {
  // dockerd's data root is the machine's (/var/lib/docker): the buildx builders made on this stack's
  // dockerd (docker-build's managed one, the benches' and tests') would otherwise outlive the stack
  // there, and restart with every dockerd.
  if (alivePid('dockerd') !== undefined) await removeBuilders(log);
  await down(log);
  await unmountStackMounts(log);
  // Never recurse into a live mount: a pod's hostPath volume would take host files with it.
  const left = stackMounts();
  if (left.length > 0) throw new Error(`still mounted, not removing the stack state:\n${left.join('\n')}`);
  for (const dir of new Set([STATE, SOCK_DIR, dirname(KUBELET_ROOT)])) {
    if (dir === dirname(KUBELET_ROOT) && !dir.startsWith('/var/lib/shipline-')) continue;
    rmSync(dir, { recursive: true, force: true });
  }
  log('removed the stack state');
}

/**
 * A docker-container builder is a container `buildx_buildkit_<builder><node index>` on the daemon
 * it was made for. Asking this dockerd for those containers finds exactly the builders that live
 * on it, whatever named them; `buildx rm` also forgets them in ~/.docker/buildx, and a container
 * whose builder buildx no longer knows goes with its state volume.
 */
async function removeBuilders(log: Log): Promise<void> {
  const env = withStackEnv();
  const ps = await run('docker', ['ps', '--all', '--filter', 'name=^buildx_buildkit_', '--format', '{{.Names}}'], { allowFail: true, env });
  for (const { container, builder } of builderNodes(ps.stdout)) {
    if ((await run('docker', ['buildx', 'rm', '--force', builder], { allowFail: true, env })).code === 0) log(`removed buildx builder ${builder}`);
    else if ((await run('docker', ['rm', '--force', '--volumes', container], { allowFail: true, env })).code === 0)
      log(`removed builder container ${container}`);
  }
}

/**
 * `docker ps --format '{{.Names}}'` lines of buildkit containers → their builders: the node name is
 * the builder's name and one digit (its first node is `0`; builders made here have one node).
 */
function builderNodes(names: string): { container: string; builder: string }[] {
  return names
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('buildx_buildkit_'))
    .map((container) => ({ container, builder: container.slice('buildx_buildkit_'.length).replace(/\d$/, '') }));
}

/** Mount points under the stack's own folders (deepest first). */
export function stackMounts(): string[] {
  const roots = [STATE, SOCK_DIR, KUBELET_ROOT].map((r) => `${r}/`);
  const decode = (p: string) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => p !== undefined)
    .map(decode)
    .filter((p) => roots.some((r) => `${p}/`.startsWith(r)));
  return points.sort((a, b) => b.length - a.length);
}

/**
 * The kubelet (its root dir, pods' tmpfs volumes) and containerd (sandbox /dev/shm) leave mounts
 * under the stack's own folders; with everything stopped they serve nothing, and unmounting them
 * makes removing .stack safe.
 */
async function unmountStackMounts(log: Log): Promise<void> {
  const points = stackMounts();
  let n = 0;
  for (const p of points) if ((await run('umount', [p], { allowFail: true })).code === 0) n++;
  if (n > 0) log(`unmounted ${n} mount(s) left under the stack's folders`);
}

export interface ComponentStatus {
  name: string;
  version: string;
  pid: number | undefined;
  healthy: boolean;
  tool?: boolean;
}

export async function status(): Promise<ComponentStatus[]> {
  const pki = await ensurePki();
  const out: ComponentStatus[] = [];
  for (const comp of components(pki)) {
    const pid = alivePid(comp.name);
    out.push({ name: comp.name, version: await comp.version(), pid, healthy: pid !== undefined && (await comp.healthy()) });
  }
  let ready = false;
  try {
    ready = await nodeReady(pki);
  } catch {
    /* apiserver down */
  }
  out.push({ name: `node/${NODE_NAME} Ready`, version: VERSIONS.kubernetes, pid: undefined, healthy: ready });
  // Tools (no daemon): present or not.
  const tools: [string, string, string][] = [
    ['buildx (docker plugin)', BUILDX_PLUGIN, VERSIONS.buildx],
    ['act', join(GO_OUT.act, 'bin', 'act'), VERSIONS.act],
    ['kubectl', kbin('kubectl'), VERSIONS.kubernetes],
  ];
  for (const [name, file, version] of tools) out.push({ name, version, pid: undefined, healthy: existsSync(file), tool: true });
  return out;
}

/** The variables tests and users need; the values `env` prints as export lines. */
export function stackEnv(): Record<string, string> {
  return {
    KUBECONFIG: CFG.adminKubeconfig,
    DOCKER_HOST: `unix://${DOCKER_SOCK}`,
    SHIPLINE_REGISTRY: REGISTRY_A,
    SHIPLINE_REGISTRY_TLS: REGISTRY_B,
    SHIPLINE_REGISTRY_CA: `${PKI}/registry/ca.crt`,
    SHIPLINE_REGISTRY_USER: REGISTRY_USER,
    SHIPLINE_REGISTRY_PASSWORD: registryPassword(),
    PROMETHEUS_URL: `http://127.0.0.1:${PORTS.prometheus}`,
    PUSHGATEWAY_URL: `http://127.0.0.1:${PORTS.pushgateway}`,
    SHIPLINE_NODE_IMAGE: IMAGES.node,
  };
}

/** Directories to put in front of PATH: kubectl, act, etcd, ctr, buildctl. */
export const PATH_ADDITIONS = [BIN];

/** `base` with the stack's variables and PATH additions: the environment of anything that uses the stack. */
export function withStackEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...base, ...stackEnv(), PATH: [...PATH_ADDITIONS, base.PATH ?? ''].join(':') };
}
