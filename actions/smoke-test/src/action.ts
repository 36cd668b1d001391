import { setTimeout as sleep } from 'node:timers/promises';
import { type ActionDefinition, Summary, tlsVerificationOff, UserError, untrusted } from '@shipline/kit';
import { openForDeployment } from '../../shared/src/deployment-inputs.ts';
import { kubeconfigInputFor } from '../../shared/src/kubeconfig-inputs.ts';
import { request } from './http.ts';
import { type Inputs, schema, validate } from './inputs.ts';
import { type ApiConnection, type KubeconfigChoice, run, type SmokeResult } from './run.ts';

export const smokeTest: ActionDefinition<typeof schema, SmokeResult> = {
  name: 'smoke-test',
  schema,
  validate,
  run: async (inputs: Inputs, ctx) => {
    if (inputs.insecure) tlsVerificationOff(httpsOrigins(inputs.url) || 'every https target', 'input `insecure: true`');
    const deployments = await openForDeployment(inputs['github-token'], inputs['deployment-id'], ctx.log);
    return run(inputs, {
      request,
      connect,
      now: () => performance.now(),
      sleep: (ms) => sleep(ms),
      log: ctx.log,
      mask: ctx.mask,
      env: process.env,
      deployments,
    });
  },
  outputs: (r) => ({
    passed: String(r.passed),
    results: JSON.stringify(r.results),
    'p50-ms': r.p50Ms === undefined ? '' : String(r.p50Ms),
    'p95-ms': r.p95Ms === undefined ? '' : String(r.p95Ms),
  }),
  summary: (r) => {
    const s = new Summary().heading(`Smoke test ${r.passed ? 'passed ✅' : 'failed ❌'}`);
    s.table(
      ['Target', 'Result', 'Status', 'Latency', 'Attempts', 'Reason'],
      r.results.map((t) => [
        t.target,
        t.passed ? 'pass' : 'FAIL',
        t.status === null ? '—' : String(t.status),
        t.latencyMs === null ? '—' : `${Math.round(t.latencyMs)} ms`,
        String(t.attempts),
        // Reasons quote response bodies and API messages: made safe where they were built, and again here.
        untrusted(t.reason ?? '', { oneLine: true, max: 1000 }),
      ]),
    );
    const p = r.p50Ms === undefined ? 'no successful checks' : `p50 ${r.p50Ms} ms, p95 ${r.p95Ms} ms over successful checks`;
    return s.paragraph(`${p}; took ${(r.durationMs / 1000).toFixed(1)} s.`);
  },
  failure: (r) => {
    if (r.passed) return undefined;
    const bad = r.results.filter((t) => !t.passed);
    return `smoke test failed for ${bad.length} of ${r.results.length} target(s): ${bad.map((t) => `${t.target}: ${t.reason}`).join(' | ')}`;
  },
};

/** The https origins among `urls` (never their userinfo), for the TLS warning. */
export function httpsOrigins(urls: URL[]): string {
  return [...new Set(urls.filter((u) => u.protocol === 'https:').map((u) => u.origin))].join(', ');
}

/**
 * Cluster access for service/pod targets. The Kubernetes client is imported only here, so URL-only
 * runs do not pay for loading it.
 */
async function connect(choice: KubeconfigChoice): Promise<ApiConnection> {
  // The kubeconfig entry alone: the package's index would bring manifest parsing into this bundle.
  const kube = await import('@shipline/kube/access');
  const given = { kubeconfig: choice.content, 'kubeconfig-path': choice.path, context: choice.context };
  const toUserError = (e: unknown) => {
    if (e instanceof kube.KubeconfigError) return new UserError(e.message, kubeconfigInputFor(e, given));
    if (e instanceof kube.KubeError) return new UserError(e.message, { hint: e.hint });
    return e;
  };
  let access: ReturnType<typeof kube.openKubeconfig>;
  try {
    access = kube.openKubeconfig({ ...choice, env: process.env });
  } catch (e) {
    throw toUserError(e);
  }
  try {
    const conn = await kube.connectionOf(access);
    if (!conn.rejectUnauthorized) tlsVerificationOff(`the API server ${conn.server.host}`, 'kubeconfig `insecure-skip-tls-verify: true`');
    return { ...conn, secrets: kube.secretsOf(access), close: () => access.close() };
  } catch (e) {
    access.close();
    throw toUserError(e);
  }
}
