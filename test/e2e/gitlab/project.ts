// A throwaway GitLab project for gitlab-ci-local: a git repository holding a copy of templates/ and
// the order service, whose `origin` names the group/project its `.gitlab-ci.yml` includes the
// deliver component from. gitlab-ci-local reads such an include from the working tree (never
// fetching it) only when the component's project path equals origin's group/project and its version
// is the HEAD commit, which `@$CI_COMMIT_SHA` always is.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { repoRoot } from '../../support/run-action.ts';
import { copyService } from '../service.ts';

export const GROUP = 'shipline';
export const PROJECT = 'delivery';
/** Never contacted: the component resolves locally, and nothing else names this host. */
export const SERVER = 'gitlab.example.com';

function git(dir: string, args: string[]): string {
  return execFileSync('git', args, {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 'e2e', GIT_AUTHOR_EMAIL: 'e2e@example.com', GIT_COMMITTER_NAME: 'e2e', GIT_COMMITTER_EMAIL: 'e2e@example.com' },
  }).trim();
}

export interface Project {
  dir: string;
  /** Writes `.gitlab-ci.yml` and commits it (a new HEAD, which `@$CI_COMMIT_SHA` follows). */
  pipeline(ci: Record<string, unknown>): string;
}

/** `component:` of this project's `templates/<name>.yml` at the HEAD commit. */
export const component = (name: string) => `$CI_SERVER_FQDN/${GROUP}/${PROJECT}/${name}@$CI_COMMIT_SHA`;

/** What a team writes to deliver with the whole chain. */
export function deliverPipeline(inputs: Record<string, unknown>): Record<string, unknown> {
  return { stages: ['build', 'deploy'], include: [{ component: component('deliver'), inputs }] };
}

/** The same chain of the five per-action components, wired by their default `needs` and dotenv names. */
export function perActionPipeline(o: { runnerImage: string; repository: string; version: string; namespace: string }): Record<string, unknown> {
  const common = { 'runner-image': o.runnerImage };
  return {
    stages: ['build', 'deploy'],
    include: [
      {
        component: component('docker-build'),
        inputs: {
          ...common,
          image: o.repository,
          tags: `type=raw,value=${o.version}`,
          'build-args': `BASE_IMAGE=$SHIPLINE_NODE_IMAGE\nAPP_VERSION=${o.version}`,
          cache: 'none',
          load: false,
          'oci-layout': 'shipline-oci',
        },
      },
      { component: component('registry-push'), inputs: { ...common, 'oci-layout': '$DOCKER_BUILD_OCI_LAYOUT', destinations: '$DOCKER_BUILD_TAGS' } },
      {
        component: component('k8s-deploy'),
        inputs: { ...common, manifests: 'k8s', images: '$REGISTRY_PUSH_REFS', namespace: o.namespace, vars: `APP_VERSION=${o.version}` },
      },
      {
        component: component('smoke-test'),
        inputs: { ...common, service: `${o.namespace}/order-service:8080/healthz`, 'expect-json': `$.version = "${o.version}"` },
      },
      { component: component('rollout-verify'), inputs: { ...common, 'resources-file': '$K8S_DEPLOY_RESOURCES_FILE' } },
    ],
  };
}

export function createProject(dir: string, image: string): Project {
  mkdirSync(dir, { recursive: true });
  cpSync(join(repoRoot, 'templates'), join(dir, 'templates'), { recursive: true, filter: (src) => !src.endsWith('.ts') });
  copyService(dir, image);
  writeFileSync(join(dir, '.gitignore'), '.gitlab-ci-local/\n.gcl-variables.yml\n');
  git(dir, ['init', '-q', '-b', 'main']);
  git(dir, ['remote', 'add', 'origin', `https://${SERVER}/${GROUP}/${PROJECT}.git`]);
  return {
    dir,
    pipeline(ci) {
      writeFileSync(join(dir, '.gitlab-ci.yml'), stringify(ci, { lineWidth: 0 }));
      git(dir, ['add', '-A']);
      git(dir, ['commit', '-q', '-m', 'pipeline']);
      // origin/HEAD, so gitlab-ci-local knows the default branch without asking the (absent) server.
      git(dir, ['update-ref', 'refs/remotes/origin/main', 'HEAD']);
      git(dir, ['symbolic-ref', '-q', 'refs/remotes/origin/HEAD', 'refs/remotes/origin/main']);
      return git(dir, ['rev-parse', 'HEAD']);
    },
  };
}
