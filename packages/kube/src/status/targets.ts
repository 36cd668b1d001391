// What to verify: k8s-deploy's `resources` as they are, a list of `kind/name` workloads, or the
// workloads a label selector matches in a namespace.
import type { KubeClient, Resource } from '../client.ts';
import { KubeError } from '../errors.ts';
import type { KubeObject } from '../object.ts';
import type { Target } from './types.ts';

export type TargetSpec = { resources: Target[] } | { workloads: { kind: string; name: string }[]; namespace: string } | { selector: string; namespace: string };

interface Kind {
  apiVersion: string;
  kind: string;
  plural: string;
}

const KINDS: Kind[] = [
  { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments' },
  { apiVersion: 'apps/v1', kind: 'StatefulSet', plural: 'statefulsets' },
  { apiVersion: 'apps/v1', kind: 'DaemonSet', plural: 'daemonsets' },
  { apiVersion: 'apps/v1', kind: 'ReplicaSet', plural: 'replicasets' },
  { apiVersion: 'batch/v1', kind: 'Job', plural: 'jobs' },
  { apiVersion: 'v1', kind: 'Pod', plural: 'pods' },
  { apiVersion: 'v1', kind: 'Service', plural: 'services' },
  { apiVersion: 'v1', kind: 'PersistentVolumeClaim', plural: 'persistentvolumeclaims' },
];

// kubectl's short names, so `deploy/web` and `sts/db` mean what they mean there.
const ALIASES: Record<string, string> = {
  deploy: 'Deployment',
  sts: 'StatefulSet',
  ds: 'DaemonSet',
  rs: 'ReplicaSet',
  svc: 'Service',
  pvc: 'PersistentVolumeClaim',
  po: 'Pod',
};

/** The kind a user wrote (`deployment`, `Deployment`, `deploy`, `deployments`, `deployment.apps`), or undefined. */
export function kindOf(written: string): Kind | undefined {
  const w = written.trim().toLowerCase();
  const base = w.includes('.') ? w.slice(0, w.indexOf('.')) : w;
  const alias = ALIASES[base];
  return KINDS.find((k) => (alias ? k.kind === alias : k.kind.toLowerCase() === base || k.plural === base));
}

/** Kinds a selector looks for: the workloads, whose pods are not targets on their own. */
const SELECTED = KINDS.filter((k) => ['Deployment', 'StatefulSet', 'DaemonSet', 'Job'].includes(k.kind));

export async function resolveTargets(client: KubeClient, spec: TargetSpec): Promise<Target[]> {
  if ('resources' in spec) return spec.resources.filter((r) => r.action !== 'pruned');
  if ('workloads' in spec) {
    return spec.workloads.map((w) => {
      const k = kindOf(w.kind);
      if (!k) throw new KubeError(`unknown workload kind "${w.kind}" in "${w.kind}/${w.name}"`, `use one of ${KINDS.map((x) => x.kind).join(', ')}`);
      return { apiVersion: k.apiVersion, kind: k.kind, namespace: spec.namespace, name: w.name };
    });
  }
  const out: Target[] = [];
  for (const k of SELECTED) {
    const r: Resource = { name: k.plural, namespaced: true, kind: k.kind, apiVersion: k.apiVersion, verbs: [] };
    const items = await client.list(r, spec.namespace, spec.selector);
    for (const o of items) {
      // A CronJob's Jobs come and go on its schedule; they are not what a deploy rolled out.
      if (k.kind === 'Job' && ownedBy(o, 'CronJob')) continue;
      out.push({
        apiVersion: k.apiVersion,
        kind: k.kind,
        namespace: spec.namespace,
        name: o.metadata.name ?? '',
        uid: o.metadata.uid ?? null,
        generation: o.metadata.generation ?? null,
      });
    }
  }
  if (out.length === 0) {
    throw new KubeError(
      `no Deployment, StatefulSet, DaemonSet or Job in namespace ${spec.namespace} matches the selector ${JSON.stringify(spec.selector)}`,
      'check the selector and the namespace',
    );
  }
  return out;
}

function ownedBy(o: KubeObject, kind: string): boolean {
  return (o.metadata.ownerReferences ?? []).some((r) => r.kind === kind);
}
