// What a dry-run would change: the live object and the server's dry-run result, both stripped of
// fields the server owns, compared as YAML lines.
import { stringify } from 'yaml';
import { isRecord, type KubeObject } from './object.ts';

const SERVER_METADATA = ['managedFields', 'resourceVersion', 'uid', 'creationTimestamp', 'generation', 'selfLink'];

/** A copy without status and server-set metadata, so a diff shows only what apply changes. */
export function comparable(o: KubeObject): Record<string, unknown> {
  const copy = structuredClone(o) as Record<string, unknown>;
  delete copy.status;
  if (isRecord(copy.metadata)) {
    for (const k of SERVER_METADATA) delete copy.metadata[k];
    if (isRecord(copy.metadata.annotations)) {
      delete copy.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration'];
      delete copy.metadata.annotations['deployment.kubernetes.io/revision'];
      if (Object.keys(copy.metadata.annotations).length === 0) delete copy.metadata.annotations;
    }
  }
  return copy;
}

/** JSON with object keys sorted: equal text means equal content (cheaper than YAML for comparing). */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x,
  );
}

/** True when apply would leave the object as it is (status and server-set metadata aside). */
export function sameObject(a: KubeObject, b: KubeObject): boolean {
  return canonicalJson(comparable(a)) === canonicalJson(comparable(b));
}

export function toYaml(o: unknown): string {
  return stringify(o, { lineWidth: 0, sortMapEntries: true });
}

/** Unified-style line diff (`-` live, `+` after apply, two lines of context); empty when equal. */
export function diffLines(before: string, after: string, context = 2): string {
  const a = before === '' ? [] : before.replace(/\n$/, '').split('\n');
  const b = after === '' ? [] : after.replace(/\n$/, '').split('\n');
  const ops = lcsOps(a, b);
  if (ops.every((o) => o.op === ' ')) return '';
  const keep = new Array<boolean>(ops.length).fill(false);
  ops.forEach((o, i) => {
    if (o.op === ' ') return;
    for (let j = Math.max(0, i - context); j <= Math.min(ops.length - 1, i + context); j++) keep[j] = true;
  });
  const out: string[] = [];
  let skipped = false;
  ops.forEach((o, i) => {
    if (!keep[i]) {
      skipped = true;
      return;
    }
    if (skipped && out.length) out.push('  ...');
    skipped = false;
    out.push(`${o.op} ${o.line}`);
  });
  return out.join('\n');
}

function lcsOps(a: string[], b: string[]): { op: ' ' | '-' | '+'; line: string }[] {
  // Trim the common head and tail first: most diffs are a few lines in a long object.
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const x = a.slice(start, endA);
  const y = b.slice(start, endB);
  const n = x.length;
  const m = y.length;
  const table: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      (table[i] as Uint32Array)[j] =
        x[i] === y[j]
          ? ((table[i + 1] as Uint32Array)[j + 1] as number) + 1
          : Math.max((table[i + 1] as Uint32Array)[j] as number, (table[i] as Uint32Array)[j + 1] as number);
    }
  }
  const mid: { op: ' ' | '-' | '+'; line: string }[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (x[i] === y[j]) {
      mid.push({ op: ' ', line: x[i] as string });
      i++;
      j++;
    } else if (((table[i + 1] as Uint32Array)[j] as number) >= ((table[i] as Uint32Array)[j + 1] as number)) {
      mid.push({ op: '-', line: x[i++] as string });
    } else {
      mid.push({ op: '+', line: y[j++] as string });
    }
  }
  while (i < n) mid.push({ op: '-', line: x[i++] as string });
  while (j < m) mid.push({ op: '+', line: y[j++] as string });
  return [...a.slice(0, start).map((line) => ({ op: ' ' as const, line })), ...mid, ...a.slice(endA).map((line) => ({ op: ' ' as const, line }))];
}

/** Bytes a Secret value stands for: `data` is base64, `stringData` is text. */
function secretBytes(field: 'data' | 'stringData', v: unknown): number {
  if (typeof v !== 'string') return 0;
  return field === 'data' ? Buffer.from(v, 'base64').length : Buffer.byteLength(v);
}

/** The decoded bytes of a key, from `data` or `stringData` (stringData wins, as on the server). */
function secretValue(o: Record<string, unknown> | undefined, key: string): Buffer | undefined {
  if (!o) return undefined;
  if (isRecord(o.stringData) && typeof o.stringData[key] === 'string') return Buffer.from(o.stringData[key]);
  if (isRecord(o.data) && typeof o.data[key] === 'string') return Buffer.from(o.data[key], 'base64');
  return undefined;
}

/**
 * Secret `data`/`stringData` values replaced by `(redacted, N bytes, changed|unchanged)`, judged
 * against the other side, so a diff shows which keys change without showing any value. The side
 * before apply says only its size: the two lines of a changed key of equal size must still differ.
 */
export function redactSecret(o: Record<string, unknown>, other: Record<string, unknown> | undefined, side: 'before' | 'after'): Record<string, unknown> {
  if (o.kind !== 'Secret') return o;
  const out: Record<string, unknown> = { ...o };
  for (const field of ['data', 'stringData'] as const) {
    const values = o[field];
    if (!isRecord(values)) continue;
    const red: Record<string, string> = {};
    for (const [k, v] of Object.entries(values)) {
      const n = secretBytes(field, v);
      const mine = secretValue(o, k);
      const theirs = secretValue(other, k);
      const same = mine !== undefined && theirs !== undefined && mine.equals(theirs);
      red[k] = same ? `(redacted, ${n} bytes, unchanged)` : side === 'after' ? `(redacted, ${n} bytes, changed)` : `(redacted, ${n} bytes)`;
    }
    out[field] = red;
  }
  return out;
}

/** The diff of one object: all `+` when it does not exist yet. Secret values never appear. */
export function diffObject(live: KubeObject | undefined, next: KubeObject): string {
  const a = live ? comparable(live) : undefined;
  const b = comparable(next);
  return diffLines(a ? toYaml(redactSecret(a, b, 'before')) : '', toYaml(redactSecret(b, a, 'after')));
}
