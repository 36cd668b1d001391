// The order objects are applied in: what others depend on first. Namespaces and CRDs (phase 0) are
// applied and waited for before anything else; then cluster/config objects; then workloads.
import type { KubeObject } from './object.ts';

const PHASE_0 = ['Namespace', 'CustomResourceDefinition'];
// Within a phase the order is only for readable logs; a phase is applied concurrently.
const CONFIG = [
  'PriorityClass',
  'StorageClass',
  'ResourceQuota',
  'LimitRange',
  'PodSecurityPolicy',
  'PodDisruptionBudget',
  'ServiceAccount',
  'Secret',
  'SecretList',
  'ConfigMap',
  'PersistentVolume',
  'PersistentVolumeClaim',
  'ClusterRole',
  'ClusterRoleList',
  'ClusterRoleBinding',
  'ClusterRoleBindingList',
  'Role',
  'RoleList',
  'RoleBinding',
  'RoleBindingList',
  'NetworkPolicy',
  'IngressClass',
  'Service',
];
const WORKLOADS = [
  'Pod',
  'PodTemplate',
  'ReplicationController',
  'ReplicaSet',
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'Job',
  'CronJob',
  'HorizontalPodAutoscaler',
];

/** 0: namespaces and CRDs, 1: config, 2: workloads, 3: everything else (ingresses, custom resources, webhooks...). */
export function phaseOf(kind: string): number {
  if (PHASE_0.includes(kind)) return 0;
  if (CONFIG.includes(kind)) return 1;
  if (WORKLOADS.includes(kind)) return 2;
  return 3;
}

function rank(kind: string): number {
  const lists = [PHASE_0, CONFIG, WORKLOADS];
  let base = 0;
  for (const l of lists) {
    const i = l.indexOf(kind);
    if (i >= 0) return base + i;
    base += l.length;
  }
  return base;
}

/** Stable sort by kind rank: equal kinds keep the manifests' order. */
export function orderObjects<T extends { object: KubeObject }>(items: readonly T[]): T[] {
  return items
    .map((item, i) => ({ item, i, r: rank(item.object.kind) }))
    .sort((a, b) => a.r - b.r || a.i - b.i)
    .map((x) => x.item);
}

/** Groups ordered items into phases, keeping order inside each. */
export function phases<T extends { object: KubeObject }>(items: readonly T[]): T[][] {
  const out: T[][] = [[], [], [], []];
  for (const it of orderObjects(items)) out[phaseOf(it.object.kind)]?.push(it);
  return out.filter((p) => p.length > 0);
}
