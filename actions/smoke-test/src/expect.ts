/** Pure rules for what a passing response looks like. */
import { untrusted } from '@shipline/kit';

export type StatusPattern = { exact: number } | { cls: number };

/** `200`, `204`, `2xx`, `3XX`. */
export function parseStatusPattern(raw: string): StatusPattern | undefined {
  const s = raw.trim();
  if (/^[1-5]\d\d$/.test(s)) return { exact: Number(s) };
  const m = /^([1-5])xx$/i.exec(s);
  if (m) return { cls: Number(m[1]) };
  return undefined;
}

export function statusMatches(status: number, patterns: StatusPattern[]): boolean {
  return patterns.some((p) => ('exact' in p ? p.exact === status : Math.floor(status / 100) === p.cls));
}

export function formatStatusPatterns(patterns: StatusPattern[]): string {
  return patterns.map((p) => ('exact' in p ? String(p.exact) : `${p.cls}xx`)).join(', ');
}

export type PathSegment = string | number;

export interface JsonExpectation {
  path: PathSegment[];
  text: string;
  value: unknown;
}

const IDENT = /^[A-Za-z_$][\w$-]*/;

/**
 * `$.status`, `status.db`, `items[0].name`, `$["odd key"]`. Returns undefined when the path is malformed,
 * with the reason in `why`.
 */
export function parseJsonPath(raw: string, why: { reason?: string } = {}): PathSegment[] | undefined {
  let s = raw.trim();
  const out: PathSegment[] = [];
  if (s.startsWith('$')) s = s.slice(1);
  else {
    const m = IDENT.exec(s);
    if (!m) return fail(why, 'it must start with $ or a field name');
    out.push(m[0]);
    s = s.slice(m[0].length);
  }
  while (s.length) {
    if (s.startsWith('.')) {
      const m = IDENT.exec(s.slice(1));
      if (!m) return fail(why, `expected a field name after "." at "${s}"`);
      out.push(m[0]);
      s = s.slice(1 + m[0].length);
      continue;
    }
    const idx = /^\[(\d+)\]/.exec(s);
    if (idx) {
      out.push(Number(idx[1]));
      s = s.slice(idx[0].length);
      continue;
    }
    const key = /^\[(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\]/.exec(s);
    if (key) {
      out.push(key[1] !== undefined ? (JSON.parse(`"${key[1]}"`) as string) : (key[2] as string).replace(/\\'/g, "'"));
      s = s.slice(key[0].length);
      continue;
    }
    return fail(why, `unexpected "${s[0]}" at "${s}"`);
  }
  if (out.length === 0) return fail(why, 'the path selects the whole document; name a field');
  return out;
}

function fail(why: { reason?: string }, reason: string): undefined {
  why.reason = reason;
  return undefined;
}

export function formatJsonPath(path: PathSegment[]): string {
  return `$${path.map((p) => (typeof p === 'number' ? `[${p}]` : /^[A-Za-z_$][\w$]*$/.test(p) ? `.${p}` : `[${JSON.stringify(p)}]`)).join('')}`;
}

/** `path = value`: value is JSON when it parses as JSON, else a plain string. */
export function parseJsonExpectation(raw: string, why: { reason?: string } = {}): JsonExpectation | undefined {
  const m = /^(.+?)\s*==?\s*(.*)$/.exec(raw.trim());
  if (!m) return fail(why, 'write `path = value`, e.g. `$.status = "ok"`');
  const path = parseJsonPath(m[1] as string, why);
  if (!path) return undefined;
  const text = (m[2] as string).trim();
  if (text === '') return fail(why, 'the expected value is empty; write `path = value`');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = text;
  }
  return { path, text, value };
}

export function select(doc: unknown, path: PathSegment[]): { found: boolean; value?: unknown } {
  let cur: unknown = doc;
  for (const seg of path) {
    if (typeof seg === 'number') {
      if (!Array.isArray(cur) || seg >= cur.length) return { found: false };
      cur = cur[seg];
    } else {
      if (cur === null || typeof cur !== 'object' || Array.isArray(cur) || !Object.hasOwn(cur, seg)) return { found: false };
      cur = (cur as Record<string, unknown>)[seg];
    }
  }
  return { found: true, value: cur };
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

export interface Expectations {
  status: StatusPattern[];
  body: RegExp | undefined;
  json: JsonExpectation[];
  maxLatencyMs: number | undefined;
}

export interface Observed {
  status: number;
  body: string;
  truncated: boolean;
  latencyMs: number;
}

/** Every unmet expectation, as short reasons; empty when the response passes. */
export function evaluate(res: Observed, ex: Expectations): string[] {
  const reasons: string[] = [];
  if (!statusMatches(res.status, ex.status)) reasons.push(`expected status ${formatStatusPatterns(ex.status)}, got ${res.status}`);
  if (ex.body && !ex.body.test(res.body)) {
    reasons.push(`body does not match /${ex.body.source}/ (body starts: ${JSON.stringify(excerpt(res.body))}${res.truncated ? ', truncated' : ''})`);
  }
  if (ex.json.length) {
    let doc: unknown;
    let parsed = true;
    try {
      doc = JSON.parse(res.body);
    } catch {
      parsed = false;
      reasons.push(`body is not JSON${res.truncated ? ' (truncated)' : ''} (starts: ${JSON.stringify(excerpt(res.body))})`);
    }
    if (parsed) {
      for (const j of ex.json) {
        const got = select(doc, j.path);
        if (!got.found) reasons.push(`${formatJsonPath(j.path)} is missing (expected ${j.text})`);
        else if (!deepEqual(got.value, j.value))
          reasons.push(`${formatJsonPath(j.path)} is ${excerpt(JSON.stringify(got.value) ?? 'undefined')}, expected ${j.text}`);
      }
    }
  }
  if (ex.maxLatencyMs !== undefined && res.latencyMs > ex.maxLatencyMs) {
    reasons.push(`latency ${Math.round(res.latencyMs)} ms exceeds max-latency ${ex.maxLatencyMs} ms`);
  }
  return reasons;
}

/**
 * A piece of a response body for a reason: the server's text, so masked before it is cut (an
 * excerpt ending inside a reflected token must not leave most of it readable), then made inert.
 */
function excerpt(s: string, n = 80): string {
  const one = untrusted(s, { oneLine: true }).replace(/\s+/g, ' ');
  return one.length > n ? `${one.slice(0, n)}…` : one;
}

/** Nearest-rank percentile; undefined for no samples. */
export function percentile(samples: number[], p: number): number | undefined {
  if (samples.length === 0) return undefined;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}
