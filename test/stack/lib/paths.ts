// Every path and pinned version the stack uses, derived from this file's location so that a
// clone anywhere (CI uses a fresh one in another folder) gets its own state in <repo>/.stack.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export const STACK_DIR = resolve(import.meta.dirname, '..');
export const REPO_ROOT = resolve(STACK_DIR, '..', '..');
export const STATE = join(REPO_ROOT, '.stack');
export const LOGS = join(STATE, 'logs');
export const RUN = join(STATE, 'run');
export const PKI = join(STATE, 'pki');
export const CONFIG = join(STATE, 'config');
export const DATA = join(STATE, 'data');
export const BUILD = join(STATE, 'build');
export const BIN = join(STATE, 'bin');

/** Go builds are cached per pinned version outside the repo, shared by every clone. */
export const CACHE = process.env.SHIPLINE_CACHE ?? join(homedir(), '.cache', 'shipline');

const hash = createHash('sha256').update(REPO_ROOT).digest('hex').slice(0, 8);

/**
 * Unix socket paths must stay under ~100 chars (sun_path is 108 bytes and some programs add
 * suffixes). Sockets live in .stack/run when the repo path is short, else in /run/shipline-<hash>.
 */
export const SOCK_DIR = RUN.length <= 60 ? RUN : `/run/shipline-${hash}`;
/** The kubelet keeps sockets under its root dir too (pod-resources, plugins). */
export const KUBELET_ROOT = STATE.length <= 50 ? join(DATA, 'kubelet') : `/var/lib/shipline-${hash}/kubelet`;

export const DOCKER_SOCK = join(SOCK_DIR, 'docker.sock');
export const CONTAINERD_SOCK = join(SOCK_DIR, 'containerd.sock');

function readVersions(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(join(STACK_DIR, 'versions.env'), 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(\S+)$/.exec(line.trim());
    if (m?.[1] && m[2]) out[m[1]] = m[2];
  }
  return out;
}
const v = readVersions();
function pin(key: string): string {
  const value = v[key];
  if (!value) throw new Error(`test/stack/versions.env lacks ${key}`);
  return value;
}
export const VERSIONS = {
  kubernetes: pin('K8S_VERSION'),
  containerd: pin('CONTAINERD_VERSION'),
  runc: pin('RUNC_VERSION'),
  etcd: pin('ETCD_VERSION'),
  buildx: pin('BUILDX_VERSION'),
  buildkit: pin('BUILDKIT_VERSION'),
  act: pin('ACT_VERSION'),
};

export const GO_OUT = {
  kubernetes: join(CACHE, `kubernetes-${VERSIONS.kubernetes}`),
  containerd: join(CACHE, `containerd-${VERSIONS.containerd}`),
  runc: join(CACHE, `runc-${VERSIONS.runc}`),
  etcd: join(CACHE, `etcd-${VERSIONS.etcd}`),
  buildx: join(CACHE, `buildx-${VERSIONS.buildx}`),
  buildkit: join(CACHE, `buildkit-${VERSIONS.buildkit}`),
  act: join(CACHE, `act-${VERSIONS.act}`),
};
/** Output folder of a small program in go/<name>, cached per hash of its source (as build-go.sh). */
export function localToolOut(name: 'pause' | 'runc-capfilter'): string {
  const src = readFileSync(join(STACK_DIR, 'go', name, 'main.go'));
  return join(CACHE, `${name}-${createHash('sha256').update(src).digest('hex').slice(0, 12)}`);
}
export const pauseOut = (): string => localToolOut('pause');
export const capfilterBin = (): string => join(localToolOut('runc-capfilter'), 'bin', 'runc-capfilter');

export const kbin = (name: string): string => join(GO_OUT.kubernetes, 'bin', name);
export const cbin = (name: string): string => join(GO_OUT.containerd, 'bin', name);

/** Network layout: clear of docker0 (172.17/16) and the uplink (192.0.2.0/24). */
export const NET = {
  podCIDR: '10.244.0.0/16',
  nodePodCIDR: '10.244.0.0/24',
  /** Gateway of the CNI bridge; also the node IP and the API server's advertise address. */
  nodeIP: '10.244.0.1',
  bridge: 'shipline0',
  serviceCIDR: '10.96.0.0/16',
  kubernetesServiceIP: '10.96.0.1',
};

export const PORTS = {
  registryA: 5000,
  registryB: 5001,
  prometheus: 9090,
  pushgateway: 9091,
  etcdClient: 2379,
  etcdPeer: 2380,
  apiserver: 6443,
  controllerManager: 10257,
  scheduler: 10259,
  kubelet: 10250,
  kubeletHealthz: 10248,
  kubeProxyHealthz: 10256,
  kubeProxyMetrics: 10249,
};

export const NODE_NAME = 'shipline-node';
export const REGISTRY_A = `127.0.0.1:${PORTS.registryA}`;
export const REGISTRY_B = `127.0.0.1:${PORTS.registryB}`;
export const REGISTRY_USER = 'shipline';
/** Image names the stack builds. The buildkit one is exactly what buildx would pull. */
export const IMAGES = {
  node: `${REGISTRY_A}/shipline/node:24`,
  pause: `${REGISTRY_A}/shipline/pause:3.10.1`,
  buildkit: 'moby/buildkit:buildx-stable-1',
};
