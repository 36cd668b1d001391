import { type Log, UserError, untrusted } from '@shipline/kit';
import { redactUrl, urlSecrets } from '@shipline/kit/redact-url';
import {
  type AppliedResource,
  ApplyError,
  addPullSecret,
  annotateProvenance,
  type ClusterAccess,
  connectionOf,
  deploy,
  dockerConfigSecret,
  type ImageChange,
  ImageRefError,
  isWorkload,
  KubeClient,
  KubeconfigError,
  KubeError,
  loadManifests,
  type Manifest,
  ManifestError,
  ManifestSourceError,
  openKubeconfig,
  type Provenance,
  planImages,
  secretsOf,
  secretValuesOf,
  substituteImages,
  UnreachableError,
  type VerifyResult,
} from '@shipline/kube';
import { type Inputs, pullSecretRegistry } from './inputs.ts';
import { waitForRollout } from './wait.ts';

export interface Deps {
  log: Log;
  mask(secret: string): void;
  /** KUBECONFIG, HOME and in-cluster variables are read from here, never from process.env. */
  env: Readonly<Record<string, string | undefined>>;
  /** Where a kubeconfig given as content is written (0600) for the run's length. */
  tempDir: string;
  cwd: string;
  /** Renders a kustomization directory; undefined when kubectl is not available. */
  kustomize: ((dir: string) => Promise<string>) | undefined;
  provenance: Provenance;
  now(): number;
}

export interface DeployOutcome {
  dryRun: boolean;
  server: string;
  context: string;
  namespace: string;
  resources: AppliedResource[];
  pruned: AppliedResource[];
  images: ImageChange[];
  /** Set when the API server refused objects; nothing was applied when `phase` is dry-run. */
  failure: { message: string; phase: string; failures: ApplyError['failures']; applied: string[] } | undefined;
  durationMs: number;
  /** With `wait: true`: the status engine's verdict on the applied objects. */
  wait?: VerifyResult;
}

export async function run(inputs: Inputs, deps: Deps): Promise<DeployOutcome> {
  const started = deps.now();
  if (inputs['registry-username'] && inputs['registry-password']) {
    deps.mask(Buffer.from(`${inputs['registry-username']}:${inputs['registry-password']}`).toString('base64'));
  }
  // A proxy URL's userinfo goes to the proxy as Proxy-Authorization: a credential like the others.
  for (const name of ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy']) for (const s of urlSecrets(deps.env[name] ?? '')) deps.mask(s);
  // Everything local first (kubeconfig, manifests, images), so bad input fails before any API call.
  const access = openAccess(inputs, deps);
  try {
    for (const s of secretsOf(access)) deps.mask(s);
    const namespace = inputs.namespace ?? access.namespace ?? 'default';
    deps.log.info(`cluster ${redactUrl(access.server)} (context ${access.context}, from ${access.origin}); default namespace ${namespace}`);
    const manifests = await deps.log.group('Load manifests', () => load(inputs, deps));
    const objects = manifests.map((m) => m.object);
    // Secret manifests' values are masked before anything is sent or printed (an admission
    // webhook's message, say, may quote them); dry-run diffs never show them in the first place.
    for (const o of objects) for (const s of secretValuesOf(o)) deps.mask(s);
    const images = substitute(inputs, manifests, deps.log);
    if (inputs.provenance) {
      const n = annotateProvenance(objects, deps.provenance);
      if (n) deps.log.info(`provenance annotations on ${n} workload(s)`);
    }
    const registry = pullSecretRegistry(inputs);
    if (registry && inputs['image-pull-secret']) {
      const secretName = inputs['image-pull-secret'];
      const namespaces = [...new Set(objects.filter((o) => isWorkload(o.kind) || o.kind === 'Pod').map((o) => o.metadata.namespace ?? namespace))];
      for (const ns of namespaces) {
        addPullSecret(objects, secretName, ns);
        const pullSecret = dockerConfigSecret(secretName, ns, registry, inputs['registry-username'] as string, inputs['registry-password'] as string);
        // `.dockerconfigjson` is one line of JSON (and its base64): each masked as a value of its own.
        for (const s of secretValuesOf(pullSecret)) deps.mask(s);
        manifests.push({ source: 'image-pull-secret', object: pullSecret });
      }
      deps.log.info(`image pull secret ${secretName} for ${registry} in ${namespaces.join(', ') || '(no workloads)'}`);
    }

    let conn: Awaited<ReturnType<typeof connectionOf>>;
    try {
      conn = await connectionOf(access);
    } catch (e) {
      throw toUserError(e, inputs);
    }
    for (const v of Object.values(conn.headers)) deps.mask(v.replace(/^(Bearer|Basic) /, ''));
    if (conn.proxyUrl) for (const s of urlSecrets(conn.proxyUrl)) deps.mask(s);
    const client = new KubeClient(conn, { maxSockets: inputs.concurrency, timeoutMs: inputs['request-timeout'], proxyEnv: deps.env });
    const base = { dryRun: inputs['dry-run'], server: redactUrl(access.server), context: access.context, namespace, images };
    try {
      const result = await deps.log.group(inputs['dry-run'] ? 'Server-side dry-run (nothing is changed)' : 'Server-side apply', () =>
        deploy(client, manifests, {
          force: inputs['force-conflicts'],
          defaultNamespace: namespace,
          createNamespace: inputs['create-namespace'],
          dryRun: inputs['dry-run'],
          set: inputs.set,
          prune: inputs.prune,
          concurrency: inputs.concurrency,
          log: deps.log,
        }),
      );
      logResult(result.resources, result.pruned, result.dryRun, deps.log);
      const wait = inputs.wait && !result.dryRun ? await waitForRollout(client, result.resources, inputs.timeout, deps.log) : undefined;
      return { ...base, resources: result.resources, pruned: result.pruned, failure: undefined, wait, durationMs: Math.round(deps.now() - started) };
    } catch (e) {
      if (e instanceof ApplyError) {
        deps.log.info(`refused by the API server (${e.phase}):`);
        for (const f of e.failures) deps.log.info(`  ${untrusted(`${f.object}: [${f.reason}] ${f.message}`, { oneLine: true })}`);
        const message = e.hint ? `${e.message} — ${e.hint}` : e.message;
        return {
          ...base,
          resources: [],
          pruned: [],
          failure: { message, phase: e.phase, failures: e.failures, applied: e.applied },
          durationMs: Math.round(deps.now() - started),
        };
      }
      throw toUserError(e, inputs);
    } finally {
      client.close();
    }
  } finally {
    access.close();
  }
}

function openAccess(inputs: Inputs, deps: Deps): ClusterAccess {
  try {
    return openKubeconfig({ content: inputs.kubeconfig, path: inputs['kubeconfig-path'], context: inputs.context, tempDir: deps.tempDir, env: deps.env });
  } catch (e) {
    throw toUserError(e, inputs);
  }
}

async function load(inputs: Inputs, deps: Deps): Promise<Manifest[]> {
  let manifests: Manifest[];
  try {
    manifests = await loadManifests(inputs.manifests, { cwd: deps.cwd, vars: Object.fromEntries(inputs.vars), kustomize: deps.kustomize });
  } catch (e) {
    throw toUserError(e, inputs);
  }
  if (manifests.length === 0)
    throw new UserError('the manifests hold no objects', { input: 'manifests', hint: 'point at files with at least one apiVersion/kind document' });
  const files = new Set(manifests.map((m) => m.source.replace(/:\d+.*$/, '')));
  deps.log.info(`${manifests.length} object(s) from ${files.size} source(s)`);
  return manifests;
}

function substitute(inputs: Inputs, manifests: Manifest[], log: Log): ImageChange[] {
  if (!inputs.images?.length) return [];
  let pins: ReturnType<typeof planImages>;
  try {
    pins = planImages(inputs.images);
  } catch (e) {
    throw toUserError(e, inputs);
  }
  const { changes, unused } = substituteImages(
    manifests.map((m) => m.object),
    pins,
  );
  // Names and images come from the manifests (files a pull request may change): shown inert.
  for (const c of changes) log.info(untrusted(`image ${c.object} ${c.container}: ${c.from} → ${c.to}`, { oneLine: true }));
  for (const u of unused) log.warning(`image ${u} matches no container in the manifests (its repository appears in none)`);
  return changes;
}

/** Maps the kube package's typed errors onto the input a user would change. */
export function toUserError(e: unknown, inputs: Inputs): unknown {
  if (e instanceof ManifestSourceError || e instanceof ManifestError) return new UserError(e.message, { input: 'manifests', hint: e.hint });
  if (e instanceof ImageRefError) return new UserError(e.message, { input: 'images', hint: e.hint });
  if (e instanceof KubeconfigError) {
    const source = inputs.kubeconfig !== undefined ? 'kubeconfig' : inputs['kubeconfig-path'] !== undefined ? 'kubeconfig-path' : undefined;
    const input = inputs.context !== undefined && e.message.startsWith(`context ${JSON.stringify(inputs.context)}`) ? 'context' : source;
    return new UserError(e.message, { input, hint: e.hint });
  }
  if (e instanceof UnreachableError || e instanceof KubeError) return new UserError(e.message, { hint: e.hint });
  return e;
}

function logResult(resources: AppliedResource[], pruned: AppliedResource[], dryRun: boolean, log: Log): void {
  const counts = new Map<string, number>();
  for (const r of [...resources, ...pruned]) counts.set(r.action, (counts.get(r.action) ?? 0) + 1);
  const prefix = dryRun ? 'dry-run, would be: ' : '';
  log.info(`${prefix}${[...counts].map(([a, n]) => `${n} ${a}`).join(', ') || 'nothing to do'}`);
  if (dryRun) {
    for (const r of resources) {
      if (r.action === 'unchanged') continue;
      log.info(
        untrusted(`--- ${r.kind} ${r.namespace ? `${r.namespace}/` : ''}${r.name}`, { oneLine: true }) +
          ` (${r.action}${r.validated === false ? ', not validated: its namespace or CRD is created by this run' : ''})`,
      );
      // Live objects are the cluster's text: any field of one could otherwise issue a runner command.
      if (r.diff) log.info(untrusted(r.diff));
    }
    for (const p of pruned) log.info(`--- ${p.kind} ${p.namespace ? `${p.namespace}/` : ''}${p.name} (would be pruned)`);
  }
}
