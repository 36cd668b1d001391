/**
 * GitHub Deployments: one deployment per delivery and its statuses, so the repository's
 * Environments page shows what runs where. Over @actions/github's Octokit (loaded only when a token
 * is given: without one nothing here runs) and the kit's one retry policy.
 *
 * The REST contract (docs.github.com, "Create a deployment" / "Create a deployment status"):
 * - POST /repos/{owner}/{repo}/deployments {ref, task, auto_merge, required_contexts, payload,
 *   environment, description, transient_environment, production_environment}: 201 with the
 *   deployment; 202 with only `message` when GitHub merged the default branch into `ref` instead
 *   (no deployment exists: an error here); 409 merge conflict; 422 validation failed.
 *   `auto_merge: false` and `required_contexts: []` so neither a stale branch nor a pending commit
 *   status can refuse it.
 * - POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses {state, log_url, description
 *   (≤ 140 characters), environment_url, auto_inactive}: 201.
 *
 * Recording a deployment is bookkeeping, not the delivery: `DeploymentRecorder` turns any failure
 * (403 without `deployments: write`, an unknown repository, GitHub unreachable) into one warning
 * with the fix, and the action goes on.
 */
import type { Log } from './host.ts';
import { secrets } from './mask.ts';
import { errorCode, isRetryableError, isRetryableStatus, NETWORK_ERROR_WORDS, type RetryOptions, RetrySchedule } from './retry.ts';
import { untrusted } from './untrusted.ts';

/** Every state the API accepts for a deployment status. */
export const DEPLOYMENT_STATES = ['error', 'failure', 'inactive', 'in_progress', 'queued', 'pending', 'success'] as const;
export type DeploymentState = (typeof DEPLOYMENT_STATES)[number];

/** The API's limit on a deployment's and a status's description. */
export const MAX_DESCRIPTION = 140;

/** The REST API version these requests are written against (sent as X-GitHub-Api-Version). */
export const API_VERSION = '2022-11-28';

/** Where the run is: read from @actions/github's `context` (GITHUB_* variables). */
export interface GitHubRun {
  owner: string;
  repo: string;
  /** The commit to record (GITHUB_SHA, else GITHUB_REF). */
  ref: string;
  serverUrl: string;
  apiUrl: string;
  runId: number | undefined;
  runAttempt: number | undefined;
}

/** What this module reads of @actions/github's Context (tests hand in a plain object). */
export interface ContextLike {
  sha?: string | undefined;
  ref?: string | undefined;
  runId?: number | undefined;
  runAttempt?: number | undefined;
  serverUrl: string;
  apiUrl: string;
  readonly repo: { owner: string; repo: string };
}

/** The run's environment cannot name a deployment (no repository, no commit). */
export class DeploymentSetupError extends Error {
  readonly missing: 'GITHUB_REPOSITORY' | 'GITHUB_SHA';
  constructor(missing: 'GITHUB_REPOSITORY' | 'GITHUB_SHA', message: string) {
    super(message);
    this.name = 'DeploymentSetupError';
    this.missing = missing;
  }
}

const positive = (n: number | undefined) => (n !== undefined && Number.isInteger(n) && n > 0 ? n : undefined);

/** @actions/github's context of this run (loaded on first use: a run without a token never loads it). */
export async function actionsContext(): Promise<ContextLike> {
  return (await import('@actions/github')).context;
}

/** The run as the Deployments API needs it; throws DeploymentSetupError when the environment lacks it. */
export function runFromContext(ctx: ContextLike): GitHubRun {
  let repo: { owner: string; repo: string };
  try {
    repo = ctx.repo;
  } catch {
    throw new DeploymentSetupError('GITHUB_REPOSITORY', 'GITHUB_REPOSITORY is not set, so there is no repository to record the deployment in');
  }
  if (!repo.owner || !repo.repo) {
    throw new DeploymentSetupError('GITHUB_REPOSITORY', 'GITHUB_REPOSITORY is not of the form owner/repo');
  }
  const ref = ctx.sha || ctx.ref;
  if (!ref) throw new DeploymentSetupError('GITHUB_SHA', 'neither GITHUB_SHA nor GITHUB_REF is set, so there is no commit to record the deployment for');
  return {
    owner: repo.owner,
    repo: repo.repo,
    ref,
    serverUrl: ctx.serverUrl.replace(/\/+$/, ''),
    apiUrl: ctx.apiUrl.replace(/\/+$/, ''),
    runId: positive(ctx.runId),
    runAttempt: positive(ctx.runAttempt),
  };
}

/** The run's page (and attempt) on GitHub; undefined outside a workflow run. */
export function logUrlOf(run: GitHubRun): string | undefined {
  if (run.runId === undefined) return undefined;
  const base = `${run.serverUrl}/${run.owner}/${run.repo}/actions/runs/${run.runId}`;
  return run.runAttempt === undefined ? base : `${base}/attempts/${run.runAttempt}`;
}

/**
 * What a description may say: registered secrets masked (it is shown to everyone who can read the
 * repository), on one line, cut to the API's 140 characters by code point (no emoji is split).
 */
export function truncateDescription(text: string): string {
  const chars = [...secrets.redact(text).replace(/\s*[\r\n]+\s*/g, ' ')];
  return chars.length <= MAX_DESCRIPTION ? chars.join('') : `${chars.slice(0, MAX_DESCRIPTION - 1).join('')}…`;
}

export interface CreateDeployment {
  /** Default: the run's commit. */
  ref?: string | undefined;
  environment: string;
  description?: string | undefined;
  transient?: boolean | undefined;
  production?: boolean | undefined;
  payload?: Record<string, unknown> | undefined;
}

export interface DeploymentStatus {
  state: DeploymentState;
  environmentUrl?: string | undefined;
  /** Default: the run's page. */
  logUrl?: string | undefined;
  description?: string | undefined;
  autoInactive?: boolean | undefined;
}

/** What the actions use; GitHubDeployments is the real one. */
export interface DeploymentsClient {
  create(request: CreateDeployment): Promise<number>;
  status(id: number, status: DeploymentStatus): Promise<void>;
}

/** Why a call failed, for the warning's fix. */
export type DeploymentFault = 'unauthorized' | 'forbidden' | 'not-found' | 'merged' | 'conflict' | 'invalid' | 'rate-limited' | 'server' | 'unreachable';

/** A refused or failed API call: `fault` says what fixes it, `message` is already safe to print. */
export class DeploymentApiError extends Error {
  readonly fault: DeploymentFault;
  readonly status: number | undefined;
  readonly hint: string;
  constructor(fault: DeploymentFault, status: number | undefined, message: string, hint: string) {
    super(message);
    this.name = 'DeploymentApiError';
    this.fault = fault;
    this.status = status;
    this.hint = hint;
  }
}

const PERMISSION_HINT = 'add `permissions: deployments: write` to the job (or give the token the Deployments write permission)';

function faultOf(status: number): { fault: DeploymentFault; hint: string } {
  if (status === 401) return { fault: 'unauthorized', hint: 'the token is invalid or expired; pass `secrets.GITHUB_TOKEN` or a valid token' };
  if (status === 403) return { fault: 'forbidden', hint: PERMISSION_HINT };
  if (status === 404)
    return { fault: 'not-found', hint: 'check GITHUB_REPOSITORY and the deployment id; a token without access to the repository also gets 404' };
  if (status === 409) return { fault: 'conflict', hint: 'the ref could not be merged with the default branch; rebase it' };
  if (status === 422) return { fault: 'invalid', hint: 'check the environment name and that the ref exists on GitHub (push it first)' };
  if (status === 429) return { fault: 'rate-limited', hint: 'the token hit its rate limit; retry later' };
  return { fault: 'server', hint: 'GitHub failed; the deployment can be recorded by re-running the job' };
}

/** The subset of Octokit used here (tests never need more). */
interface OctokitLike {
  request(route: string, params: Record<string, unknown>): Promise<{ status: number; data: unknown }>;
}

interface RequestErrorLike {
  status?: number;
  response?: { status: number; headers: Record<string, string | undefined>; data: unknown };
  message?: string;
}

export interface GitHubDeploymentsOptions {
  /** Debug lines (requests, retries); never the token. */
  log?: Pick<Log, 'debug'> | undefined;
  /** Default: the kit's policy, within 60 s in all (bookkeeping must not hold a delivery up). */
  retry?: RetryOptions | undefined;
  /** Time limit of one attempt. Default 20 s (undici's own is 5 minutes). */
  timeoutMs?: number | undefined;
}

const DEFAULT_DEADLINE_MS = 60_000;
const DEFAULT_TIMEOUT_MS = 20_000;

/** A fetch aborted by our per-attempt timer (AbortSignal.timeout), anywhere in the cause chain. */
function isTimeout(err: unknown): boolean {
  for (let e = err, depth = 0; e !== null && typeof e === 'object' && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { name?: unknown }).name === 'TimeoutError') return true;
  }
  return false;
}

/** The two Deployments endpoints, for one repository and run. */
export class GitHubDeployments implements DeploymentsClient {
  readonly run: GitHubRun;
  private readonly octokit: OctokitLike;
  private readonly options: GitHubDeploymentsOptions;

  constructor(octokit: OctokitLike, run: GitHubRun, options: GitHubDeploymentsOptions = {}) {
    this.octokit = octokit;
    this.run = run;
    this.options = options;
  }

  /** Loads @actions/github (only now: a run without a token never pays for it) and binds it to the run's API. */
  static async open(token: string, run: GitHubRun, options: GitHubDeploymentsOptions = {}): Promise<GitHubDeployments> {
    // Whoever passes a token has masked it already; this keeps it out of any text cut here too.
    secrets.add(token);
    const { getOctokit } = await import('@actions/github');
    const debug = (m: string) => options.log?.debug(untrusted(m, { oneLine: true, max: 500 }));
    const octokit = getOctokit(token, {
      baseUrl: run.apiUrl,
      // Octokit's own notices (deprecations) are the server's words: debug only, masked.
      log: { debug, info: debug, warn: debug, error: debug },
    });
    return new GitHubDeployments(octokit, run, options);
  }

  get logUrl(): string | undefined {
    return logUrlOf(this.run);
  }

  async create(request: CreateDeployment): Promise<number> {
    const body: Record<string, unknown> = {
      ref: request.ref ?? this.run.ref,
      task: 'deploy',
      auto_merge: false,
      required_contexts: [],
      environment: request.environment,
    };
    if (request.payload !== undefined) body.payload = request.payload;
    if (request.description !== undefined) body.description = truncateDescription(request.description);
    if (request.transient !== undefined) body.transient_environment = request.transient;
    if (request.production !== undefined) body.production_environment = request.production;
    const res = await this.send('POST /repos/{owner}/{repo}/deployments', body);
    const data = res.data as { id?: unknown; message?: unknown };
    if (res.status === 202 || typeof data.id !== 'number') {
      // 202: GitHub merged the default branch into the ref instead of creating a deployment.
      const said = typeof data.message === 'string' ? `: ${untrusted(data.message, { oneLine: true, max: 200 })}` : '';
      throw new DeploymentApiError(
        'merged',
        res.status,
        `GitHub created no deployment (HTTP ${res.status}${said})`,
        'deploy a commit SHA rather than a branch that is behind the default branch',
      );
    }
    return data.id;
  }

  async status(id: number, status: DeploymentStatus): Promise<void> {
    const body: Record<string, unknown> = { state: status.state };
    const logUrl = status.logUrl ?? this.logUrl;
    if (logUrl !== undefined) body.log_url = logUrl;
    if (status.environmentUrl !== undefined) body.environment_url = status.environmentUrl;
    if (status.description !== undefined) body.description = truncateDescription(status.description);
    if (status.autoInactive !== undefined) body.auto_inactive = status.autoInactive;
    await this.send('POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses', { ...body, deployment_id: id });
  }

  /** One call under the kit's retry policy: 408/429/5xx and connection failures again, other 4xx never. */
  private async send(route: string, body: Record<string, unknown>): Promise<{ status: number; data: unknown }> {
    const schedule = new RetrySchedule({ deadlineMs: DEFAULT_DEADLINE_MS, ...this.options.retry });
    const timeoutMs = this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const params: Record<string, unknown> = {
      owner: this.run.owner,
      repo: this.run.repo,
      ...body,
      headers: { accept: 'application/vnd.github+json', 'x-github-api-version': API_VERSION },
    };
    for (;;) {
      params.request = { signal: AbortSignal.timeout(timeoutMs) };
      let failure: DeploymentApiError;
      let retryAfter: string | undefined;
      let retryable: boolean;
      try {
        return await this.octokit.request(route, params);
      } catch (e) {
        const err = e as RequestErrorLike;
        if (err.response) {
          // The server answered: its status decides.
          const { fault, hint } = faultOf(err.response.status);
          const said = messageOfBody(err.response.data);
          failure = new DeploymentApiError(
            fault,
            err.response.status,
            `${route.split(' ')[0]} ${pathOf(route, params)} answered HTTP ${err.response.status}${said}`,
            hint,
          );
          retryable = isRetryableStatus(err.response.status);
          retryAfter = err.response.headers['retry-after'];
        } else {
          // No answer (Octokit reports it as status 500 with the fetch error as cause).
          const timedOut = isTimeout(e);
          const code = timedOut ? undefined : errorCode(e);
          const words = timedOut
            ? `no answer within ${timeoutMs / 1000} s`
            : ((code && NETWORK_ERROR_WORDS[code]) ?? untrusted(err.message ?? String(e), { oneLine: true, max: 200 }));
          failure = new DeploymentApiError(
            'unreachable',
            undefined,
            `cannot reach the GitHub API at ${this.run.apiUrl}: ${words}${code && !words.includes(code) ? ` (${code})` : ''}`,
            'check GITHUB_API_URL and the runner’s network (a proxy needs HTTPS_PROXY)',
          );
          retryable = timedOut || isRetryableError(e);
        }
      }
      const delay = retryable ? schedule.next(retryAfter) : undefined;
      if (delay === undefined) throw failure;
      this.options.log?.debug(`${failure.message}; retry ${schedule.retries} in ${delay} ms`);
      await schedule.wait(delay);
    }
  }
}

/** The route with its parameters filled in, for messages. */
function pathOf(route: string, params: Record<string, unknown>): string {
  return route.slice(route.indexOf(' ') + 1).replace(/\{(\w+)\}/g, (_, k: string) => encodeURIComponent(String(params[k])));
}

function messageOfBody(data: unknown): string {
  const m = data !== null && typeof data === 'object' ? (data as { message?: unknown }).message : undefined;
  return typeof m === 'string' && m !== '' ? ` (${untrusted(m, { oneLine: true, max: 200 })})` : '';
}

/**
 * The failure policy around a client: a deployment that cannot be recorded is one warning (with
 * the fix) and the delivery goes on. After the first failure nothing more is sent, so a job
 * without the permission shows one warning, not one per status. No client: nothing at all.
 */
export class DeploymentRecorder {
  private readonly client: DeploymentsClient | undefined;
  private readonly log: Pick<Log, 'warning' | 'info'>;
  private failed = false;

  constructor(client: DeploymentsClient | undefined, log: Pick<Log, 'warning' | 'info'>) {
    this.client = client;
    this.log = log;
  }

  get enabled(): boolean {
    return this.client !== undefined && !this.failed;
  }

  /** The new deployment's id, or undefined (off, or it failed and was warned about). */
  async create(request: CreateDeployment): Promise<number | undefined> {
    const client = this.client;
    if (!client || this.failed) return undefined;
    const id = await this.guard(() => client.create(request));
    if (id !== undefined) this.log.info(`GitHub deployment ${id} for environment ${untrusted(request.environment, { oneLine: true })}`);
    return id;
  }

  /** Posts a status; false when off or it failed (warned about). */
  async status(id: number | undefined, status: DeploymentStatus): Promise<boolean> {
    const client = this.client;
    if (!client || this.failed || id === undefined) return false;
    const done = await this.guard(async () => {
      await client.status(id, status);
      return true;
    });
    if (done) this.log.info(`GitHub deployment ${id}: ${status.state}`);
    return done === true;
  }

  private async guard<T>(call: () => Promise<T>): Promise<T | undefined> {
    try {
      return await call();
    } catch (e) {
      this.failed = true;
      if (e instanceof DeploymentApiError) this.log.warning(`GitHub deployment not recorded: ${e.message} — ${e.hint}`);
      else this.log.warning(`GitHub deployment not recorded: ${untrusted(e instanceof Error ? e.message : e, { oneLine: true, max: 300 })}`);
      return undefined;
    }
  }
}
