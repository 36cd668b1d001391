// The table from kind to its rule, and which related objects each rule reads (the engine watches
// exactly those). Kinds not in the table get the generic rule.
import type { KubeObject } from '../object.ts';
import { daemonSetRule } from './daemonset.ts';
import { deploymentRule, replicaSetRule } from './deployment.ts';
import { genericRule, podRule, pvcRule, serviceRule } from './generic.ts';
import { jobRule } from './job.ts';
import type { RuleContext } from './pod.ts';
import { statefulSetRule } from './statefulset.ts';
import type { ResourceStatus } from './types.ts';

export type Rule = (o: KubeObject, ctx: RuleContext) => ResourceStatus;
export type Related = 'pods' | 'replicaSets' | 'controllerRevisions';

interface Entry {
  group: string;
  rule: Rule;
  related: Related[];
}

const TABLE: Record<string, Entry> = {
  Deployment: { group: 'apps', rule: deploymentRule, related: ['replicaSets', 'pods'] },
  ReplicaSet: { group: 'apps', rule: replicaSetRule, related: ['pods'] },
  StatefulSet: { group: 'apps', rule: statefulSetRule, related: ['pods'] },
  DaemonSet: { group: 'apps', rule: daemonSetRule, related: ['controllerRevisions', 'pods'] },
  Job: { group: 'batch', rule: jobRule, related: ['pods'] },
  Pod: { group: '', rule: podRule, related: [] },
  PersistentVolumeClaim: { group: '', rule: pvcRule, related: [] },
  Service: { group: '', rule: serviceRule, related: [] },
};

function entryFor(apiVersion: string, kind: string): Entry | undefined {
  const e = TABLE[kind];
  const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
  return e && e.group === group ? e : undefined;
}

/** The rule of a kind (by group and kind, so a CRD named `Deployment` elsewhere is generic). */
export function ruleFor(apiVersion: string, kind: string): Rule {
  return entryFor(apiVersion, kind)?.rule ?? genericRule;
}

export function relatedOf(apiVersion: string, kind: string): Related[] {
  return entryFor(apiVersion, kind)?.related ?? [];
}

/** Evaluate one object with its rule. */
export function computeStatus(o: KubeObject, ctx: RuleContext): ResourceStatus {
  return ruleFor(o.apiVersion, o.kind)(o, ctx);
}
