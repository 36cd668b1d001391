import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pushDelivery } from '@shipline/gates';
import { type ActionDefinition, type RunContext, tlsVerificationOff, UserError, untrusted } from '@shipline/kit';
import { redactUrl, urlSecrets } from '@shipline/kit/redact-url';
import { openForDeployment } from '../../shared/src/deployment-inputs.ts';
import { kubeconfigInputFor } from '../../shared/src/kubeconfig-inputs.ts';
import { request } from '../../smoke-test/src/http.ts';
import { gatesOf, hasGates } from './gates.ts';
import { type Inputs, schema, validate } from './inputs.ts';
import { annotation, failedResources, failureMessage, gatesOutput, rolledBack, summary } from './report.ts';
import type { Cluster, DeliveryRecord, VerifyOutcome } from './run.ts';

export const rolloutVerify: ActionDefinition<typeof schema, VerifyOutcome> = {
  name: 'rollout-verify',
  schema,
  validate,
  run: (inputs, ctx) => runWithCluster(inputs, ctx),
  outputs: (r) => ({
    status: r.status,
    reason: r.reason,
    'failed-resources': JSON.stringify(failedResources(r)),
    diagnostics: r.diagnostics,
    'rolled-back': JSON.stringify(rolledBack(r)),
    gates: r.gates ? JSON.stringify(gatesOutput(r)) : '',
    'gate-verdict': r.gates?.verdict ?? '',
    rejected: JSON.stringify(r.rejected),
    'duration-ms': String(r.durationMs),
  }),
  summary,
  // The host turns this into the error annotation of the first problem; the others get theirs in run.
  failure: (r) => failureMessage(r),
};

/**
 * Builds the real Kubernetes client from the same kubeconfig inputs as k8s-deploy (content, path,
 * context, then KUBECONFIG, in-cluster, ~/.kube/config), runs, and closes everything. The client
 * library is loaded only after the inputs are valid, so bad input fails fast.
 */
async function runWithCluster(inputs: Inputs, ctx: RunContext): Promise<VerifyOutcome> {
  // First, so a run environment that cannot name the deployment fails before any cluster work.
  const deployments = await openForDeployment(inputs['github-token'], inputs['deployment-id'], ctx.log);
  const kube = await import('@shipline/kube');
  const { run } = await import('./run.ts');
  const tempDir = process.env.RUNNER_TEMP || tmpdir();
  // A proxy URL's userinfo goes to the proxy as Proxy-Authorization: a credential like the others.
  for (const name of ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy']) for (const s of urlSecrets(process.env[name] ?? '')) ctx.mask(s);
  let access: ReturnType<typeof kube.openKubeconfig>;
  try {
    access = kube.openKubeconfig({ content: inputs.kubeconfig, path: inputs['kubeconfig-path'], context: inputs.context, env: process.env });
  } catch (e) {
    throw toUserError(e, inputs, kube);
  }
  try {
    for (const s of kube.secretsOf(access)) ctx.mask(s);
    const namespace = inputs.namespace ?? access.namespace ?? 'default';
    ctx.log.info(`cluster ${redactUrl(access.server)} (context ${access.context}, from ${access.origin})${inputs.resources ? '' : `; namespace ${namespace}`}`);
    let conn: Awaited<ReturnType<typeof kube.connectionOf>>;
    try {
      conn = await kube.connectionOf(access);
    } catch (e) {
      throw toUserError(e, inputs, kube);
    }
    if (!conn.rejectUnauthorized) tlsVerificationOff(`the API server ${conn.server.host}`, 'kubeconfig `insecure-skip-tls-verify: true`');
    if (hasGates(inputs) && inputs['smoke-insecure']) {
      const https = [...new Set(inputs['smoke-url'].filter((u) => u.protocol === 'https:').map((u) => u.origin))].join(', ');
      tlsVerificationOff(https || "the smoke gate's https targets", 'input `smoke-insecure: true`');
    }
    for (const v of Object.values(conn.headers)) ctx.mask(v.replace(/^(Bearer|Basic) /, ''));
    if (conn.proxyUrl) for (const s of urlSecrets(conn.proxyUrl)) ctx.mask(s);
    // Watches hold a connection each (one per kind and namespace); leave room for reads beside them.
    const client = new kube.KubeClient(conn, { maxSockets: 32, proxyEnv: process.env });
    const cluster: Cluster = {
      resolve: (spec) => kube.resolveTargets(client, spec),
      verify: (targets, opts) => kube.verifyRollout(client, targets, opts),
      evidence: (verdict, opts) => kube.collectEvidence(client, verdict, opts),
      rollback: (target) => kube.rollbackWorkload(client, target),
      reject: (targets) =>
        kube.rejectReleases(client, targets, {
          timeoutMs: inputs.timeout,
          log: (line) => ctx.log.info(untrusted(line, { oneLine: true, max: 400 })),
          signal: ctx.signal,
        }),
    };
    const gates = hasGates(inputs)
      ? gatesOf(
          inputs,
          {
            request,
            connect: async () => ({ ...conn, secrets: [], close: () => {} }),
            now: () => performance.now(),
            sleep: (ms) => sleep(ms),
            log: ctx.log,
            mask: ctx.mask,
            env: process.env,
          },
          { mask: ctx.mask },
        )
      : undefined;
    const pushgateway = inputs['pushgateway-url'];
    if (pushgateway?.password) ctx.mask(decodeURIComponent(pushgateway.password));
    try {
      const outcome = await run(inputs, {
        cluster,
        log: ctx.log,
        namespace,
        writeDiagnostics: (json) => writeDiagnostics(tempDir, json),
        now: () => performance.now(),
        // A cancelled job stops the watches at once.
        signal: ctx.signal,
        deployments,
        ...(gates ? { gates } : {}),
        ...(pushgateway ? { pushDelivery: (record: DeliveryRecord) => pushDelivery(pushgateway, record) } : {}),
      });
      for (const p of outcome.problems.slice(1)) ctx.log.error(annotation(p));
      return outcome;
    } catch (e) {
      throw toUserError(e, inputs, kube);
    } finally {
      client.close();
    }
  } finally {
    access.close();
  }
}

/** The evidence file: private to the job's user (it holds pod logs), kept for later steps to upload. */
function writeDiagnostics(tempDir: string, json: string): string {
  const dir = mkdtempSync(join(tempDir, 'shipline-rollout-verify-'));
  const path = join(dir, 'diagnostics.json');
  writeFileSync(path, json, { mode: 0o600 });
  return path;
}

/** Maps the kube package's typed errors onto the input a user would change. */
function toUserError(e: unknown, inputs: Inputs, kube: typeof import('@shipline/kube')): unknown {
  if (e instanceof kube.KubeconfigError) return new UserError(e.message, kubeconfigInputFor(e, inputs));
  if (e instanceof kube.ApiError && e.status === 400 && inputs.selector !== undefined) {
    return new UserError(e.message, { input: 'selector', hint: 'the API server refused the label selector; use kubectl syntax: app=web,tier!=db' });
  }
  if (e instanceof kube.UnreachableError || e instanceof kube.KubeError) return new UserError(e.message, { hint: e.hint });
  return e;
}
