// The GitHub Deployments inputs k8s-deploy, smoke-test and rollout-verify share (`github-token`,
// `environment`, `environment-url`, `deployment-id`), and the one way an action turns them into a
// Deployments client: none without a token (no call, one debug line), else the kit's
// GitHubDeployments for the run's repository. The kit's errors about the run's environment become
// errors of the `github-token` input here (a library names no input).

import { input, type Log, quote, UserError } from '@shipline/kit';
import { actionsContext, type ContextLike, DeploymentSetupError, type DeploymentsClient, GitHubDeployments, runFromContext } from '@shipline/kit/deployments';

/** The token that may write deployments: `secrets.GITHUB_TOKEN` with `permissions: deployments: write`. */
export const githubToken = input.string({ secret: true });

/** An environment's name as GitHub takes it: up to 255 characters on one line. */
export const environment = input.custom<string>('environment name', (raw, fail) => {
  if ([...raw].length > 255) return fail('an environment name has at most 255 characters', 'use a shorter name, e.g. `staging`');
  if ([...raw].some((c) => (c.codePointAt(0) as number) < 0x20 || c === '\x7f'))
    return fail('the environment name holds a control character', 'use a name on one line, e.g. `staging`');
  return raw;
});

/** The environment's address, shown as the deployment's link on the Environments page. */
export const environmentUrl = input.url();

/** k8s-deploy's `deployment-id` output, handed to the later steps. */
export const deploymentId = input.custom<number>('deployment id (positive integer)', (raw, fail) => {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || !Number.isSafeInteger(n))
    return fail(`${quote(raw)} is not a deployment id`, 'pass k8s-deploy’s `deployment-id` output, e.g. `${{ steps.deploy.outputs.deployment-id }}`');
  return n;
});

/**
 * The Deployments client the inputs ask for: undefined without a token (nothing is called; one
 * debug line says so). `context` is @actions/github's (GITHUB_REPOSITORY, GITHUB_SHA, GITHUB_RUN_ID,
 * GITHUB_API_URL…); tests hand in their own.
 */
export async function openDeployments(token: string | undefined, log: Log, context?: ContextLike): Promise<DeploymentsClient | undefined> {
  if (token === undefined) {
    log.debug('GitHub Deployments: off (no `github-token`)');
    return undefined;
  }
  const ctx = context ?? (await actionsContext());
  try {
    return await GitHubDeployments.open(token, runFromContext(ctx), { log });
  } catch (e) {
    if (!(e instanceof DeploymentSetupError)) throw e;
    throw new UserError(e.message, {
      input: 'github-token',
      hint:
        e.missing === 'GITHUB_REPOSITORY'
          ? 'GitHub Actions sets GITHUB_REPOSITORY; elsewhere set it to owner/repo, or drop `github-token` to record no deployment'
          : 'GitHub Actions sets GITHUB_SHA; elsewhere set it to the commit being deployed, or drop `github-token`',
    });
  }
}

/** For the steps after k8s-deploy: a client only when there is a deployment (`deployment-id`) to post to. */
export function openForDeployment(token: string | undefined, id: number | undefined, log: Log, context?: ContextLike): Promise<DeploymentsClient | undefined> {
  if (id === undefined) {
    log.debug('GitHub Deployments: off (no `deployment-id`)');
    return Promise.resolve(undefined);
  }
  return openDeployments(token, log, context);
}
