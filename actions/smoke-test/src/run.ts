import { readFileSync } from 'node:fs';
import type http from 'node:http';
import { type Log, pool, UserError, untrusted } from '@shipline/kit';
import { DeploymentRecorder, type DeploymentsClient } from '@shipline/kit/deployments';
import { redactUrl, urlSecrets } from '@shipline/kit/redact-url';
import type { Connection } from '@shipline/kube';
import { type Expectations, evaluate, percentile } from './expect.ts';
import { type HttpResponse, type Requester, RequestFailed, SENSITIVE_HEADER } from './http.ts';
import type { Inputs } from './inputs.ts';
import { formatProxyTarget, proxyUrl } from './targets.ts';

export interface TargetResult {
  target: string;
  passed: boolean;
  /** Status of the last response, or null when none came. */
  status: number | null;
  /** Latency of the last response in ms, or null. */
  latencyMs: number | null;
  attempts: number;
  /** Checks that passed, counting every one (not only the final streak). */
  successes: number;
  reason: string | null;
  durationMs: number;
}

export interface SmokeResult {
  passed: boolean;
  results: TargetResult[];
  p50Ms: number | undefined;
  p95Ms: number | undefined;
  durationMs: number;
}

/** How to reach the Kubernetes API server (kube's connection), plus what to mask and clean up. */
export interface ApiConnection extends Connection {
  /** Tokens, passwords and keys of the kubeconfig, to mask (the kubeconfig itself is masked whole). */
  secrets?: string[];
  /** Removes any temporary kubeconfig. */
  close(): void;
}

export interface KubeconfigChoice {
  content: string | undefined;
  path: string | undefined;
  context: string | undefined;
}

export interface Deps {
  request: Requester;
  /** Opens the kubeconfig for `service`/`pod` targets (throws UserError for a bad one). */
  connect?: (choice: KubeconfigChoice) => Promise<ApiConnection>;
  now(): number;
  sleep(ms: number): Promise<void>;
  log: Log;
  mask(secret: string): void;
  /** HTTPS_PROXY/HTTP_PROXY/NO_PROXY are read from here (the process environment in the action). */
  env?: Readonly<Record<string, string | undefined>>;
  /** GitHub Deployments (`github-token` and `deployment-id` given); undefined: nothing is posted. */
  deployments?: DeploymentsClient | undefined;
}

const PROXY_VARIABLES = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy'] as const;

function proxyFromEnv(env: Readonly<Record<string, string | undefined>> | undefined): http.ProxyEnv | undefined {
  if (!env) return undefined;
  const out: http.ProxyEnv = {};
  for (const n of PROXY_VARIABLES) if (env[n]) out[n] = env[n];
  return Object.keys(out).length ? out : undefined;
}

/** One thing to check: a URL as given, or a service/pod through the API server's proxy. */
interface Target {
  label: string;
  url: URL;
  headers: Record<string, string>;
  ca: Buffer | string | undefined;
  cert?: Buffer | string;
  key?: Buffer | string;
  servername?: string;
  insecure: boolean;
  proxied: boolean;
  proxyEnv: http.ProxyEnv | undefined;
}
const MAX_BODY_BYTES = 1 << 20;

export async function run(inputs: Inputs, deps: Deps): Promise<SmokeResult> {
  const started = deps.now();
  const deadlineAt = started + inputs.deadline;
  const headers: Record<string, string> = {};
  for (const h of inputs.headers) {
    if (SENSITIVE_HEADER.test(h.name)) deps.mask(h.value);
    headers[h.name] = h.value;
  }
  // Userinfo and token-like query values (`?token=`, `X-Amz-Signature=`) are credentials: masked
  // wherever a server echoes them, and replaced by *** wherever the URL itself is shown.
  for (const u of inputs.url) for (const s of urlSecrets(u)) deps.mask(s);
  const envProxy = proxyFromEnv(deps.env);
  for (const n of ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'] as const) for (const s of urlSecrets(envProxy?.[n] ?? '')) deps.mask(s);
  const ca = inputs['ca-file'] ? readCa(inputs['ca-file']) : undefined;
  const targets: Target[] = inputs.url.map((url) => ({
    label: redactUrl(url),
    url,
    headers,
    ca,
    insecure: inputs.insecure,
    proxied: false,
    proxyEnv: envProxy,
  }));
  let api: ApiConnection | undefined;
  const proxied = [...inputs.service, ...inputs.pod];
  if (proxied.length) {
    if (!deps.connect) throw new UserError('service and pod targets need cluster access, which this host does not offer', { input: 'service' });
    api = await deps.connect({ content: inputs.kubeconfig, path: inputs['kubeconfig-path'], context: inputs.context });
    for (const v of Object.values(api.headers)) deps.mask(v.replace(/^(Bearer|Basic) /, ''));
    for (const v of api.secrets ?? []) deps.mask(v);
    if (api.proxyUrl) for (const s of urlSecrets(api.proxyUrl)) deps.mask(s);
    // A cluster's own proxy-url wins over the environment and, as in kubectl, ignores NO_PROXY.
    const apiProxy: http.ProxyEnv | undefined = api.proxyUrl ? { HTTPS_PROXY: api.proxyUrl, HTTP_PROXY: api.proxyUrl } : envProxy;
    for (const t of proxied) {
      const target: Target = {
        label: formatProxyTarget(t),
        url: proxyUrl(api.server, t),
        headers: { ...headers, ...api.headers },
        ca: api.ca,
        insecure: !api.rejectUnauthorized,
        proxied: true,
        proxyEnv: apiProxy,
      };
      if (api.cert) target.cert = api.cert;
      if (api.key) target.key = api.key;
      if (api.servername) target.servername = api.servername;
      targets.push(target);
    }
  }
  let result: SmokeResult;
  try {
    result = await checkAll(inputs, deps, targets, started, deadlineAt);
  } finally {
    api?.close();
  }
  // Only a failure is news for the deployment: a pass leaves its status to rollout-verify.
  if (!result.passed) await new DeploymentRecorder(deps.deployments, deps.log).status(inputs['deployment-id'], failureStatus(result));
  return result;
}

/** The deployment status of a failed smoke test: the first failing target and why. */
function failureStatus(r: SmokeResult) {
  const bad = r.results.filter((t) => !t.passed);
  const first = bad[0];
  const more = bad.length > 1 ? ` (+${bad.length - 1} more)` : '';
  return { state: 'failure' as const, description: `smoke test failed: ${first ? `${first.target}: ${first.reason ?? 'failed'}` : 'no target passed'}${more}` };
}

async function checkAll(inputs: Inputs, deps: Deps, targets: Target[], started: number, deadlineAt: number): Promise<SmokeResult> {
  const ex: Expectations = {
    status: inputs['expect-status'],
    body: inputs['expect-body'],
    json: inputs['expect-json'],
    maxLatencyMs: inputs['max-latency'],
  };
  const latencies: number[] = [];

  const check = async (target: Target): Promise<TargetResult> => {
    const label = target.label;
    const t0 = deps.now();
    let attempts = 0;
    let failures = 0;
    let streak = 0;
    let successes = 0;
    let delay = inputs.interval;
    let last: HttpResponse | undefined;
    let reason = '';
    const result = (passed: boolean, why: string | null): TargetResult => ({
      target: label,
      passed,
      status: last?.status ?? null,
      latencyMs: last ? Math.round(last.latencyMs * 10) / 10 : null,
      attempts,
      successes,
      reason: why,
      durationMs: Math.round(deps.now() - t0),
    });
    for (;;) {
      const remaining = deadlineAt - deps.now();
      if (remaining <= 0) {
        const need = inputs['consecutive-successes'];
        const streakNote = need > 1 && streak > 0 ? ` (${streak} of ${need} consecutive successes)` : '';
        return result(false, `deadline ${inputs.deadline} ms passed after ${attempts} attempt(s)${streakNote}; last: ${reason || 'no attempt finished'}`);
      }
      attempts++;
      const timeoutMs = Math.min(inputs.timeout, remaining);
      let reasons: string[];
      try {
        last = await deps.request({
          url: target.url,
          method: inputs.method,
          headers: target.headers,
          body: inputs.body,
          timeoutMs,
          ca: target.ca,
          cert: target.cert,
          key: target.key,
          servername: target.servername,
          insecure: target.insecure,
          maxRedirects: inputs['follow-redirects'] ? inputs['max-redirects'] : 0,
          maxBodyBytes: MAX_BODY_BYTES,
          ...(target.proxyEnv ? { proxyEnv: target.proxyEnv } : {}),
        });
        reasons = evaluate(last, ex);
        if (target.proxied && reasons.length) {
          const why = apiServerReason(last);
          if (why) reasons.push(`API server: ${why}`);
        }
      } catch (e) {
        if (!(e instanceof RequestFailed)) throw e;
        // An attempt the deadline cut short says less than the full-length one before it.
        if (timeoutMs < inputs.timeout && e.code === 'ETIMEDOUT' && reason) continue;
        reasons = [e.message];
      }
      const took = last && reasons.length === 0 ? ` in ${Math.round(last.latencyMs)} ms` : '';
      if (reasons.length === 0) {
        streak++;
        successes++;
        latencies.push((last as HttpResponse).latencyMs);
        deps.log.info(`${label}: ${last?.status}${took} (attempt ${attempts}, ${streak}/${inputs['consecutive-successes']})`);
        if (streak >= inputs['consecutive-successes']) return result(true, null);
        delay = inputs.interval;
        await deps.sleep(Math.min(inputs.interval, Math.max(0, deadlineAt - deps.now())));
        continue;
      }
      streak = 0;
      failures++;
      reason = reasons.join('; ');
      deps.log.info(`${label}: ${reason} (attempt ${attempts})`);
      if (inputs.retries !== undefined && failures > inputs.retries) {
        return result(false, `${reason} (failed ${failures} time(s); retries: ${inputs.retries})`);
      }
      await deps.sleep(Math.min(delay, Math.max(0, deadlineAt - deps.now())));
      delay = Math.min(delay * inputs.backoff, inputs['max-interval']);
    }
  };

  const results = await deps.log.group(`Smoke test of ${targets.length} target(s)`, () => pool(targets, inputs.concurrency, check));
  const r1 = (n: number | undefined) => (n === undefined ? undefined : Math.round(n * 10) / 10);
  return {
    passed: results.every((r) => r.passed),
    results,
    p50Ms: r1(percentile(latencies, 50)),
    p95Ms: r1(percentile(latencies, 95)),
    durationMs: Math.round(deps.now() - started),
  };
}

/** The message of a Kubernetes Status answered by the API server itself (no endpoints, forbidden...). */
function apiServerReason(res: HttpResponse): string | undefined {
  if (res.status < 400) return undefined;
  try {
    const body = JSON.parse(res.body) as { kind?: string; message?: string };
    if (body.kind === 'Status' && typeof body.message === 'string') return untrusted(body.message, { max: 300, oneLine: true });
  } catch {
    // The target's own error page: the status rule already says enough.
  }
  return undefined;
}

function readCa(path: string): Buffer {
  const pem = readFileSync(path);
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new UserError(`${path} holds no PEM certificate`, { input: 'ca-file', hint: 'give a PEM file with -----BEGIN CERTIFICATE----- blocks' });
  }
  return pem;
}
