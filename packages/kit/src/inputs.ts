import { existsSync, statSync } from 'node:fs';
import { formatDuration, parseDuration } from './duration.ts';
import { UserError } from './errors.ts';

/** How one input is read: what the raw text may be and what it becomes. */
export interface Input<T> {
  /** Human name of the type, for help and docs (`duration`, `list of URLs`). */
  readonly type: string;
  readonly required: boolean;
  /** The default as it appears in action.yml (raw text, parsed like user text). */
  readonly default: string | undefined;
  /** Masked before use; never echoed in errors. `whole`: masked as one value, not line by line. */
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

function make<T, O extends Common>(type: string, o: O | undefined, parse: (raw: string, name: string) => T): Input<Out<T, O>> {
  return {
    type,
    required: o?.required === true,
    default: o?.default,
    secret: o?.secret ?? false,
    parse: parse as (raw: string, name: string) => Out<T, O>,
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
  return make('string', o, (raw, name) => {
    if (o?.pattern && !o.pattern.test(raw)) {
      bad(name, o.secret ? 'value has the wrong form' : `${quote(raw)} has the wrong form`, o.patternHint ?? `it must match ${o.pattern}`);
    }
    return raw;
  });
}

const TRUE = new Set(['true', 'True', 'TRUE']);
const FALSE = new Set(['false', 'False', 'FALSE']);
const YAML11 = new Set(['yes', 'no', 'on', 'off', 'y', 'n', 'Yes', 'No', 'On', 'Off', 'YES', 'NO', 'ON', 'OFF', '1', '0']);

/** YAML 1.2 core schema booleans only: `yes`/`on` are refused rather than guessed. */
export function boolean<O extends Common>(o?: O) {
  return make('boolean', o, (raw, name) => {
    if (TRUE.has(raw)) return true;
    if (FALSE.has(raw)) return false;
    const hint = YAML11.has(raw) ? 'YAML 1.2 booleans are `true` or `false` (yes/no/on/off are not booleans)' : 'use `true` or `false`';
    return bad(name, `${quote(raw)} is not a boolean`, hint);
  });
}

export function integer<O extends Common & { min?: number; max?: number }>(o?: O) {
  const range = rangeText(o?.min, o?.max);
  return make(`integer${range}`, o, (raw, name) => {
    if (!/^-?\d+$/.test(raw)) bad(name, `${quote(raw)} is not a whole number`, `use digits only${range}`);
    const n = Number(raw);
    checkRange(n, name, raw, o?.min, o?.max);
    return n;
  });
}

export function number<O extends Common & { min?: number; max?: number }>(o?: O) {
  const range = rangeText(o?.min, o?.max);
  return make(`number${range}`, o, (raw, name) => {
    if (!/^-?\d+(\.\d+)?$/.test(raw)) bad(name, `${quote(raw)} is not a number`, `use a decimal number such as 1.5${range}`);
    const n = Number(raw);
    checkRange(n, name, raw, o?.min, o?.max);
    return n;
  });
}

function rangeText(min?: number, max?: number): string {
  if (min !== undefined && max !== undefined) return ` from ${min} to ${max}`;
  if (min !== undefined) return ` >= ${min}`;
  if (max !== undefined) return ` <= ${max}`;
  return '';
}

function checkRange(n: number, name: string, raw: string, min?: number, max?: number): void {
  if ((min !== undefined && n < min) || (max !== undefined && n > max) || !Number.isFinite(n)) {
    bad(name, `${quote(raw)} is out of range`, `use a value${rangeText(min, max)}`);
  }
}

/** `500ms`, `30s`, `5m`, `1h`; returns milliseconds. */
export function duration<O extends Common & { min?: number; max?: number }>(o?: O) {
  return make('duration', o, (raw, name) => {
    const ms = parseDuration(raw);
    if (ms === undefined) bad(name, `${quote(raw)} is not a duration`, 'use a number with a unit: 500ms, 30s, 5m, 1h');
    if (o?.min !== undefined && ms < o.min) bad(name, `${quote(raw)} is too short`, `use at least ${formatDuration(o.min)}`);
    if (o?.max !== undefined && ms > o.max) bad(name, `${quote(raw)} is too long`, `use at most ${formatDuration(o.max)}`);
    return ms;
  });
}

export function url<O extends Common & { protocols?: string[] }>(o?: O) {
  const protocols = o?.protocols ?? ['http:', 'https:'];
  return make('URL', o, (raw, name) => parseUrl(raw, name, protocols));
}

function parseUrl(raw: string, name: string, protocols: string[]): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return bad(name, `${quote(raw)} is not a valid URL`, `write an absolute URL such as ${protocols[0]}//127.0.0.1:8080/healthz`);
  }
  if (!protocols.includes(u.protocol)) {
    bad(name, `${quote(raw)} uses ${u.protocol.replace(/:$/, '')}`, `use ${protocols.map((p) => p.replace(/:$/, '')).join(' or ')}`);
  }
  if (!u.hostname) bad(name, `${quote(raw)} has no host`, 'write an absolute URL with a host');
  return u;
}

export function enumOf<const V extends string, O extends Common>(values: readonly V[], o?: O & { caseInsensitive?: boolean }) {
  return make(`one of ${values.join(', ')}`, o, (raw, name) => {
    const found = values.find((v) => (o?.caseInsensitive ? v.toLowerCase() === raw.toLowerCase() : v === raw));
    if (found === undefined) bad(name, `${quote(raw)} is not allowed`, `use one of: ${values.join(', ')}`);
    return found;
  });
}

/** A JavaScript regular expression, written without slashes. */
export function regex<O extends Common>(o?: O) {
  return make('regular expression', o, (raw, name) => {
    try {
      return new RegExp(raw);
    } catch (e) {
      const why = e instanceof Error ? e.message.replace(/^Invalid regular expression: /, '') : String(e);
      return bad(name, `${quote(raw)} is not a valid regular expression (${why})`, 'escape special characters such as ( [ { * + ? with a backslash');
    }
  });
}

/** A path to an existing file (checked when the input is read, before any work starts). */
export function file<O extends Common>(o?: O) {
  return make('file path', o, (raw, name) => {
    if (!existsSync(raw)) bad(name, `file ${quote(raw)} does not exist`, 'give a path relative to the working directory or an absolute path');
    if (!statSync(raw).isFile()) bad(name, `${quote(raw)} is not a file`, 'give the path of a regular file');
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

/** Reads every input of a schema; throws the first UserError met. */
export function parseInputs<S extends Schema>(
  schema: S,
  read: (name: string) => string | undefined,
  onSecret?: (value: string, perLine: boolean) => void,
): InputsOf<S> {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(schema)) {
    let raw = read(name);
    if (raw !== undefined && spec.secret && raw !== '') onSecret?.(raw, spec.secret !== 'whole');
    if (raw === undefined || raw.trim() === '') raw = spec.default;
    if (raw === undefined || raw.trim() === '') {
      if (spec.required) throw new UserError('is required', { input: name, hint: `set \`${name}\` (${spec.type})` });
      out[name] = spec.absent;
      continue;
    }
    out[name] = spec.parse(spec.secret ? raw : raw.trim(), name);
  }
  return out as InputsOf<S>;
}
