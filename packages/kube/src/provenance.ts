// Provenance: which repository, commit and CI run put a workload's spec in place. The workload's
// metadata gets all of it plus kubernetes.io/change-cause (copied by the Deployment controller onto
// ReplicaSets, so `kubectl rollout history` shows it). The pod template gets repository and commit
// only: a run URL changes on every re-run and would restart pods for nothing.
import { isWorkload, podTemplateMetaOf } from './images.ts';
import type { KubeObject } from './object.ts';

export interface Provenance {
  repository?: string;
  commit?: string;
  runUrl?: string;
}

export const ANNOTATION_PREFIX = 'shipline.dev';

export function annotateProvenance(objects: readonly KubeObject[], p: Provenance): number {
  const full: Record<string, string> = {};
  if (p.repository) full[`${ANNOTATION_PREFIX}/repository`] = p.repository;
  if (p.commit) full[`${ANNOTATION_PREFIX}/commit`] = p.commit;
  if (p.runUrl) full[`${ANNOTATION_PREFIX}/run-url`] = p.runUrl;
  if (Object.keys(full).length === 0) return 0;
  const cause = ['shipline deploy', p.repository && p.commit ? `${p.repository}@${p.commit.slice(0, 12)}` : (p.repository ?? p.commit), p.runUrl]
    .filter(Boolean)
    .join(' ');
  const template: Record<string, string> = {};
  for (const k of ['repository', 'commit']) {
    const v = full[`${ANNOTATION_PREFIX}/${k}`];
    if (v) template[`${ANNOTATION_PREFIX}/${k}`] = v;
  }
  let n = 0;
  for (const o of objects) {
    if (!isWorkload(o.kind)) continue;
    o.metadata.annotations = { ...o.metadata.annotations, ...full, 'kubernetes.io/change-cause': cause };
    const meta = podTemplateMetaOf(o);
    if (meta && Object.keys(template).length) meta.annotations = { ...(meta.annotations as Record<string, string> | undefined), ...template };
    n++;
  }
  return n;
}
