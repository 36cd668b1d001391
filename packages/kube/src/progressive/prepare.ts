// What a canary or blue-green deploy does with the manifests. Deployments become canaries or
// colours. Every other object is created when it does not exist yet and otherwise left exactly as
// it is: the stable pods read today's ConfigMaps and Secrets (a mounted ConfigMap changes in
// running pods within a minute), and a changed Service or Ingress moves stable traffic. The next
// rolling deploy (or a new name, as kustomize's configMapGenerator gives) carries such changes.
import { pool } from '@shipline/kit/pool';
import type { KubeClient } from '../client.ts';
import type { Manifest } from '../manifests.ts';
import { describeObject, type KubeObject } from '../object.ts';
import { type Color, ProgressiveError, type Strategy } from './objects.ts';

export interface Release {
  strategy: Strategy;
  namespace: string;
  /** X: the stable Deployment and its Service. */
  app: string;
  /** The workload this deploy created or changed: `X-canary`, `X-blue`, `X-green`. */
  workload: string;
  /** Blue-green: the preview Service of the new colour. */
  preview?: string;
  /** Blue-green: the preview Service's first port. */
  previewPort?: number;
  color?: Color;
  /** The new pods' `shipline.dev/release` label (Prometheus' `release`): what metric gates select on. */
  release?: string;
}

export interface Prepared {
  /** The manifests' Deployments, namespace filled in. */
  deployments: KubeObject[];
  /** Everything else, as read. */
  others: Manifest[];
}

// Workloads a canary or colour cannot be made of: their pods would be changed in place.
const OTHER_WORKLOADS = new Set(['StatefulSet', 'DaemonSet', 'ReplicaSet', 'ReplicationController', 'Job', 'CronJob', 'Pod']);

/** Splits the manifests; other workload kinds are refused (they have no second track). */
export function splitManifests(manifests: readonly Manifest[], defaultNamespace: string, strategy: Strategy): Prepared {
  const deployments: KubeObject[] = [];
  const others: Manifest[] = [];
  const refused: string[] = [];
  for (const m of manifests) {
    if (m.object.kind === 'Deployment' && m.object.apiVersion === 'apps/v1') {
      const o = structuredClone(m.object);
      o.metadata.namespace ??= defaultNamespace;
      deployments.push(o);
    } else if (OTHER_WORKLOADS.has(m.object.kind)) refused.push(`${describeObject(m.object)} (${m.source})`);
    else others.push(m);
  }
  if (refused.length)
    throw new ProgressiveError(
      'unsupported-kind',
      `strategy ${strategy} makes a second track of Deployments only; the manifests also hold ${refused.join(', ')}`,
      'deploy the other workloads in a separate step with the rolling strategy',
    );
  if (deployments.length === 0)
    throw new ProgressiveError(
      'unsupported-kind',
      `strategy ${strategy} needs at least one Deployment in the manifests`,
      'point the manifests at the service whose Deployment is released',
    );
  return { deployments, others };
}

/** Of the other objects, those that do not exist yet (created), and those left as they are. */
export async function newObjectsOnly(
  client: KubeClient,
  others: readonly Manifest[],
  defaultNamespace: string,
  concurrency: number,
): Promise<{ create: Manifest[]; kept: string[] }> {
  const create: Manifest[] = [];
  const kept: string[] = [];
  await pool([...others], concurrency, async (m) => {
    const r = await client.resourceFor(m.object.apiVersion, m.object.kind);
    // A kind the cluster does not serve yet: the deploy's dry-run names it.
    if (!r) return void create.push(m);
    const ns = r.namespaced ? (m.object.metadata.namespace ?? defaultNamespace) : undefined;
    const live = await client.get(r, ns, m.object.metadata.name as string);
    if (live) kept.push(describeObject({ kind: m.object.kind, metadata: { name: m.object.metadata.name as string, ...(ns ? { namespace: ns } : {}) } }));
    else create.push(m);
  });
  const order = new Map(others.map((m, i) => [m, i]));
  create.sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0));
  return { create, kept: kept.sort() };
}
