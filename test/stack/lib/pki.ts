// Certificates and keys, made once with openssl (ECDSA P-256: fast to generate) and kept in
// .stack/pki. Node can parse but not issue X.509, hence the openssl CLI.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NET, NODE_NAME, PKI } from './paths.ts';
import { run } from './proc.ts';

export interface CertPaths {
  cert: string;
  key: string;
}

async function ensureCA(dir: string, cn: string): Promise<CertPaths> {
  const cert = join(dir, 'ca.crt');
  const key = join(dir, 'ca.key');
  if (existsSync(cert) && existsSync(key)) return { cert, key };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  await run('openssl', [
    'req',
    '-x509',
    '-new',
    '-nodes',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '3650',
    '-subj',
    `/CN=${cn}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
  ]);
  chmodSync(key, 0o600);
  return { cert, key };
}

interface LeafSpec {
  name: string;
  cn: string;
  org?: string;
  sans?: string[];
  server?: boolean;
}

async function ensureLeaf(dir: string, ca: CertPaths, spec: LeafSpec): Promise<CertPaths> {
  const cert = join(dir, `${spec.name}.crt`);
  const key = join(dir, `${spec.name}.key`);
  if (existsSync(cert) && existsSync(key)) return { cert, key };
  const csr = join(dir, `${spec.name}.csr`);
  const ext = join(dir, `${spec.name}.ext`);
  const subj = `/CN=${spec.cn}${spec.org ? `/O=${spec.org}` : ''}`;
  await run('openssl', ['req', '-new', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-keyout', key, '-out', csr, '-subj', subj]);
  const lines = [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    `extendedKeyUsage=${spec.server ? 'serverAuth,clientAuth' : 'clientAuth'}`,
  ];
  if (spec.sans?.length) lines.push(`subjectAltName=${spec.sans.join(',')}`);
  writeFileSync(ext, `${lines.join('\n')}\n`);
  await run('openssl', ['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-days', '3650', '-out', cert, '-extfile', ext]);
  chmodSync(key, 0o600);
  return { cert, key };
}

export interface Pki {
  registryCA: CertPaths;
  registry: CertPaths;
  ca: CertPaths;
  apiserver: CertPaths;
  admin: CertPaths;
  controllerManager: CertPaths;
  scheduler: CertPaths;
  kubelet: CertPaths;
  kubeProxy: CertPaths;
  apiserverKubeletClient: CertPaths;
  saKey: string;
  saPub: string;
}

export async function ensurePki(): Promise<Pki> {
  const regDir = join(PKI, 'registry');
  const k8sDir = join(PKI, 'kubernetes');
  const registryCA = await ensureCA(regDir, 'shipline-stack registry CA');
  const registry = await ensureLeaf(regDir, registryCA, {
    name: 'registry',
    cn: '127.0.0.1',
    server: true,
    sans: ['IP:127.0.0.1', 'DNS:localhost'],
  });
  const ca = await ensureCA(k8sDir, 'shipline-stack kubernetes CA');
  const leaf = (s: LeafSpec) => ensureLeaf(k8sDir, ca, s);
  const apiserver = await leaf({
    name: 'apiserver',
    cn: 'kube-apiserver',
    server: true,
    sans: [
      'IP:127.0.0.1',
      `IP:${NET.nodeIP}`,
      `IP:${NET.kubernetesServiceIP}`,
      'DNS:localhost',
      'DNS:kubernetes',
      'DNS:kubernetes.default',
      'DNS:kubernetes.default.svc',
      'DNS:kubernetes.default.svc.cluster.local',
    ],
  });
  const admin = await leaf({ name: 'admin', cn: 'shipline-admin', org: 'system:masters' });
  const controllerManager = await leaf({ name: 'controller-manager', cn: 'system:kube-controller-manager' });
  const scheduler = await leaf({ name: 'scheduler', cn: 'system:kube-scheduler' });
  const kubelet = await leaf({ name: 'kubelet', cn: `system:node:${NODE_NAME}`, org: 'system:nodes' });
  const kubeProxy = await leaf({ name: 'kube-proxy', cn: 'system:kube-proxy' });
  // system:masters so logs/exec/port-forward/proxy through the kubelet are never refused.
  const apiserverKubeletClient = await leaf({ name: 'apiserver-kubelet-client', cn: 'kube-apiserver-kubelet-client', org: 'system:masters' });
  const saKey = join(k8sDir, 'sa.key');
  const saPub = join(k8sDir, 'sa.pub');
  if (!existsSync(saKey) || !existsSync(saPub)) {
    await run('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', saKey]);
    await run('openssl', ['pkey', '-in', saKey, '-pubout', '-out', saPub]);
    chmodSync(saKey, 0o600);
  }
  return { registryCA, registry, ca, apiserver, admin, controllerManager, scheduler, kubelet, kubeProxy, apiserverKubeletClient, saKey, saPub };
}

const b64 = (file: string): string => readFileSync(file).toString('base64');

/** A kubeconfig with the credentials embedded, so it works from any working directory. */
export function kubeconfig(server: string, caCert: string, client: CertPaths, user: string): string {
  return `apiVersion: v1
kind: Config
clusters:
- name: shipline
  cluster:
    server: ${server}
    certificate-authority-data: ${b64(caCert)}
users:
- name: ${user}
  user:
    client-certificate-data: ${b64(client.cert)}
    client-key-data: ${b64(client.key)}
contexts:
- name: shipline
  context:
    cluster: shipline
    user: ${user}
current-context: shipline
`;
}
