import { type Log, messageOf, UserError, untrusted } from '@shipline/kit';
import { DeploymentRecorder, type DeploymentStatus, type DeploymentsClient } from '@shipline/kit/deployments';
import {
  ApiError,
  type Evidence,
  KubeError,
  Reason,
  type ReasonCode,
  type ResourceVerdict,
  type RollbackResult,
  type Target,
  type TargetSpec,
  UnreachableError,
  type VerifyOptions,
  type VerifyResult,
} from '@shipline/kube';
import type { Inputs } from './inputs.ts';

/** The status engine bound to one cluster: what run() needs from Kubernetes, nothing more. */
export interface Cluster {
  resolve(spec: TargetSpec): Promise<Target[]>;
  verify(targets: Target[], opts: VerifyOptions): Promise<VerifyResult>;
  evidence(verdict: ResourceVerdict, opts: { logLines: number }): Promise<Evidence>;
  rollback(target: Target): Promise<RollbackResult>;
}

export interface Deps {
  cluster: Cluster;
  log: Log;
  /** Default namespace for `workloads` and `selector`: the input, else the context's, else `default`. */
  namespace: string;
  /** Writes the diagnostics JSON (0600, in the runner's temp dir) and returns its path. */
  writeDiagnostics(json: string): string;
  now(): number;
  signal?: AbortSignal;
  /** GitHub Deployments (`github-token` and `deployment-id` given); undefined: nothing is posted. */
  deployments?: DeploymentsClient | undefined;
}

/** A workload whose pods this rollout changes: the only kinds with a revision to go back to. */
const ROLLBACK_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);

export interface Rollback {
  results: RollbackResult[];
  /** The engine's verdict on the rolled-back workloads; undefined when nothing was rolled back. */
  verify: VerifyResult | undefined;
  /** From the first rollback request to the verdict on the restored revision. */
  restoreMs: number;
}

export interface VerifyOutcome {
  status: VerifyResult['status'];
  reason: ReasonCode;
  message: string;
  resources: ResourceVerdict[];
  /** Failed resources, and those not done yet when the verdict fell (a failure elsewhere, or the timeout). */
  problems: ResourceVerdict[];
  evidence: Evidence[];
  rollback: Rollback | undefined;
  diagnostics: string;
  durationMs: number;
}

export async function run(inputs: Inputs, deps: Deps): Promise<VerifyOutcome> {
  const github = new DeploymentRecorder(deps.deployments, deps.log);
  const id = inputs['deployment-id'];
  let outcome: VerifyOutcome;
  try {
    outcome = await verify(inputs, deps);
  } catch (e) {
    // No verdict (the cluster unreachable, a bad target): the deployment's outcome is unknown.
    await github.status(id, { state: 'error', description: `rollout-verify could not verify: ${messageOf(e)}` });
    throw e;
  }
  await github.status(id, verdictStatus(outcome, inputs['environment-url']?.href));
  return outcome;
}

/** The verdict as a deployment status: success retires the environment's earlier deployments. */
export function verdictStatus(o: VerifyOutcome, environmentUrl: string | undefined): DeploymentStatus {
  if (o.status === 'success') {
    return { state: 'success', environmentUrl, autoInactive: true, description: `rollout verified: ${o.resources.length} object(s) ready` };
  }
  const first = o.problems[0];
  const cause = first ? `${first.target.name}: ${first.reason}` : o.reason;
  const more = o.problems.length > 1 ? ` (+${o.problems.length - 1} more)` : '';
  const back = o.rollback?.results.filter((r) => r.rolledBack) ?? [];
  const rollback = back.length
    ? `; rolled back ${back.map((r) => `${r.ref.split(/[ /]/).at(-1)} to ${r.to ?? 'the previous revision'}`).join(', ')}${o.rollback?.verify?.status === 'success' ? ' (restored)' : ' (not restored)'}`
    : '';
  return { state: 'failure', environmentUrl, description: `${o.status === 'timeout' ? 'timed out' : 'failed'}: ${cause}${more}${rollback}` };
}

async function verify(inputs: Inputs, deps: Deps): Promise<VerifyOutcome> {
  const started = deps.now();
  const targets = await deps.log.group('Targets', () => targetsOf(inputs, deps));
  const opts: VerifyOptions = {
    timeoutMs: inputs.timeout,
    imagePullGraceMs: inputs['image-pull-grace'],
    configGraceMs: inputs['config-grace'],
    unschedulableGraceMs: inputs['unschedulable-grace'],
    maxRestarts: inputs['max-restarts'],
    waitForLoadBalancer: inputs['wait-for-load-balancer'],
    onProgress: (line) => deps.log.info(untrusted(line, { oneLine: true, max: 400 })),
    signal: deps.signal,
  };
  const result = targets.length
    ? await deps.log.group(`Verify ${targets.length} object(s), timeout ${Math.round(inputs.timeout / 1000)} s`, () => deps.cluster.verify(targets, opts))
    : nothingToVerify();
  const resources = result.resources.map(clean);
  for (const r of resources) deps.log.info(`${r.ref}: ${r.state} (${r.reason}) ${r.message}`);

  const problems = resources.filter((r) => r.state === 'failed' || (result.status !== 'success' && r.state === 'in-progress'));
  const evidence = problems.length ? await deps.log.group('Evidence', () => collect(problems, inputs['log-lines'], deps)) : [];

  let rollback: Rollback | undefined;
  if (inputs['rollback-on-failure'] && result.status === 'failed') {
    // The release failed as a whole: workloads not done when another one failed go back too.
    rollback = await deps.log.group('Rollback', () => rollBack(problems, opts, deps));
  }

  const outcome: Omit<VerifyOutcome, 'diagnostics'> = {
    status: result.status,
    reason: result.reason,
    message: untrusted(result.message, { oneLine: true, max: 1000 }),
    resources,
    problems,
    evidence,
    rollback,
    durationMs: Math.round(deps.now() - started),
  };
  const diagnostics = deps.writeDiagnostics(`${JSON.stringify(outcome, null, 2)}\n`);
  deps.log.info(`verdict: ${outcome.status} (${outcome.reason}) in ${(outcome.durationMs / 1000).toFixed(1)} s; diagnostics in ${diagnostics}`);
  return { ...outcome, diagnostics };
}

async function targetsOf(inputs: Inputs, deps: Deps): Promise<Target[]> {
  let spec: TargetSpec;
  if (inputs.resources !== undefined) spec = { resources: inputs.resources };
  else if (inputs.workloads.length) spec = { workloads: inputs.workloads, namespace: deps.namespace };
  else spec = { selector: inputs.selector as string, namespace: deps.namespace };
  let targets: Target[];
  try {
    targets = await deps.cluster.resolve(spec);
  } catch (e) {
    // The engine's own errors about what to verify (an unknown kind, a selector matching nothing) are the input's.
    if (e instanceof KubeError && !(e instanceof ApiError) && !(e instanceof UnreachableError)) {
      throw new UserError(e.message, { input: 'resources' in spec ? 'resources' : 'workloads' in spec ? 'workloads' : 'selector', hint: e.hint });
    }
    throw e;
  }
  if (targets.length === 0 && 'selector' in spec) {
    throw new UserError(`selector ${JSON.stringify(spec.selector)} matches no workload in namespace ${spec.namespace}`, {
      input: 'selector',
      hint: 'check the labels of the workloads (kubectl get deploy,sts,ds,job --show-labels) and `namespace`',
    });
  }
  if (targets.length === 0) deps.log.warning('`resources` lists no objects: nothing to verify');
  else deps.log.info(`${targets.length} object(s): ${targets.map(refOf).join(', ')}`);
  return targets;
}

export function refOf(t: Target): string {
  return `${t.kind} ${t.namespace ? `${t.namespace}/` : ''}${t.name}`;
}

function nothingToVerify(): VerifyResult {
  return { status: 'success', reason: Reason.Current, message: 'no objects to verify', resources: [], durationMs: 0 };
}

/** Verdict text comes from the cluster (conditions, container messages): masked and inert once, here. */
function clean(v: ResourceVerdict): ResourceVerdict {
  const out: ResourceVerdict = { ...v, message: untrusted(v.message, { oneLine: true, max: 1000 }) };
  if (v.pods) out.pods = v.pods.map((p) => ({ ...p, message: untrusted(p.message, { oneLine: true, max: 1000 }) }));
  return out;
}

/** Evidence is best effort: a failure to read events or logs must never hide the verdict itself. */
async function collect(problems: ResourceVerdict[], logLines: number, deps: Deps): Promise<Evidence[]> {
  return Promise.all(
    problems.map(async (v) => {
      try {
        const e = await deps.cluster.evidence(v, { logLines });
        deps.log.info(`${v.ref}: ${e.pods.length} pod(s), ${e.events.length} event(s), ${e.logs.length} log(s) collected`);
        return e;
      } catch (err) {
        deps.log.warning(`${v.ref}: could not collect evidence: ${untrusted(err instanceof Error ? err.message : err, { oneLine: true, max: 300 })}`);
        return { ref: v.ref, reason: v.reason, message: v.message, pods: v.pods ?? [], events: [], logs: [] };
      }
    }),
  );
}

async function rollBack(failed: ResourceVerdict[], opts: VerifyOptions, deps: Deps): Promise<Rollback> {
  const started = deps.now();
  const results: RollbackResult[] = [];
  for (const v of failed) {
    if (!ROLLBACK_KINDS.has(v.target.kind)) {
      results.push({ ref: v.ref, from: null, to: null, rolledBack: false, message: `a ${v.target.kind} has no earlier revision to go back to` });
      continue;
    }
    try {
      const r = await deps.cluster.rollback(v.target);
      results.push({ ...r, message: untrusted(r.message, { oneLine: true, max: 500 }) });
    } catch (err) {
      // One workload that cannot be rolled back must not stop the others from being restored.
      results.push({
        ref: v.ref,
        from: null,
        to: null,
        rolledBack: false,
        message: untrusted(err instanceof Error ? err.message : err, { oneLine: true, max: 500 }),
      });
    }
    const r = results[results.length - 1] as RollbackResult;
    deps.log.info(`${r.ref}: ${r.rolledBack ? `rolled back ${r.from ?? '?'} → ${r.to ?? '?'}` : 'not rolled back'}: ${r.message}`);
  }
  const back = failed.filter((v) => results.find((r) => r.ref === v.ref)?.rolledBack);
  if (back.length === 0) return { results, verify: undefined, restoreMs: Math.round(deps.now() - started) };
  // The rolled-back objects have a new generation and revision: verify what is live now, not what the deploy wrote.
  const targets = back.map(({ target: { apiVersion, kind, namespace, name, uid } }) => ({ apiVersion, kind, namespace, name, uid }));
  const verify = await deps.cluster.verify(targets, opts);
  const restoreMs = Math.round(deps.now() - started);
  deps.log.info(
    `rollback ${verify.status === 'success' ? 'restored' : 'did not restore'} the previous revision in ${(restoreMs / 1000).toFixed(1)} s (${verify.reason})`,
  );
  return {
    results,
    verify: { ...verify, resources: verify.resources.map(clean), message: untrusted(verify.message, { oneLine: true, max: 1000 }) },
    restoreMs,
  };
}
