import { dockerBuild } from '@shipline/action-docker-build/action';
import { registryPush } from '@shipline/action-registry-push/action';
import { k8sDeploy } from '@shipline/action-k8s-deploy/action';
import { smokeTest } from '@shipline/action-smoke-test/action';
import type { AnyAction } from '@shipline/kit';

/** Every action the CLI can run, by the name used in `shipline <name>`. */
export const actions: Record<string, AnyAction> = {
  'docker-build': dockerBuild,
  'registry-push': registryPush,
  'k8s-deploy': k8sDeploy,
  'smoke-test': smokeTest,
};
