// The shape of a Kubernetes object as far as this package reads it, and the few helpers every
// module needs to name one in messages.

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  ownerReferences?: { kind: string; name: string; controller?: boolean }[];
  [key: string]: unknown;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

/** `Deployment shop/web`, or `Namespace shop` for cluster-scoped objects. */
export function describeObject(o: { kind: string; metadata: { name?: string; namespace?: string } }): string {
  const ns = o.metadata.namespace;
  return `${o.kind} ${ns ? `${ns}/` : ''}${o.metadata.name ?? '(no name)'}`;
}

/** `group` of an apiVersion: `apps/v1` → `apps`, `v1` → `` (core). */
export function groupOf(apiVersion: string): string {
  const i = apiVersion.indexOf('/');
  return i < 0 ? '' : apiVersion.slice(0, i);
}

/** A key naming one object regardless of version: group, kind, namespace, name. */
export function objectKey(o: { apiVersion: string; kind: string; metadata: { name?: string; namespace?: string } }): string {
  return `${groupOf(o.apiVersion)}|${o.kind}|${o.metadata.namespace ?? ''}|${o.metadata.name ?? ''}`;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
