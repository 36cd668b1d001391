// k8s-deploy's run() recording a GitHub deployment on a loopback fake of GitHub's REST API (which
// checks every request against the documented contract): created before the apply, in_progress
// after it, failure when refused, the wait verdict with `wait: true`; nothing without a token or in
// a dry-run; a refused token is one warning and the deploy goes on. The cluster is faked as in
// src/run.test.ts (no stack needed).
import { type Log, MemoryHost, parseInputs, UserError } from '@shipline/kit';
import type { ContextLike } from '@shipline/kit/deployments';
import { type AppliedResource, ApplyError, type Manifest, type VerifyResult } from '@shipline/kube';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FakeGitHub, fakeGitHub } from '../../../test/support/fake-github.ts';
import { openDeployments } from '../../shared/src/deployment-inputs.ts';
import { deploymentsFor, k8sDeploy } from '../src/action.ts';
import { schema, validate } from '../src/inputs.ts';
import { type DeployCluster, type Deps, run } from '../src/run.ts';

const TOKEN = 'ghs_k8sDeployToken0123456789abcdef';
let gh: FakeGitHub;
beforeEach(async () => {
  gh = await fakeGitHub({ token: TOKEN });
});
afterEach(async () => {
  expect(gh.violations).toEqual([]);
  await gh.close();
});

const context = (): ContextLike => gh.context({ sha: 'c'.repeat(40), ref: 'refs/heads/main', runId: 77, runAttempt: 1 });
const LOG_URL = 'https://github.example/acme/shop/actions/runs/77/attempts/1';

const applied: AppliedResource = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  namespace: 'shop',
  name: 'web',
  uid: 'u1',
  generation: 2,
  action: 'configured',
};
const manifest: Manifest = {
  source: 'k8s/web.yaml:1',
  object: {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web' },
    spec: { template: { spec: { containers: [{ name: 'app', image: 'r/web:1' }] } } },
  },
};

function deps(host: Log, deployments: Deps['deployments'], cluster: Partial<DeployCluster> = {}): Deps {
  const full: DeployCluster = {
    secrets: [],
    lock: async () => undefined,
    deploy: async (_m, o) => ({ dryRun: o.dryRun, resources: [applied], pruned: [], namespaces: ['shop'] }),
    wait: async () => {
      throw new Error('wait not expected');
    },
    deployProgressive: async () => {
      throw new Error('a progressive deploy not expected');
    },
    promote: async () => {
      throw new Error('promote not expected');
    },
    reject: async () => {
      throw new Error('reject not expected');
    },
    close: () => {},
    ...cluster,
  };
  return {
    log: host,
    mask: () => {},
    openCluster: () => ({
      server: 'https://10.0.0.1:6443',
      context: 'ci',
      namespace: 'shop',
      origin: 'kubeconfig content',
      secrets: [],
      connect: async () => full,
      close: () => {},
    }),
    loadManifests: async () => [structuredClone(manifest)],
    provenance: {},
    now: () => 0,
    deployments,
  };
}

function inputsOf(raw: Record<string, string>) {
  const i = parseInputs(schema, (n) => ({ manifests: 'k8s', kubeconfig: 'kc', ...raw })[n]);
  validate(i);
  return i;
}

/** The run as action.ts wires it: the client from the inputs, through the shared opener. */
async function deploy(raw: Record<string, string>, cluster?: Partial<DeployCluster>) {
  const host = new MemoryHost();
  const inputs = inputsOf(raw);
  const client = await deploymentsFor(inputs, host, context());
  const out = await run(inputs, deps(host, client, cluster));
  return { out, host, outputs: k8sDeploy.outputs(out) };
}

const withToken = { 'github-token': TOKEN, environment: 'staging', 'environment-url': 'https://staging.shop.example/' };

describe('k8s-deploy records a GitHub deployment', () => {
  it('creates it before the apply and posts in_progress after it, then success on a good wait verdict', async () => {
    let createdBeforeApply = false;
    const verdict = { status: 'success', reason: 'Current', message: 'ok', durationMs: 10, resources: [] } as unknown as VerifyResult;
    const { out, outputs } = await deploy(
      { ...withToken, wait: 'true' },
      {
        deploy: async (_m, o) => {
          createdBeforeApply = gh.calls.length === 1;
          return { dryRun: o.dryRun, resources: [applied], pruned: [], namespaces: ['shop'] };
        },
        wait: async () => verdict,
      },
    );
    expect(createdBeforeApply).toBe(true);
    const id = out.deploymentId as number;
    expect(outputs['deployment-id']).toBe(String(id));
    expect(gh.statesOf(id)).toEqual(['in_progress', 'success']);
    const [create, inProgress, success] = gh.calls;
    expect(create?.body).toMatchObject({
      ref: 'c'.repeat(40),
      environment: 'staging',
      auto_merge: false,
      required_contexts: [],
      payload: { namespace: 'shop', context: 'ci', images: [] },
      description: 'k8s-deploy: 1 object(s) to ci/shop',
    });
    expect(inProgress?.body).toEqual({
      state: 'in_progress',
      log_url: LOG_URL,
      environment_url: 'https://staging.shop.example/',
      description: 'applied: 1 configured',
    });
    expect(success?.body).toMatchObject({ state: 'success', auto_inactive: true, environment_url: 'https://staging.shop.example/' });
  });

  it('posts failure when the API server refuses the objects', async () => {
    const refusal = new ApplyError('apply', [{ object: 'Deployment shop/web', reason: 'Invalid', message: 'spec.replicas: Invalid value' }]);
    const { out, outputs } = await deploy(withToken, {
      deploy: async () => {
        throw refusal;
      },
    });
    expect(out.failure?.phase).toBe('apply');
    const id = out.deploymentId as number;
    expect(outputs['deployment-id']).toBe(String(id));
    expect(gh.statesOf(id)).toEqual(['failure']);
    expect(gh.calls[1]?.body).toMatchObject({
      state: 'failure',
      log_url: LOG_URL,
      description: 'refused by the API server (apply): Deployment shop/web: Invalid',
    });
  });

  it('posts failure when the rollout fails with wait: true', async () => {
    const verdict = {
      status: 'failed',
      reason: 'CrashLoopBackOff',
      message: 'back-off',
      durationMs: 10,
      resources: [{ ref: 'Deployment shop/web', target: { kind: 'Deployment', name: 'web' }, state: 'failed', reason: 'CrashLoopBackOff', message: 'x' }],
    } as unknown as VerifyResult;
    const { out } = await deploy({ ...withToken, wait: 'true' }, { wait: async () => verdict });
    expect(gh.statesOf(out.deploymentId as number)).toEqual(['in_progress', 'failure']);
    expect(gh.calls[2]?.body).toMatchObject({ state: 'failure', description: 'rollout failed: web: CrashLoopBackOff' });
  });

  it('is off without a token, without an environment, and in a dry-run: no request at all', async () => {
    const off: Record<string, string>[] = [{ environment: 'staging' }, { 'github-token': TOKEN }, { ...withToken, 'dry-run': 'true' }];
    for (const raw of off) {
      const { out, outputs, host } = await deploy(raw);
      expect(out.deploymentId).toBeUndefined();
      expect(outputs['deployment-id']).toBe('');
      expect(host.log.join('\n')).not.toMatch(/GitHub deployment/);
    }
    expect(gh.calls).toEqual([]);
  });

  it('warns once and deploys anyway when the token may not write deployments', async () => {
    gh.fail({ status: 403, body: { message: 'Resource not accessible by integration' } }, 10);
    const { out, host, outputs } = await deploy(withToken);
    expect(out.failure).toBeUndefined();
    expect(out.resources).toEqual([applied]);
    expect(outputs['deployment-id']).toBe('');
    expect(gh.calls).toHaveLength(1);
    const warnings = host.log.filter((l) => /warning/i.test(l));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('add `permissions: deployments: write` to the job');
    expect(host.log.join('\n')).not.toContain(TOKEN);
  });

  it('refuses a token when the run names no repository, and environment-url without environment', async () => {
    const noRepo = {
      ...context(),
      get repo(): { owner: string; repo: string } {
        throw new Error('no GITHUB_REPOSITORY');
      },
    };
    const err = await openDeployments(TOKEN, new MemoryHost(), noRepo).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).oneLine()).toMatch(/^input "github-token": GITHUB_REPOSITORY is not set.*set it to owner\/repo/);
    expect(() => inputsOf({ 'environment-url': 'https://x.example/' })).toThrow(/`environment-url` is set but no `environment`/);
    expect(() => inputsOf({ environment: 'a\u0007b' })).toThrow(UserError);
    expect(gh.calls).toEqual([]);
  });
});
