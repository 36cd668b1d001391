import { existsSync, statSync } from 'node:fs';
import { formatDuration, MAX_TIMER_MS, parseDuration } from './duration.ts';
import { UserError } from './errors.ts';
import type { MaskMode } from './mask.ts';
import { redactUrl } from './redact-url.ts';

/** How one input is read: what the raw text may be and what it becomes. */
export interface Input<T> {
  /** Human name of the type, for help and docs (`duration`, `list of URLs`). */
  readonly type: string;
  readonly required: boolean;
  /** The default as it appears in action.yml (raw text, parsed like user text). */
  readonly default: string | undefined;
  /**
   * Masked before use; never echoed in errors. `whole`: a structured document (a kubeconfig) whose
   * lines are mostly ordinary text: it is redacted locally as a whole, and the action masks its
   * secret fields one by one (the runner is never told to mask the document or its lines).
   */
  readonly secret: boolean | 'whole';
  /** Turns raw text (never empty) into a value or throws UserError. */
  parse(raw: string, name: string): T;
  /** Value when the input is absent and has no default. */
  readonly absent: T;
}

export type Schema = Record<string, Input<unknown>>;
export type InputsOf<S extends Schema> = { [K in keyof S]: S[K] extends Input<infer T> ? T : never };

interface Common {
  required?: boolean;
  default?: string;
  secret?: boolean | 'whole';
}
type Out<T, O> = O extends { required: true } ? T : O extends { default: string } ? T : T | undefined;

/** What an error says for the value: the value quoted, or for a secret input no part of it. */
type Shown = (raw: string) => string;

function make<T, O extends Common>(type: string, o: O | undefined, parse: (raw: string, name: string, shown: Shown) => T): Input<Out<T, O>> {
  const shown: Shown = o?.secret ? () => 'the value (not shown: the input is secret)' : quote;
  return {
    type,
    required: o?.required === true,
    default: o?.default,
    secret: o?.secret ?? false,
    parse: ((raw: string, name: string) => parse(raw, name, shown)) as (raw: string, name: string) => Out<T, O>,
    absent: undefined as Out<T, O>,
  };
}

function bad(name: string, message: string, hint: string): never {
  throw new UserError(message, { input: name, hint });
}

/** Quotes user text in messages, shortened so one line stays readable. */
export function quote(raw: string): string {
  const s = raw.length > 80 ? `${raw.slice(0, 77)}...` : raw;
  return JSON.stringify(s);
}

export function string<O extends Common & { pattern?: RegExp; patternHint?: string }>(o?: O) {
  return make('string', o, (raw, name, shown) => {
    if (o?.pattern && !o.pattern.test(raw)) bad(name, `${shown(raw)} has the wrong form`, o.patternHint ?? `it must match ${o.pattern}`);
    return raw;
  });
}

const TRUE = new Set(['true', 'True', 'TRUE']);
const FALSE = new Set(['false', 'False', 'FALSE']);
const YAML11 = new Set(['yes', 'no', 'on', 'off', 'y', 'n', 'Yes', 'No', 'On', 'Off', 'YES', 'NO', 'ON', 'OFF', '1', '0']);

/** YAML 1.2 core schema booleans only: `yes`/`on` are refused rather than guessed. */
export function boolean<O extends Common>(o?: O) {
  return make('boolean', o, (raw, name, shown) => {
    if (TRUE.has(raw)) return true;
    if (FALSE.has(raw)) return false;
    const hint = YAML11.has(raw) && !o?.secret ? 'YAML 1.2 booleans are `true` or `false` (yes/no/on/off are not booleans)' : 'use `true` or `false`';
    return bad(name, `${shown(raw)} is not a boolean`, hint);
  });
}

export function integer<O extends Common & { min?: number; max?: number }>(o?: O) {
  const range = rangeText(o?.min, o?.max);
  return make(`integer${range}`, o, (raw, name, shown) => {
    if (!/^-?\d+$/.test(raw)) bad(name, `${shown(raw)} is not a whole number`, `use digits only${range}`);
    const n = Number(raw);
    checkRange(n, name, shown(raw), o?.min, o?.max);
    return n;
  });
}

export function number<O extends Common & { min?: number; max?: number }>(o?: O) {
  const range = rangeText(o?.min, o?.max);
  return make(`number${range}`, o, (raw, name, shown) => {
    if (!/^-?\d+(\.\d+)?$/.test(raw)) bad(name, `${shown(raw)} is not a number`, `use a decimal number such as 1.5${range}`);
    const n = Number(raw);
    checkRange(n, name, shown(raw), o?.min, o?.max);
    return n;
  });
}

function rangeText(min?: number, max?: number): string {
  if (min !== undefined && max !== undefined) return ` from ${min} to ${max}`;
  if (min !== undefined) return ` >= ${min}`;
  if (max !== undefined) return ` <= ${max}`;
  return '';
}

function checkRange(n: number, name: string, shownRaw: string, min?: number, max?: number): void {
  if ((min !== undefined && n < min) || (max !== undefined && n > max) || !Number.isFinite(n)) {
    bad(name, `${shownRaw} is out of range`, `use a value${rangeText(min, max)}`);
  }
}

/** A bound of a duration input: milliseconds, or a duration as users write it (`100ms`). */
function boundMs(b: number | string | undefined, which: string): number | undefined {
  if (b === undefined || typeof b === 'number') return b;
  const ms = parseDuration(b);
  // A schema error, not a user's: fail when the schema is built.
  if (ms === undefined) throw new Error(`duration ${which} ${JSON.stringify(b)} is not a duration`);
  return ms;
}

/**
 * `500ms`, `30s`, `5m`, `1h`; returns milliseconds. `min` is the floor for this input (an interval
 * of 0 would spin); every duration is capped at what a timer can hold (2^31-1 ms, about 24.8 days:
 * a longer one fires at once), or at `max` when lower.
 */
export function duration<O extends Common & { min?: number | string; max?: number | string }>(o?: O) {
  const min = boundMs(o?.min, 'min');
  const max = Math.min(boundMs(o?.max, 'max') ?? MAX_TIMER_MS, MAX_TIMER_MS);
  return make('duration', o, (raw, name, shown) => {
    const ms = parseDuration(raw);
    if (ms === undefined) bad(name, `${shown(raw)} is not a duration`, 'use a number with a unit: 500ms, 30s, 5m, 1h');
    if (min !== undefined && ms < min) bad(name, `${shown(raw)} is too short`, `use at least ${formatDuration(min)}`);
    if (ms > max) {
      bad(
        name,
        `${shown(raw)} is too long`,
        max === MAX_TIMER_MS ? `use at most ${formatDuration(max)} (the longest wait a timer holds)` : `use at most ${formatDuration(max)}`,
      );
    }
    return ms;
  });
}

export function url<O extends Common & { protocols?: string[] }>(o?: O) {
  const protocols = o?.protocols ?? ['http:', 'https:'];
  return make('URL', o, (raw, name, shown) => parseUrl(raw, name, protocols, o?.secret ? shown : (r) => quote(redactUrl(r))));
}

function parseUrl(raw: string, name: string, protocols: string[], shown: Shown): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return bad(name, `${shown(raw)} is not a valid URL`, `write an absolute URL such as ${protocols[0]}//127.0.0.1:8080/healthz`);
  }
  if (!protocols.includes(u.protocol)) {
    bad(name, `${shown(raw)} uses ${u.protocol.replace(/:$/, '')}`, `use ${protocols.map((p) => p.replace(/:$/, '')).join(' or ')}`);
  }
  if (!u.hostname) bad(name, `${shown(raw)} has no host`, 'write an absolute URL with a host');
  return u;
}

export function enumOf<const V extends string, O extends Common>(values: readonly V[], o?: O & { caseInsensitive?: boolean }) {
  return make(`one of ${values.join(', ')}`, o, (raw, name, shown) => {
    const found = values.find((v) => (o?.caseInsensitive ? v.toLowerCase() === raw.toLowerCase() : v === raw));
    if (found === undefined) bad(name, `${shown(raw)} is not allowed`, `use one of: ${values.join(', ')}`);
    return found;
  });
}

/** A JavaScript regular expression, written without slashes. */
export function regex<O extends Common>(o?: O) {
  return make('regular expression', o, (raw, name, shown) => {
    try {
      return new RegExp(raw);
    } catch (e) {
      // V8's message quotes the pattern itself.
      const why = o?.secret ? 'syntax error' : e instanceof Error ? e.message.replace(/^Invalid regular expression: /, '') : String(e);
      return bad(name, `${shown(raw)} is not a valid regular expression (${why})`, 'escape special characters such as ( [ { * + ? with a backslash');
    }
  });
}

/** A path to an existing file (checked when the input is read, before any work starts). */
export function file<O extends Common>(o?: O) {
  return make('file path', o, (raw, name, shown) => {
    if (!existsSync(raw)) bad(name, `file ${shown(raw)} does not exist`, 'give a path relative to the working directory or an absolute path');
    if (!statSync(raw).isFile()) bad(name, `${shown(raw)} is not a file`, 'give the path of a regular file');
    return raw;
  });
}

/**
 * A list: one item a line, or (when `commas` is true and there is a single line) comma-separated.
 * Every item goes through `item`, whose errors name the item's position.
 */
/** An absent list is an empty list, so callers never check for undefined. */
export function list<T, O extends Common & { commas?: boolean; min?: number }>(item: Input<T>, o?: O): Input<NonNullable<T>[]> {
  const commas = o?.commas ?? true;
  const spec = make(`list of ${item.type}`, o, (raw, name) => {
    const items = splitList(raw, commas);
    if (o?.min !== undefined && items.length < o.min) bad(name, `needs at least ${o.min} item(s)`, 'give one item a line');
    return items.map((it) => item.parse(it, name));
  });
  return { ...spec, absent: [] } as Input<NonNullable<T>[]>;
}

export function splitList(raw: string, commas = true): string[] {
  const lines = raw
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  if (commas && lines.length === 1)
    return (lines[0] as string)
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  return lines;
}

/** Any custom rule: `parse` throws UserError through the `bad` helper it is handed. */
export function custom<T>(type: string, parse: (raw: string, fail: (message: string, hint: string) => never) => T, o?: Common): Input<T> {
  return make(type, o, (raw, name) => parse(raw, (message, hint) => bad(name, message, hint))) as Input<T>;
}

/** The mask mode of a secret input. */
export function maskMode(spec: Input<unknown>): MaskMode {
  return spec.secret === 'whole' ? 'structured' : 'lines';
}

/** The long values of a YAML document (tokens, base64 data), without its keys and ordinary words. */
function documentSecrets(doc: string): string[] {
  const out: string[] = [];
  for (const line of doc.split(/\r?\n/)) {
    const value = line.replace(/^\s*(-\s+)?[\w.-]+:(\s+|$)/, '');
    for (const w of value.match(/\S{16,}/g) ?? []) if (!w.endsWith(':')) out.push(w);
  }
  return out;
}

/**
 * True when `text` holds any part of `secret` that could identify it: 8 characters in a row (of a
 * line, for `lines`; of a long word — a token, base64 data — for `structured` documents, whose
 * ordinary words also appear in messages about them).
 */
export function revealsSecret(text: string, secret: string, mode: MaskMode = 'lines'): boolean {
  const pieces = mode === 'lines' ? secret.split(/\r?\n/).map((l) => l.trim()) : documentSecrets(secret);
  if (mode === 'lines' && secret.trim().length > 0 && secret.trim().length < 8 && text.includes(secret.trim())) return true;
  for (const p of pieces) {
    if (p.length < 8) continue;
    for (let i = 0; i + 8 <= p.length; i++) if (text.includes(p.slice(i, i + 8))) return true;
  }
  return false;
}

/**
 * The last guard for secret inputs: an error from a type's parser, a custom rule or a cross-input
 * check that quotes any piece of the value is replaced by one that does not.
 */
export function scrubbed(e: unknown, raw: string, spec: Input<unknown>): unknown {
  if (!(e instanceof UserError)) return e;
  const mode = maskMode(spec);
  const leaks = (t: string | undefined) => t !== undefined && revealsSecret(t, raw, mode);
  if (!leaks(e.message) && !leaks(e.hint)) return e;
  return new UserError(`is not a valid ${spec.type} (the value is not shown: the input is secret)`, {
    input: e.input,
    ...(leaks(e.hint) ? {} : e.hint ? { hint: e.hint } : {}),
  });
}

/** Reads every input of a schema; throws the first UserError met. */
export function parseInputs<S extends Schema>(
  schema: S,
  read: (name: string) => string | undefined,
  onSecret?: (value: string, mode: MaskMode) => void,
): InputsOf<S> {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(schema)) {
    // Trimmed like every input (as @actions/core trims): a password pasted with a trailing newline works.
    let raw = read(name)?.trim();
    if (raw !== undefined && spec.secret && raw !== '') onSecret?.(raw, maskMode(spec));
    if (raw === undefined || raw === '') raw = spec.default?.trim();
    if (raw === undefined || raw === '') {
      if (spec.required) throw new UserError('is required', { input: name, hint: `set \`${name}\` (${spec.type})` });
      out[name] = spec.absent;
      continue;
    }
    try {
      out[name] = spec.parse(raw, name);
    } catch (e) {
      throw spec.secret ? scrubbed(e, raw, spec) : e;
    }
  }
  return out as InputsOf<S>;
}
