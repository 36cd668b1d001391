import { type BakeVerdict, bakeGates, type DeliveryRecord, formatValue, type Gate, type Measurement } from '@shipline/gates';
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
  /** Rejects the canary / blue-green releases among the targets (k8s-deploy's own reject), verified. */
  reject(targets: Target[]): Promise<RejectResult[]>;
}

/** One progressive release rejected (or not) by `on-failure: reject`. */
export interface RejectResult {
  strategy: string;
  namespace: string;
  workload: string;
  rejected: boolean;
  message: string;
}

/** What rollout-verify pushes as delivery metrics (one group per service and environment). */
export type { DeliveryRecord };

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
  /** The gates to bake once the rollout is Current (metric and smoke gates); none: no bake. */
  gates?: Gate[];
  /** Pushes the delivery metrics (`pushgateway-url` given); its failure is a warning. */
  pushDelivery?: (record: DeliveryRecord) => Promise<void>;
  /** Wall clock, ms since the epoch (delivery timestamps, measurement times). Default Date.now. */
  clock?: () => number;
  /** Sleeps between measurements (tests make it instant). */
  sleep?: (ms: number) => Promise<void>;
}

export type Status = VerifyResult['status'] | 'inconclusive';
export type OutcomeReason = ReasonCode | 'GateFailed' | 'GateInconclusive';

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
  status: Status;
  reason: OutcomeReason;
  message: string;
  resources: ResourceVerdict[];
  /** Failed resources, and those not done yet when the verdict fell (a failure elsewhere, or the timeout). */
  problems: ResourceVerdict[];
  evidence: Evidence[];
  rollback: Rollback | undefined;
  /** The bake's verdict, when gates were defined and the rollout became Current. */
  gates: BakeVerdict | undefined;
  /** Releases rejected by `on-failure` / `on-inconclusive: reject`. */
  rejected: RejectResult[];
  /** Milliseconds from the reject's start to the verified reject. */
  rejectMs?: number;
  /** Whether the delivery metrics reached the pushgateway (undefined: not asked). */
  deliveryPushed?: boolean;
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
  if (deps.pushDelivery) outcome = await pushMetrics(inputs, deps, outcome);
  await github.status(id, verdictStatus(outcome, inputs['environment-url']?.href));
  return outcome;
}

/** The delivery record of a verdict: a restore (rollback or reject, verified) is `rolled_back`. */
export function deliveryRecord(inputs: Inputs, o: VerifyOutcome, namespace: string, nowMs: number, startedMs: number): DeliveryRecord {
  const restored = o.rollback?.verify?.status === 'success' || (o.rejected.length > 0 && o.rejected.every((r) => r.rejected));
  const verdict = o.status === 'success' ? 'success' : restored ? 'rolled_back' : 'failed';
  const first = o.resources[0]?.target.name ?? inputs.workloads[0]?.name ?? 'unknown';
  const record: DeliveryRecord = {
    // A canary or colour is a release of its service, not a service of its own.
    service: inputs.service ?? first.replace(/-(canary|blue|green)$/, ''),
    environment: inputs.environment ?? namespace,
    digest: inputs.digest ?? '',
    verdict,
    deployDurationSeconds: Math.max(0, (nowMs - (inputs['started-at'] ?? startedMs)) / 1000),
    timestampSeconds: nowMs / 1000,
  };
  if (verdict === 'rolled_back') {
    const ms = o.rollback?.verify?.status === 'success' ? o.rollback.restoreMs : (o.rejectMs ?? 0);
    record.timeToRestoreSeconds = ms / 1000;
  }
  return record;
}

async function pushMetrics(inputs: Inputs, deps: Deps, o: VerifyOutcome): Promise<VerifyOutcome> {
  const clock = deps.clock ?? Date.now;
  const now = clock();
  const record = deliveryRecord(inputs, o, deps.namespace, now, now - o.durationMs);
  try {
    await (deps.pushDelivery as NonNullable<Deps['pushDelivery']>)(record);
    deps.log.info(`delivery metrics pushed: ${record.service}/${record.environment} ${record.verdict} in ${record.deployDurationSeconds.toFixed(1)} s`);
    return { ...o, deliveryPushed: true };
  } catch (e) {
    // The verdict stands whatever happens to its bookkeeping.
    deps.log.warning(`delivery metrics not pushed: ${untrusted(messageOf(e), { oneLine: true, max: 400 })}`);
    return { ...o, deliveryPushed: false };
  }
}

/** The verdict as a deployment status: success retires the environment's earlier deployments. */
export function verdictStatus(o: VerifyOutcome, environmentUrl: string | undefined): DeploymentStatus {
  if (o.status === 'success') {
    const baked = o.gates ? `, gates ${o.gates.verdict}` : '';
    return { state: 'success', environmentUrl, autoInactive: true, description: `rollout verified: ${o.resources.length} object(s) ready${baked}` };
  }
  const first = o.problems[0];
  const gate = o.gates?.gates.find((g) => g.verdict !== 'passed');
  const cause = first ? `${first.target.name}: ${first.reason}` : gate ? `gate ${gate.gate} ${gate.verdict}` : o.reason;
  const more = o.problems.length > 1 ? ` (+${o.problems.length - 1} more)` : '';
  const back = o.rollback?.results.filter((r) => r.rolledBack) ?? [];
  const rollback = back.length
    ? `; rolled back ${back.map((r) => `${r.ref.split(/[ /]/).at(-1)} to ${r.to ?? 'the previous revision'}`).join(', ')}${o.rollback?.verify?.status === 'success' ? ' (restored)' : ' (not restored)'}`
    : '';
  const rejected = o.rejected.filter((r) => r.rejected);
  const reject = rejected.length ? `; rejected ${rejected.map((r) => `${r.workload} (${r.strategy})`).join(', ')}` : '';
  const what = o.status === 'timeout' ? 'timed out' : o.status === 'inconclusive' ? 'inconclusive' : 'failed';
  return { state: 'failure', environmentUrl, description: `${what}: ${cause}${more}${rollback}${reject}` };
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

  let status: Status = result.status;
  let reason: OutcomeReason = result.reason;
  let message = untrusted(result.message, { oneLine: true, max: 1000 });
  let gates: BakeVerdict | undefined;
  if (result.status === 'success' && deps.gates?.length) {
    gates = await deps.log.group(
      `Gates: ${deps.gates.map((g) => g.name).join(', ')}; bake ${inputs['bake-time'] / 1000} s, every ${inputs.interval / 1000} s`,
      () => bakeAll(inputs, deps),
    );
    if (gates.verdict === 'failed') {
      [status, reason, message] = ['failed', 'GateFailed', gates.reason];
    } else if (gates.verdict === 'inconclusive') {
      if (inputs['on-inconclusive'] === 'pass') {
        deps.log.warning(`gates inconclusive, passed as \`on-inconclusive: pass\` says: ${gates.reason}`);
        message = `${message}; gates inconclusive (passed by on-inconclusive): ${gates.reason}`;
      } else {
        [status, reason, message] = ['inconclusive', 'GateInconclusive', gates.reason];
      }
    } else {
      message = `${message}; gates passed`;
    }
  }

  // What to do about a bad verdict: reject a progressive release, or roll workloads back.
  const reject = (status === 'failed' && inputs['on-failure'] === 'reject') || (status === 'inconclusive' && inputs['on-inconclusive'] === 'reject');
  let rejected: RejectResult[] = [];
  let rejectMs: number | undefined;
  let rollback: Rollback | undefined;
  if (reject) {
    const t0 = deps.now();
    rejected = await deps.log.group('Reject', () =>
      rejectAll(
        resources.map((r) => r.target),
        deps,
      ),
    );
    rejectMs = Math.round(deps.now() - t0);
  } else if (inputs['rollback-on-failure'] && status === 'failed') {
    // The release failed as a whole: workloads not done when another one failed go back too; a
    // failed gate judged them all.
    const set = problems.length ? problems : resources.filter((r) => ROLLBACK_KINDS.has(r.target.kind));
    rollback = await deps.log.group('Rollback', () => rollBack(set, opts, deps));
  }

  const outcome: Omit<VerifyOutcome, 'diagnostics'> = {
    status,
    reason,
    message,
    resources,
    problems,
    evidence,
    rollback,
    gates,
    rejected,
    ...(rejectMs === undefined ? {} : { rejectMs }),
    durationMs: Math.round(deps.now() - started),
  };
  const diagnostics = deps.writeDiagnostics(`${JSON.stringify(outcome, null, 2)}\n`);
  deps.log.info(`verdict: ${outcome.status} (${outcome.reason}) in ${(outcome.durationMs / 1000).toFixed(1)} s; diagnostics in ${diagnostics}`);
  return { ...outcome, diagnostics };
}

async function bakeAll(inputs: Inputs, deps: Deps): Promise<BakeVerdict> {
  return bakeGates(deps.gates as Gate[], {
    bakeTimeMs: inputs['bake-time'],
    intervalMs: inputs.interval,
    failureLimit: inputs['failure-limit'],
    inconclusiveLimit: inputs['inconclusive-limit'],
    errorLimit: inputs['error-limit'],
    ...(deps.clock ? { now: deps.clock } : {}),
    ...(deps.sleep ? { sleep: deps.sleep } : {}),
    onMeasurement: (m) => deps.log.info(measurementLine(m)),
  });
}

/** `error-rate: fail 0.23 for {track="canary"} — 0.23 is not < 0.01`: one log line a measurement. */
export function measurementLine(m: Measurement): string {
  const values = m.values.map((v) => formatValue(v.value)).join(', ');
  const samples = m.samples === undefined ? '' : ` [${formatValue(m.samples)} samples]`;
  return untrusted(`${m.gate}: ${m.outcome}${values ? ` ${values}` : ''}${samples} — ${m.reason}`, { oneLine: true, max: 600 });
}

async function rejectAll(targets: Target[], deps: Deps): Promise<RejectResult[]> {
  try {
    const results = await deps.cluster.reject(targets);
    if (results.length === 0) deps.log.warning('on-failure: reject found no canary or blue-green release among the verified objects');
    for (const r of results) {
      const line = untrusted(`${r.strategy} ${r.namespace}/${r.workload}: ${r.rejected ? 'rejected' : 'NOT rejected'}: ${r.message}`, {
        oneLine: true,
        max: 500,
      });
      if (r.rejected) deps.log.info(line);
      else deps.log.error(line);
    }
    return results.map((r) => ({ ...r, message: untrusted(r.message, { oneLine: true, max: 500 }) }));
  } catch (e) {
    const message = untrusted(messageOf(e), { oneLine: true, max: 500 });
    deps.log.error(`reject failed: ${message}`);
    return [{ strategy: 'unknown', namespace: deps.namespace, workload: '', rejected: false, message }];
  }
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
