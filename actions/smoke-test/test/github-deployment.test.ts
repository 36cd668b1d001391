// smoke-test's run() reporting to the GitHub deployment k8s-deploy recorded, on a loopback fake of
// GitHub's REST API (it checks every request against the documented contract): `failure` naming
// the failing target when the test fails, nothing when it passes, nothing at all without a token.
// The target is a scripted requester with a fake clock, as in src/run.test.ts.
import { MemoryHost, parseInputs, UserError } from '@shipline/kit';
import { type ContextLike, GitHubDeployments, runFromContext } from '@shipline/kit/deployments';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FakeGitHub, fakeGitHub } from '../../../test/support/fake-github.ts';
import { openForDeployment } from '../../shared/src/deployment-inputs.ts';
import type { HttpResponse } from '../src/http.ts';
import { schema, validate } from '../src/inputs.ts';
import { type Deps, run } from '../src/run.ts';

const TOKEN = 'ghs_smokeTestToken0123456789abcdef';
let gh: FakeGitHub;
let deploymentId: number;

const context = (): ContextLike => gh.context({ sha: 'a'.repeat(40), ref: undefined, runId: 9, runAttempt: undefined });

beforeEach(async () => {
  gh = await fakeGitHub({ token: TOKEN });
  // The deployment k8s-deploy would have created in an earlier step.
  deploymentId = await (await GitHubDeployments.open(TOKEN, runFromContext(context()))).create({ environment: 'staging' });
  gh.calls.length = 0;
});
afterEach(async () => {
  expect(gh.violations).toEqual([]);
  await gh.close();
});

function inputsOf(raw: Record<string, string>) {
  const i = parseInputs(schema, (n) => ({ url: 'http://svc.test/health', deadline: '3s', timeout: '1s', ...raw })[n]);
  validate(i);
  return i;
}

/** The run as action.ts wires it, against a target that always answers `status`. */
async function smoke(raw: Record<string, string>, status: number) {
  const host = new MemoryHost();
  const inputs = inputsOf(raw);
  let now = 0;
  const deps: Deps = {
    now: () => now,
    sleep: async (ms) => {
      now += ms;
    },
    request: async (req) => {
      now += 5;
      return { status, headers: {}, body: '{}', bodyBytes: 2, truncated: false, latencyMs: 5, finalUrl: req.url, redirects: 0 } satisfies HttpResponse;
    },
    log: host,
    mask: (s) => host.mask(s),
    deployments: await openForDeployment(inputs['github-token'], inputs['deployment-id'], host, context()),
  };
  return { result: await run(inputs, deps), host };
}

describe('smoke-test reports to the GitHub deployment', () => {
  it('posts failure naming the failing target when the smoke test fails', async () => {
    const { result } = await smoke({ 'github-token': TOKEN, 'deployment-id': String(deploymentId) }, 503);
    expect(result.passed).toBe(false);
    expect(gh.statesOf(deploymentId)).toEqual(['failure']);
    expect(gh.calls).toHaveLength(1);
    const body = gh.calls[0]?.body as { description: string };
    expect(gh.calls[0]?.body).toMatchObject({ state: 'failure', log_url: 'https://github.example/acme/shop/actions/runs/9' });
    expect(body.description).toMatch(/^smoke test failed: http:\/\/svc\.test\/health: .*503/);
    expect([...body.description].length).toBeLessThanOrEqual(140);
  });

  it('posts nothing when it passes', async () => {
    const { result } = await smoke({ 'github-token': TOKEN, 'deployment-id': String(deploymentId) }, 200);
    expect(result.passed).toBe(true);
    expect(gh.calls).toEqual([]);
  });

  it('is off without a token or without a deployment id: no request', async () => {
    expect((await smoke({ 'deployment-id': String(deploymentId) }, 503)).result.passed).toBe(false);
    expect((await smoke({ 'github-token': TOKEN }, 503)).result.passed).toBe(false);
    expect(gh.calls).toEqual([]);
  });

  it('warns once and still reports the failed test when the status cannot be posted', async () => {
    gh.fail({ status: 404, body: { message: 'Not Found' } }, 1);
    const { result, host } = await smoke({ 'github-token': TOKEN, 'deployment-id': '999999' }, 503);
    expect(result.passed).toBe(false);
    const warnings = host.log.filter((l) => /GitHub deployment not recorded/.test(l));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('/repos/acme/shop/deployments/999999/statuses answered HTTP 404');
    expect(host.log.join('\n')).not.toContain(TOKEN);
  });

  it.each(['abc', '0', '-4', '1.5', '99999999999999999999'])('refuses deployment-id %j', (id) => {
    const err = (() => {
      try {
        inputsOf({ 'github-token': TOKEN, 'deployment-id': id });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).oneLine()).toMatch(/^input "deployment-id": .* is not a deployment id — pass k8s-deploy’s `deployment-id` output/);
  });
});
