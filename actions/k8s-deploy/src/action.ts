// k8s-deploy's adapter: the only file that reads the environment, builds the real clients (the
// kubeconfig session and API client, kubectl for kustomizations) and maps the kube package's
// errors onto this action's inputs and hints. The logic is run.ts; outputs and summary are here.
import {
  type ActionDefinition,
  ActionFailure,
  type Log,
  type RunContext,
  registerCancelTask,
  Summary,
  tlsVerificationOff,
  UserError,
  untrusted,
} from '@shipline/kit';
import type { ContextLike, DeploymentsClient } from '@shipline/kit/deployments';
import { urlSecrets } from '@shipline/kit/redact-url';
import type { AppliedResource, ApplyRemedy, PromoteResult, Provenance } from '@shipline/kube';
import { openDeployments } from '../../shared/src/deployment-inputs.ts';
import { kubeconfigInputFor } from '../../shared/src/kubeconfig-inputs.ts';
import { type Inputs, schema, validate } from './inputs.ts';
import { Kubectl } from './kubectl.ts';
import type { ClusterSession, DeployFailure, DeployOutcome, KubeconfigChoice } from './run.ts';
import { waitFailure, waitSummary } from './wait-report.ts';

type Kube = typeof import('@shipline/kube');

export const k8sDeploy: ActionDefinition<typeof schema, DeployOutcome> = {
  name: 'k8s-deploy',
  schema,
  validate,
  run: (inputs: Inputs, ctx) => runWithCluster(inputs, ctx),
  outputs: (r) => ({
    resources: JSON.stringify([...r.resources.map(output), ...(r.promoted ?? []).map(promotedOutput)]),
    pruned: JSON.stringify(r.pruned.map(output)),
    namespace: r.namespace,
    changed: String([...r.resources, ...r.pruned].some((x) => x.action !== 'unchanged')),
    'deployment-id': r.deploymentId === undefined ? '' : String(r.deploymentId),
    strategy: r.strategy,
    canary: (r.releases ?? [])
      .filter((x) => x.strategy === 'canary')
      .map((x) => `${x.namespace}/${x.workload}`)
      .join('\n'),
    'preview-service': (r.releases ?? [])
      .filter((x) => x.preview)
      .map((x) => `${x.namespace}/${x.preview}${x.previewPort ? `:${x.previewPort}` : ''}`)
      .join('\n'),
    releases: JSON.stringify(r.releases ?? r.promoted ?? r.rejected ?? []),
    'release-id': (r.releases ?? [])
      .map((x) => x.release)
      .filter(Boolean)
      .join('\n'),
    // When the deploy began: rollout-verify's delivery metrics count the deploy's duration from it.
    'started-at': new Date(Date.now() - r.durationMs).toISOString(),
  }),
  summary,
  failure: (r) => (r.failure ? failureText(r.failure) : waitFailure(r.wait)),
};

/** The `resources` output: what the next action (rollout-verify) needs, nothing more. */
function output(r: AppliedResource) {
  const o: Record<string, unknown> = {
    apiVersion: r.apiVersion,
    kind: r.kind,
    namespace: r.namespace,
    name: r.name,
    uid: r.uid,
    generation: r.generation,
    action: r.action,
  };
  if (r.revision) o.revision = r.revision;
  return o;
}

/** A promoted stable workload, for rollout-verify after a promote. */
function promotedOutput(p: PromoteResult) {
  return { apiVersion: 'apps/v1', kind: 'Deployment', namespace: p.namespace, name: p.workload, uid: null, generation: null, action: 'configured' };
}

/** A table cell of the cluster's (or the manifests') text: masked, one line, inert. */
const cellOf = (text: unknown, max = 500) => untrusted(text, { max, oneLine: true });

function summary(r: DeployOutcome): Summary {
  const s = new Summary();
  const title = r.failure
    ? 'k8s-deploy failed ❌'
    : r.action === 'promote'
      ? `k8s-deploy promoted (${r.strategy}) ✅`
      : r.action === 'reject'
        ? `k8s-deploy rejected (${r.strategy}) ✅`
        : r.dryRun
          ? 'k8s-deploy dry-run (nothing changed)'
          : 'k8s-deploy applied ✅';
  s.heading(title).paragraph(
    `Cluster \`${cellOf(r.server)}\` (context \`${cellOf(r.context)}\`), default namespace \`${cellOf(r.namespace)}\`, ${(r.durationMs / 1000).toFixed(1)} s.`,
  );
  if (r.failure) {
    s.paragraph(
      r.failure.applied.length
        ? `Refused in ${r.failure.phase}; ${r.failure.applied.length} object(s) had been applied before.`
        : `Refused in ${r.failure.phase}; nothing was applied.`,
    );
    s.table(
      ['Object', 'Reason', 'Message'],
      r.failure.failures.map((f) => [cellOf(f.object), cellOf(f.reason), cellOf(f.message, 1000)]),
    );
  }
  const rows = [...r.resources, ...r.pruned].map((x) => [
    cellOf(x.kind),
    cellOf(x.namespace ?? ''),
    cellOf(x.name),
    r.dryRun && x.action !== 'unchanged' ? `would be ${x.action}` : x.action,
    x.revision ? cellOf(`${x.revision.before ?? '—'} → ${x.revision.after ?? (r.dryRun ? '?' : '—')}`) : '',
  ]);
  if (rows.length) s.table(['Kind', 'Namespace', 'Name', 'Result', 'Revision'], rows);
  progressiveSummary(s, r);
  if (r.wait) waitSummary(s, r.wait);
  if (r.images.length)
    s.heading('Images', 4).table(
      ['Object', 'Container', 'From', 'To'],
      r.images.map((c) => [cellOf(c.object), cellOf(c.container), cellOf(c.from), cellOf(c.to)]),
    );
  if (r.dryRun) {
    // Secret values are already `(redacted, N bytes, …)` in the diff; the rest is the cluster's text.
    const diffs = r.resources.filter((x) => x.diff).map((x) => untrusted(`--- ${x.kind} ${x.namespace ? `${x.namespace}/` : ''}${x.name}\n${x.diff}`));
    if (diffs.length) s.details(`Diff of ${diffs.length} object(s)`, diffs.join('\n'));
  }
  return s;
}

function progressiveSummary(s: Summary, r: DeployOutcome): void {
  if (r.releases?.length) {
    s.heading(`Releases (${r.strategy})`, 4).table(
      ['Namespace', 'Stable', 'New', 'Preview'],
      r.releases.map((x) => [cellOf(x.namespace), cellOf(x.app), cellOf(x.workload), cellOf(x.preview ?? '')]),
    );
    s.paragraph(
      `Promote or reject with \`action: promote\` / \`action: reject\` and \`strategy: ${r.strategy}\` (any later run: the state is on the objects).`,
    );
  }
  if (r.kept?.length) s.details(`${r.kept.length} existing object(s) left as they are`, r.kept.map((k) => cellOf(k)).join('\n'));
  const done = r.promoted ?? r.rejected;
  if (done)
    s.heading(r.promoted ? 'Promoted' : 'Rejected', 4).table(
      ['Namespace', 'Workload', 'Result'],
      done.length ? done.map((x) => [cellOf(x.namespace), cellOf('app' in x ? x.app : x.workload), cellOf(x.message, 1000)]) : [['', '', 'nothing to do']],
    );
}

function provenanceFromEnv(env: NodeJS.ProcessEnv): Provenance {
  if (env.GITHUB_REPOSITORY) {
    const server = env.GITHUB_SERVER_URL ?? 'https://github.com';
    return {
      repository: env.GITHUB_REPOSITORY,
      commit: env.GITHUB_SHA,
      runUrl: env.GITHUB_RUN_ID ? `${server}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}` : undefined,
    };
  }
  if (env.CI_PROJECT_PATH) return { repository: env.CI_PROJECT_PATH, commit: env.CI_COMMIT_SHA, runUrl: env.CI_JOB_URL };
  return {};
}

/**
 * The real dependencies of run.ts. The Kubernetes client (and run.ts, which imports it) is loaded
 * after the inputs are valid, so bad input fails fast.
 */
async function runWithCluster(inputs: Inputs, ctx: RunContext): Promise<DeployOutcome> {
  // First, so a run environment that cannot name a deployment fails before any cluster work.
  const deployments = await deploymentsFor(inputs, ctx.log);
  const kube = await import('@shipline/kube');
  const { run } = await import('./run.ts');
  const env = process.env;
  // A proxy URL's userinfo goes to the proxy as Proxy-Authorization: a credential like the others.
  for (const name of ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy']) for (const s of urlSecrets(env[name] ?? '')) ctx.mask(s);
  const kubectl = Kubectl.fromPath(env.PATH ?? '');
  const cwd = process.cwd();
  try {
    return await run(inputs, {
      log: ctx.log,
      mask: ctx.mask,
      openCluster: (choice) => openCluster(kube, choice, env),
      loadManifests: (sources, vars) => kube.loadManifests(sources, { cwd, vars, kustomize: kubectl && ((dir) => kubectl.kustomize({ dir })) }),
      provenance: provenanceFromEnv(env),
      now: () => performance.now(),
      signal: ctx.signal,
      deployments,
      lockIdentity: kube.holderIdentity(env),
    });
  } catch (e) {
    throw toUserError(e, inputs, kube);
  }
}

/** A GitHub deployment is recorded for a real apply to a named environment, with a token. */
export function deploymentsFor(inputs: Inputs, log: Log, context?: ContextLike): Promise<DeploymentsClient | undefined> {
  if (inputs.environment === undefined || inputs['dry-run'] || inputs.action !== 'deploy') {
    log.debug(`GitHub Deployments: off (${inputs['dry-run'] ? 'dry-run' : inputs.action !== 'deploy' ? `action ${inputs.action}` : 'no `environment`'})`);
    return Promise.resolve(undefined);
  }
  return openDeployments(inputs['github-token'], log, context);
}

/** The kubeconfig the inputs name (else KUBECONFIG, in-cluster, ~/.kube/config), and its API client. */
function openCluster(kube: Kube, choice: KubeconfigChoice, env: NodeJS.ProcessEnv): ClusterSession {
  const access = kube.openKubeconfig({ ...choice, env });
  return {
    server: access.server,
    context: access.context,
    namespace: access.namespace,
    origin: access.origin,
    secrets: kube.secretsOf(access),
    connect: async ({ concurrency, requestTimeoutMs }) => {
      const conn = await kube.connectionOf(access);
      if (!conn.rejectUnauthorized) tlsVerificationOff(`the API server ${conn.server.host}`, 'kubeconfig `insecure-skip-tls-verify: true`');
      const { waitForRollout } = await import('./wait.ts');
      const release = await import('./release.ts');
      const client = new kube.KubeClient(conn, { maxSockets: concurrency, timeoutMs: requestTimeoutMs, proxyEnv: env });
      return {
        secrets: [...Object.values(conn.headers).map((v) => v.replace(/^(Bearer|Basic) /, '')), ...(conn.proxyUrl ? urlSecrets(conn.proxyUrl) : [])],
        deploy: (manifests, options) => kube.deploy(client, manifests, options),
        deployProgressive: (manifests, options) => kube.deployProgressive(client, manifests, options),
        promote: (request) => release.promote(client, request),
        reject: (request) => release.reject(client, request),
        wait: (resources, timeoutMs, log) => waitForRollout(client, resources, timeoutMs, log),
        lock: async (options) => {
          const held = await kube.DeployLock.acquire(client, options);
          if (!held) return undefined;
          // A cancelled job gives the lock back at once rather than making the next run wait for expiry.
          const unregister = registerCancelTask(() => held.release());
          return {
            assertHeld: () => held.assertHeld(),
            release: async () => {
              unregister();
              await held.release();
            },
          };
        },
        close: () => client.close(),
      };
    },
    close: () => access.close(),
  };
}

/** Maps the kube package's typed errors onto the input a user would change. */
export function toUserError(e: unknown, inputs: Inputs, kube: Kube): unknown {
  if (e instanceof kube.ManifestSourceError || e instanceof kube.ManifestError) return new UserError(e.message, { input: 'manifests', hint: e.hint });
  if (e instanceof kube.ImageRefError) return new UserError(e.message, { input: 'images', hint: e.hint });
  if (e instanceof kube.KubeconfigError) return new UserError(e.message, kubeconfigInputFor(e, inputs));
  if (e instanceof kube.ProgressiveError) return progressiveError(e);
  // The holder's identity is the lease's text (any run could have written it): shown inert.
  if (e instanceof kube.LockTimeoutError)
    return new UserError(untrusted(e.message, { oneLine: true }), {
      input: 'lock-timeout',
      hint: 'another deploy of this set is running; raise `lock-timeout` to wait longer, or run the two deploys one after the other',
    });
  if (e instanceof kube.LockLostError) return new ActionFailure(`${untrusted(e.message, { oneLine: true })} — ${e.hint}`);
  if (e instanceof kube.KubeError) return new UserError(e.message, { hint: e.hint });
  return e;
}

/**
 * A progressive step that cannot start is the user's to fix (the input to change named); one that
 * ran and found the workload unhealthy is the action's failure.
 */
function progressiveError(e: InstanceType<Kube['ProgressiveError']>): Error {
  const input: Partial<Record<typeof e.problem, string>> = {
    'no-stable': 'strategy',
    'unsupported-kind': 'manifests',
    'no-service': 'strategy',
    'service-mismatch': 'strategy',
    'stable-not-ready': 'strategy',
    'nothing-to-promote': 'action',
  };
  const name = input[e.problem];
  if (name) return new UserError(e.message, { input: name, hint: e.hint });
  return new ActionFailure(e.hint ? `${e.message} — ${e.hint}` : e.message);
}

// Refusals this action's users fix through one of its inputs: the hint names it.
const APPLY_HINTS: Partial<Record<ApplyRemedy, string>> = {
  force: 'another field manager owns these fields; set `force-conflicts: true` to take them over',
  'missing-namespace': 'create the namespace first or set `create-namespace: true`',
};

/** The step's failure message: the refusal and what to do about it. */
export function failureText(f: DeployFailure): string {
  const hint = (f.remedy && APPLY_HINTS[f.remedy]) ?? f.hint;
  return hint ? `${f.message} — ${hint}` : f.message;
}
