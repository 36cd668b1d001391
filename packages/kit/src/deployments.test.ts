// GitHubDeployments and its failure policy against a loopback fake of GitHub's REST API that checks
// each request against the documented contract (test/support/fake-github.ts).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FakeGitHub, fakeGitHub } from '../../../test/support/fake-github.ts';
import {
  type ContextLike,
  DeploymentApiError,
  DeploymentRecorder,
  DeploymentSetupError,
  GitHubDeployments,
  type GitHubRun,
  logUrlOf,
  runFromContext,
  truncateDescription,
} from './deployments.ts';
import type { Log } from './host.ts';

const TOKEN = 'ghs_fakeToken0123456789abcdefABCDEF';
let gh: FakeGitHub;

/** Every line of every level, debug included: the token must be in none. */
function recordingLog() {
  const lines: string[] = [];
  const log: Log = {
    info: (m) => lines.push(`info: ${m}`),
    warning: (m) => lines.push(`warning: ${m}`),
    error: (m) => lines.push(`error: ${m}`),
    notice: (m) => lines.push(`notice: ${m}`),
    debug: (m) => lines.push(`debug: ${m}`),
    group: (_t, fn) => fn(),
    external: (t) => lines.push(`external: ${t}`),
  };
  return { log, lines };
}

const context = (over: Partial<ContextLike> = {}): ContextLike => gh.context({ sha: 'f'.repeat(40), runId: 4242, runAttempt: 2, ...over });

// No real waits between retries: the schedule's sleep is recorded instead.
const noSleep = (waits: number[]) => ({ sleep: async (ms: number) => void waits.push(ms), random: () => 0.5 });

async function client(log: Log, waits: number[] = [], run: GitHubRun = runFromContext(context())) {
  return GitHubDeployments.open(TOKEN, run, { log, retry: noSleep(waits) });
}

beforeEach(async () => {
  gh = await fakeGitHub({ token: TOKEN });
});
afterEach(async () => {
  expect(gh.violations).toEqual([]);
  await gh.close();
});

describe('runFromContext and the log URL', () => {
  it('takes the commit, the run and its attempt from the context', () => {
    const run = runFromContext(context());
    expect(run).toEqual({ owner: 'acme', repo: 'shop', ref: 'f'.repeat(40), serverUrl: 'https://github.example', apiUrl: gh.url, runId: 4242, runAttempt: 2 });
    expect(logUrlOf(run)).toBe('https://github.example/acme/shop/actions/runs/4242/attempts/2');
    expect(logUrlOf(runFromContext(context({ runAttempt: Number.NaN })))).toBe('https://github.example/acme/shop/actions/runs/4242');
    expect(logUrlOf(runFromContext(context({ runId: Number.NaN })))).toBeUndefined();
    expect(runFromContext(context({ sha: undefined })).ref).toBe('refs/heads/main');
  });

  it('refuses a context without a repository or a commit', () => {
    const noRepo = {
      ...context(),
      get repo(): { owner: string; repo: string } {
        throw new Error("context.repo requires a GITHUB_REPOSITORY environment variable like 'owner/repo'");
      },
    };
    expect(() => runFromContext(noRepo)).toThrow(DeploymentSetupError);
    expect(() => runFromContext(noRepo)).toThrow(/GITHUB_REPOSITORY is not set/);
    expect(() => runFromContext(context({ sha: '', ref: undefined }))).toThrow(/neither GITHUB_SHA nor GITHUB_REF/);
  });

  it('cuts descriptions to 140 characters without splitting a character', () => {
    expect(truncateDescription('short')).toBe('short');
    const long = '🚀'.repeat(200);
    expect([...truncateDescription(long)]).toHaveLength(140);
    expect(truncateDescription(long).endsWith('…')).toBe(true);
    expect(truncateDescription('x'.repeat(140))).toBe('x'.repeat(140));
  });
});

describe('GitHubDeployments against the fake API', () => {
  it('creates a deployment and posts statuses with the documented fields', async () => {
    const { log, lines } = recordingLog();
    const api = await client(log);
    const id = await api.create({ environment: 'staging', description: 'd'.repeat(300), payload: { namespace: 'shop' }, transient: false, production: false });
    await api.status(id, { state: 'in_progress', environmentUrl: 'https://staging.example/' });
    await api.status(id, { state: 'success', environmentUrl: 'https://staging.example/', description: 'ok', autoInactive: true });

    expect(gh.calls.map((c) => `${c.method} ${c.path} ${c.status}`)).toEqual([
      'POST /repos/acme/shop/deployments 201',
      `POST /repos/acme/shop/deployments/${id}/statuses 201`,
      `POST /repos/acme/shop/deployments/${id}/statuses 201`,
    ]);
    const [create, inProgress, success] = gh.calls;
    expect(create?.body).toEqual({
      ref: 'f'.repeat(40),
      task: 'deploy',
      auto_merge: false,
      required_contexts: [],
      environment: 'staging',
      description: `${'d'.repeat(139)}…`,
      payload: { namespace: 'shop' },
      transient_environment: false,
      production_environment: false,
    });
    expect(create?.headers.authorization).toBe(`token ${TOKEN}`);
    expect(create?.headers['x-github-api-version']).toBe('2022-11-28');
    const logUrl = 'https://github.example/acme/shop/actions/runs/4242/attempts/2';
    expect(inProgress?.body).toEqual({ state: 'in_progress', log_url: logUrl, environment_url: 'https://staging.example/' });
    expect(success?.body).toEqual({ state: 'success', log_url: logUrl, environment_url: 'https://staging.example/', description: 'ok', auto_inactive: true });
    expect(gh.statesOf(id)).toEqual(['in_progress', 'success']);
    expect(lines.join('\n')).not.toContain(TOKEN);
  });

  it('retries a 500 and a reset connection, then succeeds', async () => {
    const { log, lines } = recordingLog();
    const waits: number[] = [];
    const api = await client(log, waits);
    gh.fail({ status: 500 }, 1);
    gh.fail('reset', 1);
    const id = await api.create({ environment: 'staging' });
    expect(gh.calls.map((c) => c.status)).toEqual([500, -1, 201]);
    expect(waits).toHaveLength(2);
    expect(id).toBeGreaterThan(0);
    expect(lines.filter((l) => l.startsWith('debug:') && /retry/.test(l))).toHaveLength(2);
  });

  it('does not retry a 403 or 422, and gives up on 5xx after the policy’s retries', async () => {
    const { log } = recordingLog();
    const waits: number[] = [];
    const api = await client(log, waits);
    gh.fail({ status: 403, body: { message: 'Resource not accessible by integration' } }, 1);
    const err = await api.create({ environment: 'staging' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeploymentApiError);
    expect(err).toMatchObject({ fault: 'forbidden', status: 403 });
    expect((err as Error).message).toBe('POST /repos/acme/shop/deployments answered HTTP 403 (Resource not accessible by integration)');
    expect(gh.calls).toHaveLength(1);

    gh.fail({ status: 502 }, 10);
    await expect(api.create({ environment: 'staging' })).rejects.toMatchObject({ fault: 'server', status: 502 });
    // The first attempt and the default policy's 4 retries.
    expect(gh.calls).toHaveLength(1 + 5);
    expect(waits).toHaveLength(4);
  });

  it('treats the 202 "merged" answer as an error with its message', async () => {
    const { log } = recordingLog();
    const api = await client(log);
    gh.fail({ status: 202, body: { message: 'Auto-merged main into topic-branch on deployment.' } }, 1);
    await expect(api.create({ environment: 'staging', ref: 'topic-branch' })).rejects.toThrow(
      'GitHub created no deployment (HTTP 202: Auto-merged main into topic-branch on deployment.)',
    );
  });

  it('names the API when nothing answers', async () => {
    const { log } = recordingLog();
    const waits: number[] = [];
    const url = gh.url;
    const api = await client(log, waits, runFromContext(context({ apiUrl: url })));
    await gh.close();
    const err = await api.create({ environment: 'staging' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ fault: 'unreachable' });
    expect((err as Error).message).toBe(`cannot reach the GitHub API at ${url}: connection refused (ECONNREFUSED)`);
    // Refused connections are retried by the kit's policy.
    expect(waits).toHaveLength(4);
    gh = await fakeGitHub({ token: TOKEN });
  });

  it('gives up on a server that never answers, attempt by attempt', async () => {
    const { log } = recordingLog();
    const waits: number[] = [];
    const slow = await GitHubDeployments.open(TOKEN, runFromContext(context()), { log, timeoutMs: 200, retry: { ...noSleep(waits), retries: 1 } });
    gh.fail('hang', 2);
    const started = performance.now();
    const err = await slow.create({ environment: 'staging' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ fault: 'unreachable', message: `cannot reach the GitHub API at ${gh.url}: no answer within 0.2 s` });
    expect(gh.calls.map((c) => c.status)).toEqual([-2, -2]);
    expect(waits).toHaveLength(1);
    expect(performance.now() - started).toBeLessThan(5000);
  });
});

describe('DeploymentRecorder: the failure policy', () => {
  it('turns a 403 into one warning with the permission to add, then sends nothing more', async () => {
    const { log, lines } = recordingLog();
    const recorder = new DeploymentRecorder(await client(log), log);
    gh.fail({ status: 403, body: { message: 'Resource not accessible by integration' } }, 5);
    const id = await recorder.create({ environment: 'staging' });
    expect(id).toBeUndefined();
    expect(await recorder.status(7, { state: 'failure' })).toBe(false);
    expect(gh.calls).toHaveLength(1);
    const warnings = lines.filter((l) => l.startsWith('warning:'));
    expect(warnings).toEqual([
      'warning: GitHub deployment not recorded: POST /repos/acme/shop/deployments answered HTTP 403 (Resource not accessible by integration) — add `permissions: deployments: write` to the job (or give the token the Deployments write permission)',
    ]);
    expect(recorder.enabled).toBe(false);
  });

  it('warns about an unknown repository (404) with what to check', async () => {
    const { log, lines } = recordingLog();
    const run = { ...runFromContext(context()), repo: 'nope' };
    const recorder = new DeploymentRecorder(await client(log, [], run), log);
    expect(await recorder.create({ environment: 'staging' })).toBeUndefined();
    expect(lines.filter((l) => l.startsWith('warning:'))).toEqual([
      'warning: GitHub deployment not recorded: POST /repos/acme/nope/deployments answered HTTP 404 (Not Found) — check GITHUB_REPOSITORY and the deployment id; a token without access to the repository also gets 404',
    ]);
  });

  it('sends nothing and says nothing without a client', async () => {
    const { log, lines } = recordingLog();
    const recorder = new DeploymentRecorder(undefined, log);
    expect(await recorder.create({ environment: 'staging' })).toBeUndefined();
    expect(await recorder.status(1, { state: 'success' })).toBe(false);
    expect(lines).toEqual([]);
    expect(gh.calls).toEqual([]);
  });

  it('never prints the token, even when the server echoes it', async () => {
    const { log, lines } = recordingLog();
    const recorder = new DeploymentRecorder(await client(log), log);
    gh.fail({ status: 401, body: { message: `Bad credentials for token ${TOKEN}` } }, 1);
    await recorder.create({ environment: 'staging' });
    const all = lines.join('\n');
    expect(all).toContain('HTTP 401');
    expect(all).not.toContain(TOKEN);
    expect(all).toContain('***');
  });
});
