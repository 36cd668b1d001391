// Workloads for rollout scenarios (rollout-verify's stack tests, k8s-deploy's wait, bench/verify.ts),
// written as plain objects and sent as JSON (which is YAML), and `kubectl rollout status` as the
// oracle. Every container runs the stack's Node base image, so nothing is pulled from outside.
// terminationGracePeriodSeconds 1: Node as PID 1 ignores SIGTERM, and every rollout would
// otherwise wait 30 s per old pod.
import { run } from '../stack/lib/proc.ts';

export type Obj = Record<string, unknown>;

/** An HTTP server answering every path with its marker (and the path), on 8080. */
export const server = (marker: string): string =>
  `require("http").createServer((q, s) => { s.setHeader("content-type", "application/json"); s.end(JSON.stringify({ status: "ok", marker: ${JSON.stringify(marker)}, path: q.url })) }).listen(8080)`;

export const node = (script: string) => ({ command: ['node', '-e', script] });

/** A container that serves `marker` and is ready once it listens. */
export const serving = (marker: string) => ({
  ...node(server(marker)),
  ports: [{ containerPort: 8080 }],
  readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1 },
});

interface WorkloadOptions {
  image: string;
  replicas?: number;
  /** Merged into the workload's spec. */
  spec?: Obj;
  /** Merged into the pod spec. */
  pod?: Obj;
}

function template(name: string, container: Obj, o: WorkloadOptions): Obj {
  return {
    metadata: { labels: { app: name } },
    spec: { terminationGracePeriodSeconds: 1, ...o.pod, containers: [{ name: 'app', image: o.image, ...container }] },
  };
}

export function deployment(name: string, container: Obj, o: WorkloadOptions): Obj {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels: { app: name } },
    spec: { replicas: o.replicas ?? 1, selector: { matchLabels: { app: name } }, ...o.spec, template: template(name, container, o) },
  };
}

export function statefulSet(name: string, container: Obj, o: WorkloadOptions): Obj {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name, labels: { app: name } },
    spec: {
      replicas: o.replicas ?? 1,
      serviceName: name,
      // Parallel: three pods start at once instead of one after another.
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: { app: name } },
      ...o.spec,
      template: template(name, container, o),
    },
  };
}

export function daemonSet(name: string, container: Obj, o: WorkloadOptions): Obj {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name, labels: { app: name } },
    spec: { selector: { matchLabels: { app: name } }, ...o.spec, template: template(name, container, o) },
  };
}

export function job(name: string, container: Obj, o: WorkloadOptions): Obj {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, labels: { app: name } },
    spec: {
      backoffLimit: 0,
      ...o.spec,
      template: {
        metadata: { labels: { app: name } },
        spec: { restartPolicy: 'Never', terminationGracePeriodSeconds: 1, ...o.pod, containers: [{ name: 'app', image: o.image, ...container }] },
      },
    },
  };
}

export function service(name: string, opts: { headless?: boolean } = {}): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name },
    spec: { ...(opts.headless ? { clusterIP: 'None' } : {}), selector: { app: name }, ports: [{ port: 80, targetPort: 8080 }] },
  };
}

export function secret(name: string, data: Record<string, string>): Obj {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name }, stringData: data };
}

/** A multi-document YAML file of objects. */
export const yaml = (...objects: Obj[]): string => objects.map((o) => JSON.stringify(o, null, 1)).join('\n---\n');

// A real service has a readiness probe; with none, a container that crashes a moment after it
// starts is Ready for that moment, and kubectl calls such a rollout complete (kubectl#738).
const PROBE = { readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 } };
const CRASH_SCRIPT = 'console.error("fatal: cannot open /data/db.sqlite"); process.exit(3)';
/** Exits with code 3 at once: a crash loop. */
export const CRASH = { ...node(CRASH_SCRIPT), ...PROBE };
/** The same crash loop in a container without a readiness probe. */
export const CRASH_WITHOUT_PROBE = node(CRASH_SCRIPT);
/** Runs 5 s, then exits 1: restarts that look healthy for a while. */
export const EXIT_AFTER_5S = { ...node('console.log("up"); setTimeout(() => { console.error("worker lost its lease"); process.exit(1) }, 5000)'), ...PROBE };
/** Allocates (and touches) memory until the kernel's OOM killer ends it. */
export const EAT_MEMORY = {
  ...node('const a = []; for (;;) a.push(Buffer.alloc(8 << 20, 1))'),
  ...PROBE,
  resources: { limits: { memory: '96Mi' }, requests: { memory: '96Mi' } },
};

/** The stack's Node base image by digest (`SHIPLINE_NODE_IMAGE` names a tag in the plain registry). */
export async function pinnedNodeImage(image: string): Promise<{ repo: string; digest: string; ref: string }> {
  const repo = image.slice(0, image.lastIndexOf(':'));
  const tag = image.slice(image.lastIndexOf(':') + 1);
  const [registry, ...path] = repo.split('/');
  const res = await fetch(`http://${registry}/v2/${path.join('/')}/manifests/${tag}`, {
    method: 'HEAD',
    headers: {
      accept:
        'application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json',
    },
  });
  const digest = res.headers.get('docker-content-digest') ?? '';
  if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new Error(`no digest for ${image} (HTTP ${res.status})`);
  return { repo, digest, ref: `${repo}@${digest}` };
}

export interface KubectlVerdict {
  /** `failed`: kubectl itself said so (progress deadline); `timeout`: it gave up at --timeout without a verdict. */
  verdict: 'success' | 'failed' | 'timeout' | 'error';
  seconds: number;
  output: string;
}

/** `kubectl rollout status` as a user would run it: the oracle for verdicts. */
export async function kubectlRolloutStatus(namespace: string, target: string, timeoutS: number, env: NodeJS.ProcessEnv = process.env): Promise<KubectlVerdict> {
  const started = performance.now();
  const r = await run('kubectl', ['rollout', 'status', target, '-n', namespace, `--timeout=${timeoutS}s`], {
    allowFail: true,
    env,
    timeoutMs: (timeoutS + 60) * 1000,
  });
  const seconds = (performance.now() - started) / 1000;
  const output = `${r.stdout}${r.stderr}`.trim();
  if (r.code === 0) return { verdict: 'success', seconds, output };
  if (/exceeded its progress deadline/.test(output)) return { verdict: 'failed', seconds, output };
  if (/timed out waiting/.test(output)) return { verdict: 'timeout', seconds, output };
  return { verdict: 'error', seconds, output };
}
