// k8s-deploy's logic: kubeconfig, manifests, images, provenance and pull secret, then the deployment
// and (with `wait`) the rollout's verdict. Pure over its Deps: the cluster, the manifest reader and
// the clock are handed in (action.ts builds the real ones; run.test.ts fakes them). Errors of the
// kube package pass through as they are; action.ts maps them onto inputs.
import { type Log, messageOf, UserError, untrusted } from '@shipline/kit';
import { DeploymentRecorder, type DeploymentsClient } from '@shipline/kit/deployments';
import { redactUrl } from '@shipline/kit/redact-url';
import {
  type AppliedResource,
  ApplyError,
  type ApplyFailure,
  type ApplyRemedy,
  addPullSecret,
  annotateProvenance,
  type DeployOptions,
  type DeployResult,
  dockerConfigSecret,
  type ImageChange,
  isWorkload,
  type LockOptions,
  type Manifest,
  type ProgressiveDeployOptions,
  type ProgressiveDeployResult,
  type PromoteResult,
  type Provenance,
  planImages,
  type RejectResult,
  type Release,
  type Strategy,
  secretValuesOf,
  substituteImages,
  type VerifyResult,
} from '@shipline/kube';
import { type Inputs, pullSecretRegistry } from './inputs.ts';

/** Which kubeconfig the inputs name; the session decides the rest (KUBECONFIG, in-cluster, ~/.kube/config). */
export interface KubeconfigChoice {
  content: string | undefined;
  path: string | undefined;
  context: string | undefined;
}

/** An opened kubeconfig: where it points, before any request. */
export interface ClusterSession {
  /** API server URL (may carry credentials in its userinfo: shown redacted). */
  server: string;
  context: string;
  /** The context's namespace, when it sets one. */
  namespace: string | undefined;
  /** How it was found, for the log. */
  origin: string;
  /** The kubeconfig's tokens, passwords and keys, masked before anything is logged. */
  secrets: string[];
  /** Authenticates (runs exec plugins) and opens the API client. */
  connect(options: { concurrency: number; requestTimeoutMs: number }): Promise<DeployCluster>;
  close(): void;
}

/** The API server, for the deployment and its verdict. */
export interface DeployCluster {
  /** Credentials the connection sends (header values, proxy userinfo): masked before any request. */
  secrets: string[];
  deploy(manifests: Manifest[], options: DeployOptions): Promise<DeployResult>;
  /** `strategy: canary | blue-green`, `action: deploy`. */
  deployProgressive(manifests: Manifest[], options: ProgressiveDeployOptions): Promise<ProgressiveDeployResult>;
  promote(request: ReleaseRequest & { scaleDownDelayMs: number; force: boolean }): Promise<PromoteResult[]>;
  reject(request: ReleaseRequest): Promise<RejectResult[]>;
  /** With `wait: true`: the status engine's verdict on the applied objects. */
  wait(resources: AppliedResource[], timeoutMs: number, log: Log): Promise<VerifyResult>;
  /** Waits for and takes the set's deploy lock; undefined when its namespace does not exist (yet). */
  lock(options: LockOptions): Promise<HeldLock | undefined>;
  close(): void;
}

/** The set's deploy lock while this run holds it. */
export interface HeldLock {
  /** Before prune: throws when another run took the lease over. */
  assertHeld(): Promise<void>;
  release(): Promise<void>;
}

/** Which releases a promote or reject acts on. */
export interface ReleaseRequest {
  strategy: Strategy;
  namespace: string;
  /** The manifests' Deployments; undefined: every release of the strategy in `namespace`. */
  apps: { namespace: string; name: string }[] | undefined;
  timeoutMs: number;
  /** After a switch back, how long the rejected colour keeps running. */
  drainMs: number;
  log: (line: string) => void;
  signal?: AbortSignal | undefined;
}

export interface Deps {
  log: Log;
  mask(secret: string): void;
  /** Opens the kubeconfig (throws KubeconfigError); nothing is sent yet. */
  openCluster(choice: KubeconfigChoice): ClusterSession;
  /** Reads files, directories, globs and kustomizations, with `${KEY}` variables replaced. */
  loadManifests(sources: readonly string[], vars: Readonly<Record<string, string>>): Promise<Manifest[]>;
  provenance: Provenance;
  now(): number;
  /** The runner cancelled the step: progressive waits (scale-down delay, verification) end. */
  signal?: AbortSignal | undefined;
  /** GitHub Deployments (`github-token` and `environment` given); undefined: none is recorded. */
  deployments?: DeploymentsClient | undefined;
  /** The deploy lock's holder identity (the run's URL, host and pid). */
  lockIdentity?: string | undefined;
}

/** Objects the API server refused; nothing was applied when `phase` is dry-run. */
export interface DeployFailure {
  /** The kube package's message (action.ts adds the hint its users act on). */
  message: string;
  /** The kube package's own hint, in its terms. */
  hint?: string | undefined;
  /** What fixes it, for a hint in the inputs' terms. */
  remedy?: ApplyRemedy | undefined;
  phase: string;
  failures: ApplyFailure[];
  applied: string[];
}

export interface DeployOutcome {
  dryRun: boolean;
  server: string;
  context: string;
  namespace: string;
  resources: AppliedResource[];
  pruned: AppliedResource[];
  images: ImageChange[];
  /** Set when the API server refused objects. */
  failure: DeployFailure | undefined;
  durationMs: number;
  /** With `wait: true`: the status engine's verdict on the applied objects. */
  wait?: VerifyResult;
  /** The GitHub deployment recorded for `environment`; undefined when off or it could not be recorded. */
  deploymentId?: number | undefined;
  strategy: Strategy | 'rolling';
  action: 'deploy' | 'promote' | 'reject';
  /** Canary / blue-green deploy: the releases started. */
  releases?: Release[];
  /** Canary / blue-green deploy: objects of the manifests that existed and were left as they are. */
  kept?: string[];
  promoted?: PromoteResult[];
  rejected?: RejectResult[];
}

const DEFAULT_SCALE_DOWN_DELAY_MS = 30_000;

export async function run(inputs: Inputs, deps: Deps): Promise<DeployOutcome> {
  const started = deps.now();
  if (inputs['registry-username'] && inputs['registry-password']) {
    deps.mask(Buffer.from(`${inputs['registry-username']}:${inputs['registry-password']}`).toString('base64'));
  }
  // Everything local first (kubeconfig, manifests, images), so bad input fails before any API call.
  const session = deps.openCluster({ content: inputs.kubeconfig, path: inputs['kubeconfig-path'], context: inputs.context });
  try {
    for (const s of session.secrets) deps.mask(s);
    const namespace = inputs.namespace ?? session.namespace ?? 'default';
    deps.log.info(`cluster ${redactUrl(session.server)} (context ${session.context}, from ${session.origin}); default namespace ${namespace}`);
    if (inputs.action !== 'deploy') return await release(inputs, deps, session, namespace, started);
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
    addPullSecrets(inputs, manifests, namespace, deps);

    const cluster = await session.connect({ concurrency: inputs.concurrency, requestTimeoutMs: inputs['request-timeout'] });
    for (const s of cluster.secrets) deps.mask(s);
    const base = { dryRun: inputs['dry-run'], server: redactUrl(session.server), context: session.context, namespace, images };
    // Recorded before applying, so the Environments page shows the attempt even when it fails.
    const github = new DeploymentRecorder(inputs['dry-run'] ? undefined : deps.deployments, deps.log);
    const deploymentId =
      inputs.environment === undefined
        ? undefined
        : await github.create({
            environment: inputs.environment,
            description: `k8s-deploy: ${objects.length} object(s) to ${session.context}/${namespace}`,
            payload: { namespace, context: session.context, images: images.map((c) => c.to) },
          });
    const record = (state: 'in_progress' | 'success' | 'failure', description: string) =>
      github.status(deploymentId, {
        state,
        description,
        environmentUrl: inputs['environment-url']?.href,
        autoInactive: state === 'success' ? true : undefined,
      });
    // Only a run that prunes can delete another run's objects: that one waits for the set's lock.
    const lock =
      inputs.prune && inputs.lock && !inputs['dry-run'] && inputs.set !== undefined
        ? await cluster.lock({
            namespace,
            set: inputs.set,
            identity: deps.lockIdentity ?? `pid ${process.pid}`,
            timeoutMs: inputs['lock-timeout'],
            createNamespace: inputs['create-namespace'],
            log: deps.log,
            signal: deps.signal,
          })
        : undefined;
    try {
      const options: DeployOptions = {
        force: inputs['force-conflicts'],
        defaultNamespace: namespace,
        createNamespace: inputs['create-namespace'],
        dryRun: inputs['dry-run'],
        set: inputs.set,
        prune: inputs.prune,
        concurrency: inputs.concurrency,
        log: deps.log,
        ...(lock ? { beforePrune: () => lock.assertHeld() } : {}),
      };
      const strategy = inputs.strategy;
      const title = `${inputs['dry-run'] ? 'Server-side dry-run (nothing is changed)' : 'Server-side apply'}${strategy === 'rolling' ? '' : `, ${strategy}`}`;
      const result: DeployResult & Partial<ProgressiveDeployResult> = await deps.log.group(title, () =>
        strategy === 'rolling'
          ? cluster.deploy(manifests, options)
          : cluster.deployProgressive(manifests, {
              ...options,
              strategy,
              canaryReplicas: inputs['canary-replicas'],
              runUrl: deps.provenance.runUrl,
              ...(deps.signal ? { signal: deps.signal } : {}),
            }),
      );
      // Prune is done: the next run of the set may go on while this one waits for its rollout.
      await lock?.release();
      for (const r of result.releases ?? [])
        deps.log.info(untrusted(`${r.strategy} ${r.namespace}/${r.app}: ${r.workload}${r.preview ? `, preview Service ${r.preview}` : ''}`, { oneLine: true }));
      logResult(result.resources, result.pruned, result.dryRun, deps.log);
      await record('in_progress', `applied: ${countsOf(result.resources, result.pruned)}`);
      const wait = inputs.wait && !result.dryRun ? await cluster.wait(result.resources, inputs.timeout, deps.log) : undefined;
      if (wait) await record(wait.status === 'success' ? 'success' : 'failure', waitDescription(wait));
      return {
        ...base,
        resources: result.resources,
        pruned: result.pruned,
        failure: undefined,
        wait,
        deploymentId,
        durationMs: Math.round(deps.now() - started),
        strategy: inputs.strategy,
        action: 'deploy',
        ...(result.releases ? { releases: result.releases, kept: result.kept ?? [] } : {}),
      };
    } catch (e) {
      if (!(e instanceof ApplyError)) {
        await record('failure', `k8s-deploy failed: ${messageOf(e)}`);
        throw e;
      }
      deps.log.info(`refused by the API server (${e.phase}):`);
      for (const f of e.failures) deps.log.info(`  ${untrusted(`${f.object}: [${f.reason}] ${f.message}`, { oneLine: true })}`);
      const first = e.failures[0];
      await record('failure', `refused by the API server (${e.phase})${first ? `: ${first.object}: ${first.reason}` : ''}`);
      return {
        ...base,
        resources: [],
        pruned: [],
        failure: { message: e.message, hint: e.hint, remedy: e.remedy, phase: e.phase, failures: e.failures, applied: e.applied },
        deploymentId,
        durationMs: Math.round(deps.now() - started),
        strategy: inputs.strategy,
        action: 'deploy',
      };
    } finally {
      await lock?.release();
      cluster.close();
    }
  } finally {
    session.close();
  }
}

/**
 * `action: promote | reject`: the releases of the manifests' Deployments (or, without manifests,
 * every release of the strategy in the namespace), found from the live objects alone.
 */
async function release(inputs: Inputs, deps: Deps, session: ClusterSession, namespace: string, started: number): Promise<DeployOutcome> {
  const strategy = inputs.strategy as Strategy;
  let apps: { namespace: string; name: string }[] | undefined;
  if (inputs.manifests.length) {
    const manifests = await deps.log.group('Load manifests', () => load(inputs, deps));
    apps = manifests
      .filter((m) => m.object.kind === 'Deployment')
      .map((m) => ({ namespace: m.object.metadata.namespace ?? namespace, name: m.object.metadata.name as string }));
    if (apps.length === 0)
      throw new UserError('the manifests hold no Deployment', {
        input: 'manifests',
        hint: `${inputs.action} acts on the releases of the manifests' Deployments; or drop \`manifests\` to act on every release in the namespace`,
      });
  } else deps.log.info(`no manifests: every ${strategy} release in namespace ${namespace}`);
  const cluster = await session.connect({ concurrency: inputs.concurrency, requestTimeoutMs: inputs['request-timeout'] });
  for (const s of cluster.secrets) deps.mask(s);
  try {
    const request: ReleaseRequest = {
      strategy,
      namespace,
      apps,
      timeoutMs: inputs.timeout,
      drainMs: inputs['scale-down-delay'] ?? DEFAULT_SCALE_DOWN_DELAY_MS,
      // Names and messages come from the cluster's objects: shown inert.
      log: (line) => deps.log.info(untrusted(line, { oneLine: true, max: 600 })),
      signal: deps.signal,
    };
    const base: Omit<DeployOutcome, 'durationMs'> = {
      dryRun: false,
      server: redactUrl(session.server),
      context: session.context,
      namespace,
      resources: [],
      pruned: [],
      images: [],
      failure: undefined,
      strategy,
      action: inputs.action,
    };
    if (inputs.action === 'promote') {
      const promoted = await deps.log.group(`Promote (${strategy})`, () =>
        cluster.promote({ ...request, scaleDownDelayMs: inputs['scale-down-delay'] ?? DEFAULT_SCALE_DOWN_DELAY_MS, force: inputs['force-conflicts'] }),
      );
      for (const p of promoted) request.log(`${p.namespace}/${p.app}: ${p.message}`);
      return { ...base, promoted, durationMs: Math.round(deps.now() - started) };
    }
    const rejected = await deps.log.group(`Reject (${strategy})`, () => cluster.reject(request));
    if (rejected.length === 0) deps.log.info(`no ${strategy} release found to reject: nothing to do`);
    return { ...base, rejected, durationMs: Math.round(deps.now() - started) };
  } finally {
    cluster.close();
  }
}

async function load(inputs: Inputs, deps: Deps): Promise<Manifest[]> {
  const manifests = await deps.loadManifests(inputs.manifests, Object.fromEntries(inputs.vars));
  if (manifests.length === 0)
    throw new UserError('the manifests hold no objects', { input: 'manifests', hint: 'point at files with at least one apiVersion/kind document' });
  const files = new Set(manifests.map((m) => m.source.replace(/:\d+.*$/, '')));
  deps.log.info(`${manifests.length} object(s) from ${files.size} source(s)`);
  return manifests;
}

function substitute(inputs: Inputs, manifests: Manifest[], log: Log): ImageChange[] {
  if (!inputs.images?.length) return [];
  const pins = planImages(inputs.images);
  const { changes, unused } = substituteImages(
    manifests.map((m) => m.object),
    pins,
  );
  // Names and images come from the manifests (files a pull request may change): shown inert.
  for (const c of changes) log.info(untrusted(`image ${c.object} ${c.container}: ${c.from} → ${c.to}`, { oneLine: true }));
  for (const u of unused) log.warning(`image ${u} matches no container in the manifests (its repository appears in none)`);
  return changes;
}

/** `image-pull-secret`: a docker-registry Secret in every namespace with workloads, referenced by them. */
function addPullSecrets(inputs: Inputs, manifests: Manifest[], namespace: string, deps: Deps): void {
  const registry = pullSecretRegistry(inputs);
  const secretName = inputs['image-pull-secret'];
  if (!registry || !secretName) return;
  const objects = manifests.map((m) => m.object);
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

/** `2 configured, 1 unchanged`. */
function countsOf(resources: AppliedResource[], pruned: AppliedResource[]): string {
  const counts = new Map<string, number>();
  for (const r of [...resources, ...pruned]) counts.set(r.action, (counts.get(r.action) ?? 0) + 1);
  return [...counts].map(([a, n]) => `${n} ${a}`).join(', ') || 'nothing to do';
}

/** The `wait: true` verdict in a status description: the first object that failed and why. */
function waitDescription(v: VerifyResult): string {
  if (v.status === 'success') return `rollout complete: ${v.resources.length} object(s) ready`;
  const bad = v.resources.find((r) => r.state === 'failed') ?? v.resources.find((r) => r.state === 'in-progress');
  const what = v.status === 'timeout' ? 'rollout timed out' : 'rollout failed';
  return bad ? `${what}: ${bad.target.name}: ${bad.reason}` : `${what}: ${v.reason}`;
}

function logResult(resources: AppliedResource[], pruned: AppliedResource[], dryRun: boolean, log: Log): void {
  const prefix = dryRun ? 'dry-run, would be: ' : '';
  log.info(`${prefix}${countsOf(resources, pruned)}`);
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
