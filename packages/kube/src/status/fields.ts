// Typed accessors over unstructured objects, so a rule reads `intField(o, 'status.readyReplicas', 0)`
// instead of a ladder of casts; a missing or mistyped field gives the fallback.
import { isRecord, type KubeObject } from '../object.ts';

export function field(o: unknown, path: string): unknown {
  let cur: unknown = o;
  for (const key of path.split('.')) {
    if (!isRecord(cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}

export function intField(o: unknown, path: string, fallback: number): number {
  const v = field(o, path);
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

export function strField(o: unknown, path: string): string | undefined {
  const v = field(o, path);
  return typeof v === 'string' ? v : undefined;
}

export function boolField(o: unknown, path: string): boolean {
  return field(o, path) === true;
}

export function listField(o: unknown, path: string): Record<string, unknown>[] {
  const v = field(o, path);
  return Array.isArray(v) ? v.filter(isRecord) : [];
}

export interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  lastTransitionTime?: string;
}

export function conditions(o: unknown): Condition[] {
  return listField(o, 'status.conditions').map((c) => ({
    type: String(c.type ?? ''),
    status: String(c.status ?? ''),
    reason: typeof c.reason === 'string' ? c.reason : '',
    message: typeof c.message === 'string' ? c.message : '',
    ...(typeof c.lastTransitionTime === 'string' ? { lastTransitionTime: c.lastTransitionTime } : {}),
  }));
}

export function condition(o: unknown, type: string): Condition | undefined {
  return conditions(o).find((c) => c.type === type);
}

/** uid of the controlling owner (ownerReferences[].controller), if any. */
export function controllerUid(o: KubeObject): string | undefined {
  const refs = o.metadata.ownerReferences as unknown;
  if (!Array.isArray(refs)) return undefined;
  const ref = refs.find((r) => isRecord(r) && r.controller === true);
  return isRecord(ref) && typeof ref.uid === 'string' ? ref.uid : undefined;
}

/** JSON with sorted keys, for comparing two objects the API server serialised. */
export function canonical(v: unknown): string {
  return JSON.stringify(sortKeys(v));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (!isRecord(v)) return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) out[k] = sortKeys(v[k]);
  return out;
}
