// rollout-verify's run() posting its verdict to the GitHub deployment k8s-deploy recorded, on a
// loopback fake of GitHub's REST API (it checks every request against the documented contract):
// success with auto_inactive and the environment URL, failure naming the cause and the rollback,
// error when there is no verdict, nothing without a token. The cluster is scripted as in
// src/run.test.ts.
import { MemoryHost, parseInputs, UserError } from '@shipline/kit';
import { type ContextLike, GitHubDeployments, runFromContext } from '@shipline/kit/deployments';
import type { ResourceVerdict, RollbackResult, Target, VerifyResult } from '@shipline/kube';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FakeGitHub, fakeGitHub } from '../../../test/support/fake-github.ts';
import { openForDeployment } from '../../shared/src/deployment-inputs.ts';
import { schema, validate } from '../src/inputs.ts';
import { type Cluster, type Deps, run } from '../src/run.ts';

const TOKEN = 'ghs_rolloutVerifyToken0123456789abcdef';
let gh: FakeGitHub;
let id: number;

const context = (): ContextLike => gh.context({ sha: 'b'.repeat(40), ref: 'refs/heads/main', runId: 31, runAttempt: 3 });
const LOG_URL = 'https://github.example/acme/shop/actions/runs/31/attempts/3';

beforeEach(async () => {
  gh = await fakeGitHub({ token: TOKEN });
  const k8sDeployStep = await GitHubDeployments.open(TOKEN, runFromContext(context()));
  id = await k8sDeployStep.create({ environment: 'staging' });
  await k8sDeployStep.status(id, { state: 'in_progress' });
  gh.calls.length = 0;
});
afterEach(async () => {
  expect(gh.violations).toEqual([]);
  await gh.close();
});

const orders: Target = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  namespace: 'shop',
  name: 'order-service',
  uid: 'u1',
  generation: 3,
  revision: { before: '2', after: '3' },
};
const verdict = (state: ResourceVerdict['state'], reason: string): ResourceVerdict =>
  ({ target: orders, ref: 'Deployment shop/order-service', state, reason, message: `${reason} message`, durationMs: 100 }) as ResourceVerdict;
const result = (status: VerifyResult['status'], v: ResourceVerdict): VerifyResult =>
  ({ status, reason: v.reason, message: `${status} message`, resources: [v], durationMs: 100 }) as VerifyResult;

async function verify(raw: Record<string, string>, verdicts: VerifyResult[], fail?: Error) {
  const host = new MemoryHost();
  const inputs = parseInputs(schema, (n) => ({ workloads: 'deploy/order-service', 'log-lines': '0', ...raw })[n]);
  validate(inputs);
  const cluster: Cluster = {
    resolve: async () => {
      if (fail) throw fail;
      return [orders];
    },
    verify: async () => verdicts.shift() as VerifyResult,
    evidence: async (v) => ({ ref: v.ref, reason: v.reason, message: v.message, pods: [], events: [], logs: [] }),
    rollback: async (t): Promise<RollbackResult> => ({ ref: `${t.kind} ${t.namespace}/${t.name}`, from: '3', to: '2', rolledBack: true, message: 'restored' }),
    reject: async () => [],
  };
  const deps: Deps = {
    cluster,
    log: host,
    namespace: 'shop',
    writeDiagnostics: () => '/tmp/diagnostics.json',
    now: () => 0,
    deployments: await openForDeployment(inputs['github-token'], inputs['deployment-id'], host, context()),
  };
  return { outcome: await run(inputs, deps), host };
}

const report = () => ({ 'github-token': TOKEN, 'deployment-id': String(id), 'environment-url': 'https://staging.shop.example/' });

describe('rollout-verify posts its verdict to the GitHub deployment', () => {
  it('in_progress → success, retiring earlier deployments, with the environment URL', async () => {
    const { outcome } = await verify(report(), [result('success', verdict('current', 'Current'))]);
    expect(outcome.status).toBe('success');
    expect(gh.statesOf(id)).toEqual(['in_progress', 'success']);
    expect(gh.calls[0]?.body).toEqual({
      state: 'success',
      log_url: LOG_URL,
      environment_url: 'https://staging.shop.example/',
      auto_inactive: true,
      description: 'rollout verified: 1 object(s) ready',
    });
  });

  it('in_progress → failure naming the workload and its cause', async () => {
    await verify(report(), [result('failed', verdict('failed', 'CrashLoopBackOff'))]);
    expect(gh.statesOf(id)).toEqual(['in_progress', 'failure']);
    expect(gh.calls[0]?.body).toMatchObject({ state: 'failure', log_url: LOG_URL, description: 'failed: order-service: CrashLoopBackOff' });
  });

  it('says when a rollback ran and whether it restored the previous revision', async () => {
    await verify({ ...report(), 'rollback-on-failure': 'true' }, [
      result('failed', verdict('failed', 'CrashLoopBackOff')),
      result('success', verdict('current', 'Current')),
    ]);
    expect(gh.calls[0]?.body).toMatchObject({
      state: 'failure',
      description: 'failed: order-service: CrashLoopBackOff; rolled back order-service to 2 (restored)',
    });
  });

  it('posts error when there is no verdict, and lets the error through', async () => {
    await expect(verify(report(), [], new UserError('no such workload', { input: 'workloads' }))).rejects.toThrow('no such workload');
    expect(gh.statesOf(id)).toEqual(['in_progress', 'error']);
    expect(gh.calls[0]?.body).toMatchObject({ state: 'error', description: 'rollout-verify could not verify: no such workload' });
  });

  it('is off without a token: no request', async () => {
    const { outcome } = await verify({ 'deployment-id': String(id) }, [result('failed', verdict('failed', 'ImagePullBackOff'))]);
    expect(outcome.status).toBe('failed');
    expect(gh.calls).toEqual([]);
  });

  it('a 500 then success is retried; a refusal is one warning and the verdict stands', async () => {
    gh.fail({ status: 500 }, 1);
    await verify(report(), [result('success', verdict('current', 'Current'))]);
    expect(gh.calls.map((c) => c.status)).toEqual([500, 201]);
    expect(gh.statesOf(id)).toEqual(['in_progress', 'success']);

    gh.calls.length = 0;
    gh.fail({ status: 403, body: { message: 'Resource not accessible by integration' } }, 1);
    const { outcome, host } = await verify(report(), [result('success', verdict('current', 'Current'))]);
    expect(outcome.status).toBe('success');
    expect(host.log.filter((l) => /GitHub deployment not recorded: .*HTTP 403.*permissions: deployments: write/.test(l))).toHaveLength(1);
  });
});
