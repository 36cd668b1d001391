// Prometheus scrape targets for the stack's pods. Debian's Prometheus is built without Kubernetes
// service discovery, so this small process (a stack component, started by `up`) stands in for
// `kubernetes_sd_configs` + the usual `prometheus.io/*` relabelling: every 2 s it lists the pods,
// keeps those Running, Ready, not being deleted and annotated `prometheus.io/scrape: "true"`, and writes them as a
// file_sd file that the stack's `file-targets` job reads. Pods are reachable from the host by IP.
//
//   node pod-targets.ts --server https://127.0.0.1:6443 --ca ca.crt --cert admin.crt --key admin.key \
//     --out .stack/config/prometheus-targets/pods.json --heartbeat .stack/run/pod-targets.heartbeat
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { parseArgs } from 'node:util';

export const POLL_MS = 2_000;

interface Pod {
  metadata?: { name?: string; namespace?: string; deletionTimestamp?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: { containers?: { ports?: { containerPort?: number; protocol?: string }[] }[] };
  status?: { phase?: string; podIP?: string; conditions?: { type?: string; status?: string }[] };
}

export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

/** Labels a target gets from us; a pod label that maps onto one of these is prefixed `label_`. */
const OWN = new Set(['namespace', 'pod', 'job', 'instance']);

/**
 * A pod label key as a Prometheus label name: the `shipline.dev/` prefix is dropped
 * (`shipline.dev/track` → `track`), anything else outside `[a-zA-Z0-9_]` becomes `_`
 * (`app.kubernetes.io/name` → `app_kubernetes_io_name`, `pod-template-hash` → `pod_template_hash`),
 * a leading digit gets `_`. Undefined for names Prometheus reserves (`__…`).
 */
export function labelName(key: string): string | undefined {
  let name = (key.startsWith('shipline.dev/') ? key.slice('shipline.dev/'.length) : key).replace(/[^a-zA-Z0-9_]/g, '_');
  if (name === '') return undefined;
  if (/^[0-9]/.test(name)) name = `_${name}`;
  if (name.startsWith('__')) return undefined;
  return OWN.has(name) ? `label_${name}` : name;
}

/** Running and Ready, and not on its way out (a deleted pod stays Running through its grace period). */
function ready(pod: Pod): boolean {
  return (
    !pod.metadata?.deletionTimestamp &&
    pod.status?.phase === 'Running' &&
    pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true
  );
}

/** The port to scrape: the annotation, else the pod's only declared TCP port (as Prometheus' usual relabelling has no default either). */
function scrapePort(pod: Pod): number | undefined {
  const a = pod.metadata?.annotations?.['prometheus.io/port'];
  if (a !== undefined) {
    const n = Number(a);
    return Number.isInteger(n) && n > 0 && n < 65536 ? n : undefined;
  }
  const ports = (pod.spec?.containers ?? []).flatMap((c) => c.ports ?? []).filter((p) => (p.protocol ?? 'TCP') === 'TCP');
  return ports.length === 1 ? ports[0]?.containerPort : undefined;
}

/** One target group per scrapeable pod, sorted by namespace and name so the file only changes with the pods. */
export function podTargets(pods: readonly Pod[]): TargetGroup[] {
  const out: TargetGroup[] = [];
  for (const pod of pods) {
    const md = pod.metadata;
    if (md?.annotations?.['prometheus.io/scrape'] !== 'true' || !ready(pod) || !pod.status?.podIP || !md.name || !md.namespace) continue;
    const port = scrapePort(pod);
    if (port === undefined) continue;
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(md.labels ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
      const name = labelName(k);
      if (name !== undefined && !(name in labels)) labels[name] = v;
    }
    labels.namespace = md.namespace;
    labels.pod = md.name;
    const path = md.annotations['prometheus.io/path'];
    if (path?.startsWith('/')) labels.__metrics_path__ = path;
    const scheme = md.annotations['prometheus.io/scheme'];
    if (scheme === 'http' || scheme === 'https') labels.__scheme__ = scheme;
    const host = pod.status.podIP.includes(':') ? `[${pod.status.podIP}]` : pod.status.podIP;
    out.push({ targets: [`${host}:${port}`], labels });
  }
  return out.sort((a, b) => `${a.labels.namespace}/${a.labels.pod}`.localeCompare(`${b.labels.namespace}/${b.labels.pod}`));
}

/** Write-then-rename, so Prometheus never reads half a file. */
export function writeAtomically(file: string, content: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, content);
  renameSync(tmp, file);
}

interface Client {
  server: string;
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

function listPods(c: Client): Promise<Pod[]> {
  const url = new URL('/api/v1/pods?fieldSelector=status.phase%3DRunning', c.server);
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca: c.ca, cert: c.cert, key: c.key, timeout: 5_000, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`GET ${url.pathname}: HTTP ${res.statusCode}: ${body.slice(0, 200)}`));
        else {
          try {
            resolve(((JSON.parse(body) as { items?: Pod[] }).items ?? []) as Pod[]);
          } catch (err) {
            reject(err);
          }
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout listing pods')));
    req.on('error', reject);
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      server: { type: 'string' },
      ca: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      out: { type: 'string' },
      heartbeat: { type: 'string' },
    },
  });
  const { server, ca, cert, key, out, heartbeat } = values;
  if (!server || !ca || !cert || !key || !out || !heartbeat) throw new Error('usage: pod-targets --server URL --ca F --cert F --key F --out F --heartbeat F');
  const client = { server, ca: readFileSync(ca), cert: readFileSync(cert), key: readFileSync(key) };
  let last: string | undefined;
  let failing = false;
  for (;;) {
    try {
      const text = `${JSON.stringify(podTargets(await listPods(client)), null, 2)}\n`;
      if (text !== last) {
        writeAtomically(out, text);
        process.stdout.write(`${new Date().toISOString()} ${JSON.parse(text).length} pod target(s)\n`);
        last = text;
      }
      // The stack's health check: a fresh heartbeat means the API server answered just now.
      writeFileSync(heartbeat, `${new Date().toISOString()}\n`);
      failing = false;
    } catch (err) {
      // Keep the last good file: a restarting API server must not empty Prometheus' targets.
      if (!failing) process.stdout.write(`${new Date().toISOString()} listing pods failed: ${(err as Error).message}\n`);
      failing = true;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

if (import.meta.main) {
  process.on('SIGTERM', () => process.exit(0));
  main().catch((err: unknown) => {
    process.stderr.write(`pod-targets: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
