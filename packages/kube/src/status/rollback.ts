// Put a failed workload back to its revision before the deploy, the way `kubectl rollout undo`
// does: a Deployment gets the pod template of the ReplicaSet of that revision (without the
// pod-template-hash label the controller adds), a StatefulSet or DaemonSet gets the patch stored
// in its ControllerRevision. Objects this deploy created are reported, never deleted.
import { KubeClient, type Resource } from '../client.ts';
import { isRecord, type KubeObject } from '../object.ts';
import { currentRevisionHash, revisionTemplate } from './daemonset.ts';
import { REVISION_ANNOTATION } from './deployment.ts';
import { refOf } from './engine/evaluate.ts';
import { RELATED_RESOURCES } from './engine/store.ts';
import { boolField, canonical, controllerUid, field, intField, strField } from './fields.ts';
import type { Target } from './types.ts';

export interface RollbackResult {
  ref: string;
  /** The revision that was live (Deployment revision number, ControllerRevision name). */
  from: string | null;
  /** The revision restored. */
  to: string | null;
  rolledBack: boolean;
  message: string;
  /** metadata.generation after the patch: verify the rollback with it in the target. */
  generation?: number;
}

export const POD_TEMPLATE_HASH = 'pod-template-hash';
export const ROLLBACK_FIELD_MANAGER = 'shipline-rollback';

/** A pod template without the label the Deployment controller adds to its ReplicaSets. */
export function withoutHash(template: unknown): Record<string, unknown> {
  const t = structuredClone(isRecord(template) ? template : {});
  const meta = isRecord(t.metadata) ? t.metadata : undefined;
  if (meta && isRecord(meta.labels)) {
    delete meta.labels[POD_TEMPLATE_HASH];
    if (Object.keys(meta.labels).length === 0) delete meta.labels;
  }
  return t;
}

export const sameTemplate = (a: unknown, b: unknown): boolean => canonical(withoutHash(a)) === canonical(withoutHash(b));

export type Choice<T> = { ok: true; value: T } | { ok: false; message: string };

/**
 * The ReplicaSet to roll a Deployment back to: the one of revision `wanted`, or (without it) the
 * highest revision below the current one, as `kubectl rollout undo` picks it.
 */
export function pickReplicaSet(d: KubeObject, replicaSets: readonly KubeObject[], wanted: string | null): Choice<KubeObject> {
  const mine = replicaSets.filter((rs) => d.metadata.uid !== undefined && controllerUid(rs) === d.metadata.uid);
  const rev = (rs: KubeObject) => Number(rs.metadata.annotations?.[REVISION_ANNOTATION] ?? Number.NaN);
  if (wanted !== null) {
    const rs = mine.find((x) => x.metadata.annotations?.[REVISION_ANNOTATION] === wanted);
    return rs ? { ok: true, value: rs } : { ok: false, message: `no ReplicaSet of revision ${wanted} is left (revisionHistoryLimit may have pruned it)` };
  }
  const sorted = mine.filter((x) => Number.isFinite(rev(x))).sort((a, b) => rev(b) - rev(a));
  const previous = sorted[1];
  return previous ? { ok: true, value: previous } : { ok: false, message: 'no rollout history: there is no earlier revision to go back to' };
}

/**
 * The ControllerRevision to roll a StatefulSet/DaemonSet back to: by name (`wanted`, the
 * StatefulSet's update revision before the deploy), or the highest revision below the current one.
 */
export function pickControllerRevision(o: KubeObject, revisions: readonly KubeObject[], wanted: string | null): Choice<KubeObject> {
  const mine = revisions.filter((cr) => o.metadata.uid !== undefined && controllerUid(cr) === o.metadata.uid);
  if (wanted !== null) {
    const cr = mine.find((x) => x.metadata.name === wanted);
    if (cr) return { ok: true, value: cr };
    if (o.kind === 'StatefulSet') return { ok: false, message: `no ControllerRevision ${wanted} is left (revisionHistoryLimit may have pruned it)` };
  }
  const current = currentRevisionName(o, mine);
  const at = current
    ? intField(
        mine.find((x) => x.metadata.name === current),
        'revision',
        Number.MAX_SAFE_INTEGER,
      )
    : Number.MAX_SAFE_INTEGER;
  const previous = mine.filter((x) => intField(x, 'revision', 0) < at).sort((a, b) => intField(b, 'revision', 0) - intField(a, 'revision', 0))[0];
  return previous ? { ok: true, value: previous } : { ok: false, message: 'no rollout history: there is no earlier revision to go back to' };
}

function currentRevisionName(o: KubeObject, mine: readonly KubeObject[]): string | undefined {
  if (o.kind === 'StatefulSet') return strField(o, 'status.updateRevision');
  const hash = currentRevisionHash(o, mine);
  return hash ? `${o.metadata.name}-${hash}` : undefined;
}

export async function rollbackWorkload(client: KubeClient, target: Target): Promise<RollbackResult> {
  const ref = refOf(target);
  const ns = target.namespace || 'default';
  const no = (message: string, from: string | null = null, to: string | null = null): RollbackResult => ({ ref, from, to, rolledBack: false, message });
  if (!['Deployment', 'StatefulSet', 'DaemonSet'].includes(target.kind) || !target.apiVersion.startsWith('apps/')) {
    return no(`${target.kind} has no revisions to roll back to`);
  }
  if (target.action === 'created' || (target.revision && target.revision.before === null)) {
    return no('created by this deploy: there is no earlier version (left in place, not deleted)');
  }
  if (target.action === 'unchanged' || (target.revision && target.revision.before !== null && target.revision.before === target.revision.after)) {
    return no('unchanged by this deploy: nothing to roll back', target.revision?.before ?? null, target.revision?.before ?? null);
  }
  const r = (await client.resourceFor(target.apiVersion, target.kind)) as Resource;
  const live = await client.get(r, ns, target.name);
  if (!live) return no('no longer exists');
  const wanted = target.revision?.before ?? null;

  if (target.kind === 'Deployment') {
    const from = live.metadata.annotations?.[REVISION_ANNOTATION] ?? null;
    if (boolField(live, 'spec.paused')) return no('the Deployment is paused; resume it before rolling back', from);
    const pick = pickReplicaSet(live, await client.list(RELATED_RESOURCES.replicaSets, ns, ''), wanted);
    if (!pick.ok) return no(pick.message, from);
    const rs = pick.value;
    const to = rs.metadata.annotations?.[REVISION_ANNOTATION] ?? null;
    const template = withoutHash(field(rs, 'spec.template'));
    if (sameTemplate(template, field(live, 'spec.template'))) return no(`the current template already matches revision ${to}`, from, to);
    const res = await client.request<KubeObject>('PATCH', KubeClient.pathOf(r, ns, target.name), {
      query: { fieldManager: ROLLBACK_FIELD_MANAGER },
      contentType: 'application/json-patch+json',
      body: [{ op: 'replace', path: '/spec/template', value: template }],
    });
    return { ref, from, to, rolledBack: true, message: `restored the pod template of revision ${to} (ReplicaSet ${rs.metadata.name})`, ...gen(res.body) };
  }

  const revisions = await client.list(RELATED_RESOURCES.controllerRevisions, ns, '');
  const from =
    currentRevisionName(
      live,
      revisions.filter((cr) => controllerUid(cr) === live.metadata.uid),
    ) ?? null;
  const pick = pickControllerRevision(live, revisions, target.kind === 'StatefulSet' ? wanted : null);
  if (!pick.ok) return no(pick.message, from);
  const cr = pick.value;
  const to = cr.metadata.name ?? null;
  if (canonical(revisionTemplate(cr)) === canonical(field(live, 'spec.template'))) return no(`the current template already matches ${to}`, from, to);
  const res = await client.request<KubeObject>('PATCH', KubeClient.pathOf(r, ns, target.name), {
    query: { fieldManager: ROLLBACK_FIELD_MANAGER },
    contentType: 'application/strategic-merge-patch+json',
    body: (cr as { data?: unknown }).data,
  });
  return { ref, from, to, rolledBack: true, message: `restored ControllerRevision ${to} (revision ${intField(cr, 'revision', 0)})`, ...gen(res.body) };
}

function gen(o: KubeObject | undefined): { generation?: number } {
  return typeof o?.metadata?.generation === 'number' ? { generation: o.metadata.generation } : {};
}
