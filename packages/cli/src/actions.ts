import type { AnyAction } from '@shipline/kit';

/**
 * Every action the CLI can run, by the name used in `shipline <name>`. Loaded on demand: each one
 * becomes its own chunk, so `shipline smoke-test` does not parse the Kubernetes client.
 */
export const actions: Record<string, () => Promise<AnyAction>> = {
  'docker-build': async () => (await import('@shipline/action-docker-build/action')).dockerBuild,
  'registry-push': async () => (await import('@shipline/action-registry-push/action')).registryPush,
  'k8s-deploy': async () => (await import('@shipline/action-k8s-deploy/action')).k8sDeploy,
  'smoke-test': async () => (await import('@shipline/action-smoke-test/action')).smokeTest,
  'rollout-verify': async () => (await import('@shipline/action-rollout-verify/action')).rolloutVerify,
};
