// A canary or blue-green deploy through the same all-or-nothing steps as a rolling one (plan,
// server-side dry-run of everything, then apply), with the progressive objects in place of the
// manifests' Deployments. Blue-green pins the main Service between dry-run and apply, so the new
// colour's pods never join it before promote.
import { untrusted } from '@shipline/kit/untrusted';
import { applyPlan, type DeployOptions, type DeployResult, dryRunPlan, planDeploy, previewPlan } from '../apply.ts';
import type { KubeClient } from '../client.ts';
import type { Manifest } from '../manifests.ts';
import { describeObject } from '../object.ts';
import { applyPins, planBlueGreen } from './bluegreen.ts';
import { planCanary } from './canary.ts';
import type { CanaryReplicas, Strategy } from './objects.ts';
import { newObjectsOnly, type Release, splitManifests } from './prepare.ts';

export interface ProgressiveDeployOptions extends DeployOptions {
  strategy: Strategy;
  /** Canary: its size. */
  canaryReplicas?: CanaryReplicas;
  /** Recorded on a canary. */
  runUrl?: string | undefined;
  signal?: AbortSignal;
}

export interface ProgressiveDeployResult extends DeployResult {
  strategy: Strategy;
  releases: Release[];
  /** Objects of the manifests that exist and were left as they are. */
  kept: string[];
}

export async function deployProgressive(client: KubeClient, manifests: readonly Manifest[], opts: ProgressiveDeployOptions): Promise<ProgressiveDeployResult> {
  const prepared = splitManifests(manifests, opts.defaultNamespace, opts.strategy);
  const progressive =
    opts.strategy === 'canary'
      ? {
          ...(await planCanary(client, prepared, {
            defaultNamespace: opts.defaultNamespace,
            replicas: opts.canaryReplicas ?? { count: 1 },
            runUrl: opts.runUrl,
          })),
          pins: [],
          mainServices: new Set<string>(),
        }
      : await planBlueGreen(client, prepared);
  const mainService = (m: Manifest) =>
    m.object.kind === 'Service' &&
    m.object.apiVersion === 'v1' &&
    progressive.mainServices.has(`${m.object.metadata.namespace ?? opts.defaultNamespace}/${m.object.metadata.name}`);
  const main = prepared.others.filter(mainService);
  const { create, kept } = await newObjectsOnly(
    client,
    prepared.others.filter((m) => !mainService(m)),
    opts.defaultNamespace,
    opts.concurrency ?? 16,
  );
  const keptAll = [
    ...kept,
    ...main.map(
      (m) =>
        `${describeObject({ ...m.object, metadata: { ...m.object.metadata, namespace: m.object.metadata.namespace ?? opts.defaultNamespace } })} (the main Service: promote switches it)`,
    ),
  ];
  // Names come from the manifests and the cluster: shown inert.
  const info = (line: string) => opts.log.info(untrusted(line, { oneLine: true, max: 600 }));
  for (const k of keptAll) info(`${k}: exists, left as it is (a ${opts.strategy} deploy does not change what the stable version uses)`);
  const sourceOf = new Map(
    prepared.deployments.map((d, i) => [
      `${d.metadata.namespace}/${d.metadata.name}`,
      manifests.filter((m) => m.object.kind === 'Deployment')[i]?.source ?? '',
    ]),
  );
  const objects: Manifest[] = [
    ...create,
    ...progressive.objects.map((o) => {
      const app =
        o.metadata.annotations?.['shipline.dev/canary-of'] ??
        o.metadata.annotations?.['shipline.dev/color-of'] ??
        o.metadata.annotations?.['shipline.dev/preview-of'];
      return { source: `${opts.strategy} of ${sourceOf.get(`${o.metadata.namespace}/${app}`) || app}`, object: o };
    }),
  ];
  const plan = await planDeploy(client, objects, opts);
  await dryRunPlan(client, plan, opts);
  const base = { strategy: opts.strategy, releases: progressive.releases, kept: keptAll };
  if (opts.dryRun) return { ...(await previewPlan(client, plan, opts)), ...base };
  await applyPins(client, progressive.pins, info);
  const resources = await applyPlan(client, plan, opts);
  return { dryRun: false, resources, pruned: [], namespaces: [...new Set(resources.map((r) => r.namespace).filter((n): n is string => !!n))].sort(), ...base };
}
