// What the CI run is building — commit, branch or tag, pull/merge request, default branch — read
// from GitHub's or GitLab's variables into one runner-neutral shape, so tag rules never look at
// which runner they are on.

export type Env = Readonly<Record<string, string | undefined>>;

export interface CiContext {
  provider: 'github' | 'gitlab' | 'local';
  /** Full commit SHA being built. */
  sha: string | undefined;
  /** Branch of a branch build (absent for tag builds and pull/merge requests). */
  branch: string | undefined;
  /** Git tag of a tag build. */
  tag: string | undefined;
  /** Number of the pull request (GitHub) or merge request IID (GitLab). */
  pullRequest: number | undefined;
  /** Source branch of a pull/merge request. */
  headBranch: string | undefined;
  defaultBranch: string | undefined;
  /** Event that started the run: push, pull_request, schedule, merge_request_event, … */
  event: string | undefined;
  /** Web URL of the repository, for org.opencontainers.image.source. */
  sourceUrl: string | undefined;
}

const nonEmpty = (s: string | undefined): string | undefined => (s === undefined || s.trim() === '' ? undefined : s.trim());

/**
 * Reads the context. `eventPayload` is GitHub's event JSON (GITHUB_EVENT_PATH), already read by the
 * caller; `defaultBranch` (the `default-branch` input) wins over what the runner says.
 */
export function readCiContext(env: Env, eventPayload?: unknown, defaultBranch?: string): CiContext {
  if (env.GITHUB_ACTIONS === 'true') return github(env, eventPayload, defaultBranch);
  if (env.GITLAB_CI === 'true') return gitlab(env, defaultBranch);
  return {
    provider: 'local',
    sha: undefined,
    branch: undefined,
    tag: undefined,
    pullRequest: undefined,
    headBranch: undefined,
    defaultBranch: nonEmpty(defaultBranch),
    event: undefined,
    sourceUrl: undefined,
  };
}

function github(env: Env, payload: unknown, defaultBranch?: string): CiContext {
  const ref = nonEmpty(env.GITHUB_REF) ?? '';
  const event = nonEmpty(env.GITHUB_EVENT_NAME);
  let branch: string | undefined;
  let tag: string | undefined;
  let pullRequest: number | undefined;
  if (ref.startsWith('refs/heads/')) branch = ref.slice('refs/heads/'.length);
  else if (ref.startsWith('refs/tags/')) tag = ref.slice('refs/tags/'.length);
  else {
    const pr = /^refs\/pull\/(\d+)\//.exec(ref);
    if (pr) pullRequest = Number(pr[1]);
  }
  const p = (payload ?? {}) as { repository?: { default_branch?: unknown }; pull_request?: { number?: unknown }; number?: unknown };
  if (pullRequest === undefined && typeof p.pull_request?.number === 'number') pullRequest = p.pull_request.number;
  const fromPayload = typeof p.repository?.default_branch === 'string' ? p.repository.default_branch : undefined;
  const server = nonEmpty(env.GITHUB_SERVER_URL) ?? 'https://github.com';
  const repo = nonEmpty(env.GITHUB_REPOSITORY);
  return {
    provider: 'github',
    sha: nonEmpty(env.GITHUB_SHA),
    branch,
    tag,
    pullRequest,
    headBranch: pullRequest !== undefined ? nonEmpty(env.GITHUB_HEAD_REF) : undefined,
    defaultBranch: nonEmpty(defaultBranch) ?? nonEmpty(fromPayload),
    event,
    sourceUrl: repo ? `${server.replace(/\/+$/, '')}/${repo}` : undefined,
  };
}

function gitlab(env: Env, defaultBranch?: string): CiContext {
  const iid = nonEmpty(env.CI_MERGE_REQUEST_IID);
  const tag = nonEmpty(env.CI_COMMIT_TAG);
  return {
    provider: 'gitlab',
    sha: nonEmpty(env.CI_COMMIT_SHA),
    // GitLab sets CI_COMMIT_BRANCH only in branch pipelines: never for tags or merge requests.
    branch: tag || iid ? undefined : nonEmpty(env.CI_COMMIT_BRANCH),
    tag,
    pullRequest: iid && /^\d+$/.test(iid) ? Number(iid) : undefined,
    headBranch: nonEmpty(env.CI_MERGE_REQUEST_SOURCE_BRANCH_NAME),
    defaultBranch: nonEmpty(defaultBranch) ?? nonEmpty(env.CI_DEFAULT_BRANCH),
    event: nonEmpty(env.CI_PIPELINE_SOURCE),
    sourceUrl: nonEmpty(env.CI_PROJECT_URL),
  };
}
