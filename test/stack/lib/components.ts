// The services of the stack: how each starts, how its health is checked, how it is stopped.
// Every start is idempotent: a live daemon that we started and that answers is left alone.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CFG } from './config.ts';
import { httpGet, isStatus } from './http.ts';
import {
  CONTAINERD_SOCK,
  capfilterBin,
  cbin,
  DATA,
  DOCKER_SOCK,
  GO_OUT,
  KUBELET_ROOT,
  kbin,
  NET,
  NODE_NAME,
  PORTS,
  REGISTRY_B,
  RUN,
  SOCK_DIR,
  STACK_DIR,
  VERSIONS,
} from './paths.ts';
import type { Pki } from './pki.ts';
import { alivePid, type DaemonSpec, Fatal, run, startDaemon, stopDaemon, tailLog, waitFor } from './proc.ts';

export interface Component {
  name: string;
  version: () => Promise<string>;
  healthy: () => Promise<boolean>;
  /** Seconds to wait for health after starting. */
  timeoutS: number;
  spec: () => DaemonSpec;
  /** One-time preparation before the daemon starts (dirs, bridges, rules). */
  prepare?: () => Promise<void>;
  /** Cleanup before the daemon is stopped (e.g. containers it runs). */
  beforeStop?: () => Promise<void>;
}

const SYS_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Pulls of anything but the local registries fail at once on a closed loopback port instead of
 * reaching for the network (buildx's docker-container driver, for one, always tries a pull before
 * it falls back to the local image). Loopback registries are never proxied.
 */
const NO_EGRESS = {
  HTTP_PROXY: 'http://127.0.0.1:9',
  HTTPS_PROXY: 'http://127.0.0.1:9',
  NO_PROXY: 'localhost,127.0.0.1,::1',
  http_proxy: 'http://127.0.0.1:9',
  https_proxy: 'http://127.0.0.1:9',
  no_proxy: 'localhost,127.0.0.1,::1',
};

async function debVersion(pkg: string): Promise<string> {
  const r = await run('dpkg-query', ['-W', '-f=${Version}', pkg], { allowFail: true });
  return r.code === 0 ? `${r.stdout.trim()} (Debian)` : 'not installed';
}

const safe = (f: () => Promise<boolean>) => async () => {
  try {
    return await f();
  } catch {
    return false;
  }
};

function kubeTls(pki: Pki) {
  return { ca: readFileSync(pki.ca.cert), cert: readFileSync(pki.admin.cert), key: readFileSync(pki.admin.key) };
}

/** GET on the API server as the admin user. */
export async function apiGet(pki: Pki, path: string) {
  return httpGet(`https://127.0.0.1:${PORTS.apiserver}${path}`, kubeTls(pki));
}

function writeSysctl(key: string, value: string): void {
  const file = `/proc/sys/${key.replaceAll('.', '/')}`;
  try {
    if (readFileSync(file, 'utf8').trim() !== value) writeFileSync(file, value);
  } catch {
    /* not present in this kernel: the component will complain if it matters */
  }
}

async function iptablesEnsure(table: string, chain: string, rule: string[]): Promise<void> {
  const check = await run('iptables', ['-w', '-t', table, '-C', chain, ...rule], { allowFail: true });
  if (check.code !== 0) await run('iptables', ['-w', '-t', table, '-I', chain, '1', ...rule]);
}

/** The CNI bridge exists before the kubelet starts, so its address can be the node IP. */
async function ensureBridge(): Promise<void> {
  const show = await run('ip', ['-br', 'addr', 'show', 'dev', NET.bridge], { allowFail: true });
  if (show.code !== 0) await run('ip', ['link', 'add', NET.bridge, 'type', 'bridge']);
  if (!show.stdout.includes(`${NET.nodeIP}/`)) {
    await run('ip', ['addr', 'add', `${NET.nodeIP}/24`, 'dev', NET.bridge], { allowFail: true });
  }
  await run('ip', ['link', 'set', NET.bridge, 'up']);
  writeSysctl('net.ipv4.ip_forward', '1');
  writeSysctl('net.bridge.bridge-nf-call-iptables', '1');
  // dockerd sets the FORWARD policy to DROP; let pod traffic (and only it) through.
  await iptablesEnsure('filter', 'FORWARD', ['-s', NET.podCIDR, '-j', 'ACCEPT']);
  await iptablesEnsure('filter', 'FORWARD', ['-d', NET.podCIDR, '-j', 'ACCEPT']);
}

export function components(pki: Pki): Component[] {
  const tls = () => kubeTls(pki);
  const apiserverURL = `https://127.0.0.1:${PORTS.apiserver}`;

  const dockerd: Component = {
    name: 'dockerd',
    version: () => debVersion('docker.io'),
    timeoutS: 60,
    healthy: safe(() => isStatus('http://docker/_ping', 200, { socketPath: DOCKER_SOCK })),
    prepare: async () => {
      mkdirSync(SOCK_DIR, { recursive: true });
      // The docker CLI and daemon look up registry CAs here (not configurable per daemon).
      const dir = `/etc/docker/certs.d/${REGISTRY_B}`;
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'ca.crt'), readFileSync(pki.registryCA.cert));
    },
    spec: () => ({
      name: 'dockerd',
      exe: '/usr/sbin/dockerd',
      args: [
        '-H',
        `unix://${DOCKER_SOCK}`,
        '--pidfile',
        join(RUN, 'dockerd.self.pid'),
        '--storage-driver',
        'overlay2',
        // Privileged containers (buildx's docker-container builder) need capabilities filtered
        // to what this VM grants; see go/runc-capfilter.
        '--add-runtime',
        `shipline=${capfilterBin()}`,
        '--default-runtime',
        'shipline',
      ],
      // Debian's containerd and runc, never the kubelet's containerd 2.x.
      env: { ...process.env, ...NO_EGRESS, PATH: SYS_PATH, SHIPLINE_RUNC: '/usr/sbin/runc' },
    }),
  };

  const registry = (name: string, config: string, url: string, want: number): Component => ({
    name,
    version: () => debVersion('docker-registry'),
    timeoutS: 30,
    healthy: safe(() => isStatus(url, want, { ca: readFileSync(pki.registryCA.cert) })),
    spec: () => ({ name, exe: '/usr/bin/docker-registry', args: ['serve', config] }),
  });
  const registryA = registry('registry-a', CFG.registryA, `http://127.0.0.1:${PORTS.registryA}/v2/`, 200);
  // 401 proves TLS (verified against our CA) and that auth is on.
  const registryB = registry('registry-b', CFG.registryB, `https://127.0.0.1:${PORTS.registryB}/v2/`, 401);

  const prometheus: Component = {
    name: 'prometheus',
    version: () => debVersion('prometheus'),
    timeoutS: 60,
    healthy: safe(() => isStatus(`http://127.0.0.1:${PORTS.prometheus}/-/ready`, 200)),
    spec: () => ({
      name: 'prometheus',
      exe: '/usr/bin/prometheus',
      args: [
        `--config.file=${CFG.prometheus}`,
        `--storage.tsdb.path=${join(DATA, 'prometheus')}`,
        `--web.listen-address=127.0.0.1:${PORTS.prometheus}`,
        '--web.enable-lifecycle',
        '--storage.tsdb.retention.time=2d',
      ],
    }),
  };

  const pushgateway: Component = {
    name: 'pushgateway',
    version: () => debVersion('prometheus-pushgateway'),
    timeoutS: 30,
    healthy: safe(() => isStatus(`http://127.0.0.1:${PORTS.pushgateway}/-/ready`, 200)),
    prepare: async () => {
      mkdirSync(join(DATA, 'pushgateway'), { recursive: true });
    },
    spec: () => ({
      name: 'pushgateway',
      exe: '/usr/bin/prometheus-pushgateway',
      args: [
        `--web.listen-address=127.0.0.1:${PORTS.pushgateway}`,
        // Pushed groups survive a restart of the stack, as they would a gateway's restart in production.
        `--persistence.file=${join(DATA, 'pushgateway', 'metrics.data')}`,
        '--persistence.interval=30s',
        '--log.level=warn',
      ],
    }),
  };

  const etcd: Component = {
    name: 'etcd',
    version: async () => VERSIONS.etcd,
    timeoutS: 60,
    healthy: safe(async () => {
      const r = await httpGet(`http://127.0.0.1:${PORTS.etcdClient}/health`);
      return r.status === 200 && r.body.includes('"true"');
    }),
    spec: () => {
      const client = `http://127.0.0.1:${PORTS.etcdClient}`;
      const peer = `http://127.0.0.1:${PORTS.etcdPeer}`;
      return {
        name: 'etcd',
        exe: join(GO_OUT.etcd, 'bin', 'etcd'),
        args: [
          '--name=shipline',
          `--data-dir=${join(DATA, 'etcd')}`,
          `--listen-client-urls=${client}`,
          `--advertise-client-urls=${client}`,
          `--listen-peer-urls=${peer}`,
          `--initial-advertise-peer-urls=${peer}`,
          `--initial-cluster=shipline=${peer}`,
          // A throwaway test store: durability is not worth the fsync latency.
          '--unsafe-no-fsync',
          '--log-level=warn',
        ],
      };
    },
  };

  const apiserver: Component = {
    name: 'kube-apiserver',
    version: async () => VERSIONS.kubernetes,
    timeoutS: 120,
    healthy: safe(() => isStatus(`${apiserverURL}/readyz`, 200, tls())),
    spec: () => ({
      name: 'kube-apiserver',
      exe: kbin('kube-apiserver'),
      args: [
        `--etcd-servers=http://127.0.0.1:${PORTS.etcdClient}`,
        `--secure-port=${PORTS.apiserver}`,
        '--bind-address=0.0.0.0',
        `--advertise-address=${NET.nodeIP}`,
        `--service-cluster-ip-range=${NET.serviceCIDR}`,
        '--service-node-port-range=30000-32767',
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-account-key-file=${pki.saPub}`,
        `--service-account-signing-key-file=${pki.saKey}`,
        `--client-ca-file=${pki.ca.cert}`,
        `--tls-cert-file=${pki.apiserver.cert}`,
        `--tls-private-key-file=${pki.apiserver.key}`,
        '--authorization-mode=Node,RBAC',
        `--kubelet-client-certificate=${pki.apiserverKubeletClient.cert}`,
        `--kubelet-client-key=${pki.apiserverKubeletClient.key}`,
        '--kubelet-preferred-address-types=InternalIP',
        '--allow-privileged=true',
        '--enable-admission-plugins=NodeRestriction',
        '--profiling=false',
        '--v=1',
      ],
    }),
  };

  const controllerManager: Component = {
    name: 'kube-controller-manager',
    version: async () => VERSIONS.kubernetes,
    timeoutS: 60,
    healthy: safe(() => isStatus(`https://127.0.0.1:${PORTS.controllerManager}/healthz`, 200, { insecure: true })),
    spec: () => ({
      name: 'kube-controller-manager',
      exe: kbin('kube-controller-manager'),
      args: [
        `--kubeconfig=${CFG.cmKubeconfig}`,
        `--authentication-kubeconfig=${CFG.cmKubeconfig}`,
        `--authorization-kubeconfig=${CFG.cmKubeconfig}`,
        '--bind-address=127.0.0.1',
        '--leader-elect=false',
        `--service-account-private-key-file=${pki.saKey}`,
        `--root-ca-file=${pki.ca.cert}`,
        `--cluster-signing-cert-file=${pki.ca.cert}`,
        `--cluster-signing-key-file=${pki.ca.key}`,
        '--use-service-account-credentials=true',
        `--service-cluster-ip-range=${NET.serviceCIDR}`,
        '--v=1',
      ],
    }),
  };

  const scheduler: Component = {
    name: 'kube-scheduler',
    version: async () => VERSIONS.kubernetes,
    timeoutS: 60,
    healthy: safe(() => isStatus(`https://127.0.0.1:${PORTS.scheduler}/healthz`, 200, { insecure: true })),
    spec: () => ({
      name: 'kube-scheduler',
      exe: kbin('kube-scheduler'),
      args: [
        `--config=${CFG.schedulerConfig}`,
        `--authentication-kubeconfig=${CFG.schedulerKubeconfig}`,
        `--authorization-kubeconfig=${CFG.schedulerKubeconfig}`,
        '--bind-address=127.0.0.1',
        '--v=1',
      ],
    }),
  };

  const ctr = (args: string[], allowFail = false) => run(cbin('ctr'), ['--address', CONTAINERD_SOCK, ...args], { allowFail, timeoutMs: 30_000 });

  const containerd: Component = {
    name: 'containerd',
    version: async () => `${VERSIONS.containerd} (runc ${VERSIONS.runc})`,
    timeoutS: 60,
    healthy: safe(async () => existsSync(CONTAINERD_SOCK) && (await ctr(['version'], true)).code === 0),
    prepare: async () => {
      mkdirSync(SOCK_DIR, { recursive: true });
      await ensureBridge();
    },
    // Pods' shims outlive containerd: stop their tasks through containerd itself (by id) so
    // `down` leaves no container processes behind; the kubelet recreates pods on the next `up`.
    beforeStop: async () => {
      const ls = await ctr(['-n', 'k8s.io', 'tasks', 'ls', '-q'], true);
      const ids = ls.stdout
        .split('\n')
        .map((s) => s.trim())
        .filter(Boolean);
      for (const id of ids) await ctr(['-n', 'k8s.io', 'tasks', 'kill', '-s', 'SIGKILL', id], true);
      for (const id of ids) {
        for (let i = 0; i < 20; i++) {
          if ((await ctr(['-n', 'k8s.io', 'tasks', 'delete', id], true)).code === 0) break;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    },
    spec: () => ({
      name: 'containerd',
      exe: cbin('containerd'),
      args: ['--config', CFG.containerdConfig],
      // Its own shim (2.x) must come before Debian's 1.6 shim in /usr/bin.
      env: { ...process.env, ...NO_EGRESS, PATH: `${join(GO_OUT.containerd, 'bin')}:${SYS_PATH}`, SHIPLINE_RUNC: join(GO_OUT.runc, 'bin', 'runc') },
    }),
  };

  const kubelet: Component = {
    name: 'kubelet',
    version: async () => VERSIONS.kubernetes,
    timeoutS: 90,
    healthy: safe(() => isStatus(`http://127.0.0.1:${PORTS.kubeletHealthz}/healthz`, 200)),
    prepare: async () => {
      mkdirSync(KUBELET_ROOT, { recursive: true });
      await ensureBridge();
    },
    spec: () => ({
      name: 'kubelet',
      exe: kbin('kubelet'),
      args: [
        `--config=${CFG.kubeletConfig}`,
        `--kubeconfig=${CFG.kubeletKubeconfig}`,
        `--root-dir=${KUBELET_ROOT}`,
        `--hostname-override=${NODE_NAME}`,
        `--node-ip=${NET.nodeIP}`,
        '--v=1',
      ],
      env: { ...process.env, PATH: `${join(GO_OUT.containerd, 'bin')}:${SYS_PATH}` },
    }),
  };

  const kubeProxy: Component = {
    name: 'kube-proxy',
    version: async () => VERSIONS.kubernetes,
    timeoutS: 60,
    healthy: safe(() => isStatus(`http://127.0.0.1:${PORTS.kubeProxyHealthz}/healthz`, 200)),
    spec: () => ({
      name: 'kube-proxy',
      exe: kbin('kube-proxy'),
      args: [`--config=${CFG.proxyConfig}`, '--v=1'],
      env: { ...process.env, PATH: SYS_PATH },
    }),
  };

  const heartbeat = join(RUN, 'pod-targets.heartbeat');
  const podTargets: Component = {
    name: 'pod-targets',
    version: async () => `lib/pod-targets.ts (Node ${process.versions.node})`,
    timeoutS: 30,
    // Fresh means the API server answered one of its polls (every 2 s) within the last 10 s.
    healthy: safe(async () => Date.now() - statSync(heartbeat).mtimeMs < 10_000),
    spec: () => ({
      name: 'pod-targets',
      exe: process.execPath,
      args: [
        join(STACK_DIR, 'lib', 'pod-targets.ts'),
        '--server',
        apiserverURL,
        '--ca',
        pki.ca.cert,
        '--cert',
        pki.admin.cert,
        '--key',
        pki.admin.key,
        '--out',
        CFG.podTargets,
        '--heartbeat',
        heartbeat,
      ],
    }),
  };

  return [dockerd, registryA, registryB, prometheus, pushgateway, etcd, containerd, apiserver, controllerManager, scheduler, kubelet, kubeProxy, podTargets];
}

/** Starts `c` unless our own instance is alive; waits for health and fails with its log tail. */
export async function ensureRunning(c: Component, log: (m: string) => void): Promise<boolean> {
  const pid = alivePid(c.name);
  if (pid !== undefined) {
    if (await c.healthy()) return false;
    // Ours but not answering yet (just started by a concurrent `up`?): give it its usual time.
    try {
      await waitFor(`${c.name} (pid ${pid}) to become healthy`, c.healthy, c.timeoutS * 1000, 300);
      return false;
    } catch {
      log(`${c.name} (pid ${pid}) is alive but unhealthy: restarting it`);
      await stopDaemon(c.name);
    }
  }
  await c.prepare?.();
  const started = startDaemon(c.spec());
  log(`started ${c.name} (pid ${started})`);
  try {
    await waitFor(
      `${c.name} to become healthy`,
      async () => {
        if (alivePid(c.name) === undefined) throw new Fatal(`${c.name} exited`);
        return c.healthy();
      },
      c.timeoutS * 1000,
      250,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- last lines of .stack/logs/${c.name}.log ---\n${tailLog(c.name)}`);
  }
  return true;
}
