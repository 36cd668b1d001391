// Generated configuration files for every service, written to .stack/config (rewritten only when
// the content changes, so a warm `up` touches nothing).
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  CONFIG,
  CONTAINERD_SOCK,
  capfilterBin,
  DATA,
  IMAGES,
  KUBELET_ROOT,
  NET,
  NODE_NAME,
  PORTS,
  REGISTRY_A,
  REGISTRY_B,
  REGISTRY_USER,
  SOCK_DIR,
} from './paths.ts';
import { kubeconfig, type Pki } from './pki.ts';
import { run } from './proc.ts';

export function writeIfChanged(file: string, content: string, mode = 0o644): void {
  mkdirSync(dirname(file), { recursive: true });
  if (existsSync(file) && readFileSync(file, 'utf8') === content) return;
  writeFileSync(file, content, { mode });
}

export const CFG = {
  adminKubeconfig: join(CONFIG, 'admin.kubeconfig'),
  cmKubeconfig: join(CONFIG, 'controller-manager.kubeconfig'),
  schedulerKubeconfig: join(CONFIG, 'scheduler.kubeconfig'),
  kubeletKubeconfig: join(CONFIG, 'kubelet.kubeconfig'),
  proxyKubeconfig: join(CONFIG, 'kube-proxy.kubeconfig'),
  schedulerConfig: join(CONFIG, 'scheduler.yaml'),
  kubeletConfig: join(CONFIG, 'kubelet.yaml'),
  proxyConfig: join(CONFIG, 'kube-proxy.yaml'),
  containerdConfig: join(CONFIG, 'containerd.toml'),
  certsD: join(CONFIG, 'certs.d'),
  cniDir: join(CONFIG, 'cni'),
  resolvConf: join(CONFIG, 'resolv.conf'),
  registryA: join(CONFIG, 'registry-a.yml'),
  registryB: join(CONFIG, 'registry-b.yml'),
  htpasswd: join(CONFIG, 'registry-b.htpasswd'),
  registryPassword: join(CONFIG, 'registry-b.password'),
  prometheus: join(CONFIG, 'prometheus.yml'),
  prometheusTargets: join(CONFIG, 'prometheus-targets'),
  /** Written by the pod-targets component (lib/pod-targets.ts). */
  podTargets: join(CONFIG, 'prometheus-targets', 'pods.json'),
};

/** Registry B's password: generated once per checkout, kept 0600. */
export function registryPassword(): string {
  if (!existsSync(CFG.registryPassword)) {
    mkdirSync(CONFIG, { recursive: true });
    writeFileSync(CFG.registryPassword, randomBytes(18).toString('base64url'), { mode: 0o600 });
  }
  return readFileSync(CFG.registryPassword, 'utf8').trim();
}

/** Every service's configuration, one component at a time (see each writer). A running Prometheus
 * picks up a changed prometheus.yml when `up` reloads it. */
export async function writeConfigs(pki: Pki): Promise<void> {
  writeKubeconfigs(pki);
  writeSchedulerConfig();
  writeKubeletConfig(pki);
  writeKubeProxyConfig();
  writeContainerdConfig(pki);
  writeCniConfig();
  await writeRegistryConfigs(pki);
  writePrometheusConfig();
}

/** One kubeconfig per client of the API server, each with its own client certificate (0600). */
function writeKubeconfigs(pki: Pki): void {
  const server = `https://127.0.0.1:${PORTS.apiserver}`;
  writeIfChanged(CFG.adminKubeconfig, kubeconfig(server, pki.ca.cert, pki.admin, 'shipline-admin'), 0o600);
  writeIfChanged(CFG.cmKubeconfig, kubeconfig(server, pki.ca.cert, pki.controllerManager, 'controller-manager'), 0o600);
  writeIfChanged(CFG.schedulerKubeconfig, kubeconfig(server, pki.ca.cert, pki.scheduler, 'scheduler'), 0o600);
  writeIfChanged(CFG.kubeletKubeconfig, kubeconfig(server, pki.ca.cert, pki.kubelet, 'kubelet'), 0o600);
  writeIfChanged(CFG.proxyKubeconfig, kubeconfig(server, pki.ca.cert, pki.kubeProxy, 'kube-proxy'), 0o600);
}

/** kube-scheduler: one node, no leader election. */
function writeSchedulerConfig(): void {
  writeIfChanged(
    CFG.schedulerConfig,
    `apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: ${CFG.schedulerKubeconfig}
leaderElection:
  leaderElect: false
`,
  );
}

/** The kubelet and the resolv.conf its pods get. */
function writeKubeletConfig(pki: Pki): void {
  // Pods get a resolver that points at their own loopback: there is no cluster DNS and pods must
  // not send traffic off this machine.
  writeIfChanged(CFG.resolvConf, 'nameserver 127.0.0.1\noptions ndots:1\n');

  writeIfChanged(
    CFG.kubeletConfig,
    `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# cgroup v1 is what this VM has; the default became true in 1.35 (KEP-5573).
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://${CONTAINERD_SOCK}
failSwapOn: false
address: ${NET.nodeIP}
port: ${PORTS.kubelet}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: ${PORTS.kubeletHealthz}
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: ${pki.ca.cert}
authorization:
  mode: Webhook
resolvConf: ${CFG.resolvConf}
clusterDomain: cluster.local
podCIDR: ${NET.nodePodCIDR}
serializeImagePulls: false
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
rotateCertificates: false
serverTLSBootstrap: false
`,
  );
}

/** kube-proxy in iptables mode; conntrack left as the VM has it. */
function writeKubeProxyConfig(): void {
  writeIfChanged(
    CFG.proxyConfig,
    `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: ${CFG.proxyKubeconfig}
mode: iptables
clusterCIDR: ${NET.podCIDR}
hostnameOverride: ${NODE_NAME}
healthzBindAddress: 127.0.0.1:${PORTS.kubeProxyHealthz}
metricsBindAddress: 127.0.0.1:${PORTS.kubeProxyMetrics}
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`,
  );
}

/** containerd for the kubelet, with the hosts.toml of both local registries. */
function writeContainerdConfig(pki: Pki): void {
  // containerd for the kubelet: local registries only, a locally built pause image.
  writeIfChanged(
    join(CFG.certsD, REGISTRY_A, 'hosts.toml'),
    `server = "http://${REGISTRY_A}"

[host."http://${REGISTRY_A}"]
  capabilities = ["pull", "resolve"]
`,
  );
  writeIfChanged(
    join(CFG.certsD, REGISTRY_B, 'hosts.toml'),
    `server = "https://${REGISTRY_B}"

[host."https://${REGISTRY_B}"]
  capabilities = ["pull", "resolve"]
  ca = "${pki.registryCA.cert}"
`,
  );
  writeIfChanged(
    CFG.containerdConfig,
    `version = 3
root = "${join(DATA, 'containerd')}"
state = "${join(SOCK_DIR, 'containerd-state')}"

[grpc]
  address = "${CONTAINERD_SOCK}"

[ttrpc]
  address = "${CONTAINERD_SOCK}.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"

[plugins."io.containerd.cri.v1.images".pinned_images]
  sandbox = "${IMAGES.pause}"

[plugins."io.containerd.cri.v1.images".registry]
  config_path = "${CFG.certsD}"

[plugins."io.containerd.cri.v1.runtime"]
  enable_selinux = false
  enable_unprivileged_ports = false
  enable_unprivileged_icmp = false
  # The VM's root lacks CAP_SYS_RESOURCE, so oom_score_adj can't go below containerd's own (0);
  # without this every sandbox (-998) dies in runc init: "can't get final child's PID from pipe".
  restrict_oom_score_adj = true

[plugins."io.containerd.cri.v1.runtime".containerd]
  default_runtime_name = "runc"

[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
  # runc-capfilter execs $SHIPLINE_RUNC (the pinned runc) after dropping capabilities
  # this VM cannot grant (privileged pods).
  BinaryName = "${capfilterBin()}"
  SystemdCgroup = false

[plugins."io.containerd.cri.v1.runtime".cni]
  bin_dirs = ["/usr/lib/cni"]
  conf_dir = "${CFG.cniDir}"
  max_conf_num = 1

[plugins."io.containerd.grpc.v1.cri"]
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
`,
  );
}

/** The pods' network: a bridge on this machine only. */
function writeCniConfig(): void {
  writeIfChanged(
    join(CFG.cniDir, '10-shipline.conflist'),
    `${JSON.stringify(
      {
        cniVersion: '1.0.0',
        name: 'shipline',
        plugins: [
          {
            type: 'bridge',
            bridge: NET.bridge,
            isGateway: true,
            // No masquerading: pods have no business beyond this machine.
            ipMasq: false,
            hairpinMode: true,
            ipam: {
              type: 'host-local',
              dataDir: join(DATA, 'cni-ipam'),
              ranges: [[{ subnet: NET.nodePodCIDR, gateway: NET.nodeIP }]],
              routes: [{ dst: '0.0.0.0/0' }],
            },
          },
          { type: 'portmap', capabilities: { portMappings: true } },
          { type: 'firewall' },
        ],
      },
      null,
      2,
    )}\n`,
  );
}

/** Registry A (plain HTTP) and B (TLS, htpasswd with a bcrypt entry for the generated password). */
async function writeRegistryConfigs(pki: Pki): Promise<void> {
  const regCommon = (name: string) => `version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${join(DATA, name)}
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
`;
  writeIfChanged(
    CFG.registryA,
    `${regCommon('registry-a')}http:
  addr: 127.0.0.1:${PORTS.registryA}
  headers:
    X-Content-Type-Options: [nosniff]
`,
  );
  writeIfChanged(
    CFG.registryB,
    `${regCommon('registry-b')}http:
  addr: 127.0.0.1:${PORTS.registryB}
  headers:
    X-Content-Type-Options: [nosniff]
  tls:
    certificate: ${pki.registry.cert}
    key: ${pki.registry.key}
auth:
  htpasswd:
    realm: shipline-registry
    path: ${CFG.htpasswd}
`,
  );
  const password = registryPassword();
  let htOk = false;
  if (existsSync(CFG.htpasswd)) {
    htOk = (await run('htpasswd', ['-vb', CFG.htpasswd, REGISTRY_USER, password], { allowFail: true })).code === 0;
  }
  if (!htOk) {
    const r = await run('htpasswd', ['-nbB', REGISTRY_USER, password]);
    writeFileSync(CFG.htpasswd, `${r.stdout.trim()}\n`, { mode: 0o600 });
  }
}

/** Prometheus: itself, the Pushgateway, and file_sd targets in .stack/config/prometheus-targets/. */
function writePrometheusConfig(): void {
  mkdirSync(CFG.prometheusTargets, { recursive: true });
  writeIfChanged(
    CFG.prometheus,
    `global:
  scrape_interval: 5s
  evaluation_interval: 5s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ['127.0.0.1:${PORTS.prometheus}']
  # Pushed groups keep their own job and grouping labels (job="shipline", service, environment).
  - job_name: pushgateway
    honor_labels: true
    static_configs:
      - targets: ['127.0.0.1:${PORTS.pushgateway}']
  # Debian's Prometheus is built without Kubernetes service discovery: whoever needs a target
  # scraped (e.g. a pod IP) drops a file_sd JSON file into .stack/config/prometheus-targets/;
  # the pod-targets component keeps pods.json there for annotated pods.
  - job_name: file-targets
    file_sd_configs:
      - files: ['${CFG.prometheusTargets}/*.json']
        refresh_interval: 5s
`,
  );
}

export { KUBELET_ROOT };
