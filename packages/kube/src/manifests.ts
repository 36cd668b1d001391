// Reading manifests: files, directories, globs and kustomizations of multi-document YAML (or JSON),
// with declared `${KEY}` variables replaced before parsing.
//
// Two YAML parsers, on purpose: js-yaml parses well-formed files, `yaml` (the careful one) takes
// what js-yaml cannot be trusted with (syntax errors, duplicate keys, anchors) and words the error
// with its line and column. One parser alone was measured and costs too much (Node 24, one process,
// first parse as one action run pays it; the machine was busy, ranges over 3 runs):
//   bench/apply's 200 objects (flow-style ConfigMaps, Secrets, Services, Deployments):
//     js-yaml 13-50 ms, yaml 54-82 ms cold; warm medians 2-8 ms vs 21-26 ms;
//   200 block-style Deployments as teams write them (~65 lines: env, probes, resources, volumes):
//     js-yaml 46-93 ms, yaml 291-550 ms cold; warm medians 18-22 ms vs 200-288 ms.
// `yaml` alone would add 0.25-0.45 s to every deployment of a realistic set (k8s-deploy spends
// ~0.3 s before its first request); js-yaml alone has no document positions, no bound on alias
// expansion and terse errors. So the careful parser stays for errors, anchors and the kubeconfig
// (kubeconfig.ts, which smoke-test bundles without this file), and js-yaml for the common case.
import { existsSync, globSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { CORE_SCHEMA, loadAll } from 'js-yaml';
import { LineCounter, parseAllDocuments } from 'yaml';
import { ManifestError, ManifestSourceError } from './errors.ts';
import { isRecord, type KubeObject } from './object.ts';

export interface Manifest {
  object: KubeObject;
  /** Where it came from, for messages: `deploy/app.yaml:12` (line of the document's start). */
  source: string;
}

export interface LoadOptions {
  /** Paths, directories and globs are relative to this. */
  cwd: string;
  /** Declared variables: `${KEY}` is replaced by the value; undeclared `${...}` stay as written. */
  vars?: Readonly<Record<string, string>>;
  /** Renders a kustomization directory to multi-document YAML (e.g. `kubectl kustomize`). */
  kustomize?: (dir: string) => Promise<string>;
}

const EXTENSIONS = /\.(ya?ml|json)$/i;
const KUSTOMIZATION = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];
const GLOB_CHARS = /[*?[\]{}]/;

/** Loads every object of every source, in the order given (files of a directory sorted by path). */
export async function loadManifests(sources: readonly string[], opts: LoadOptions): Promise<Manifest[]> {
  const out: Manifest[] = [];
  const seen = new Set<string>();
  for (const src of sources) {
    for (const unit of resolveSource(src, opts.cwd)) {
      if (seen.has(unit.path)) continue;
      seen.add(unit.path);
      const label = displayPath(unit.path, opts.cwd);
      let text: string;
      if (unit.kind === 'kustomization') {
        if (!opts.kustomize) {
          throw new ManifestSourceError(
            src,
            `${label} is a kustomization directory and kubectl is not available to render it`,
            'put kubectl on PATH (it renders kustomizations) or give the rendered manifests',
          );
        }
        try {
          text = await opts.kustomize(unit.path);
        } catch (e) {
          throw new ManifestSourceError(
            src,
            `cannot render kustomization ${label}: ${e instanceof Error ? e.message : String(e)}`,
            'run `kubectl kustomize` on it locally to see the problem',
          );
        }
      } else {
        text = readFileSync(unit.path, 'utf8');
      }
      out.push(...parseManifests(substituteVars(text, opts.vars ?? {}), label));
    }
  }
  return out;
}

interface Unit {
  kind: 'file' | 'kustomization';
  path: string;
}

/** Files (or kustomization directories) a source names; throws when it names none. */
export function resolveSource(src: string, cwd: string): Unit[] {
  if (GLOB_CHARS.test(src)) {
    let matches: string[];
    try {
      matches = globSync(src, { cwd });
    } catch (e) {
      throw new ManifestSourceError(
        src,
        `glob ${JSON.stringify(src)} is not valid: ${e instanceof Error ? e.message : String(e)}`,
        'use *, ** and ? wildcards, e.g. k8s/**/*.yaml',
      );
    }
    const files = matches
      .map((m) => resolve(cwd, m))
      .filter((p) => statSync(p).isFile() && EXTENSIONS.test(p))
      .sort();
    if (files.length === 0) {
      throw new ManifestSourceError(src, `glob ${JSON.stringify(src)} matches no .yaml, .yml or .json file`, `check the pattern; it is relative to ${cwd}`);
    }
    return files.map((path) => ({ kind: 'file', path }));
  }
  const path = resolve(cwd, src);
  if (!existsSync(path)) throw new ManifestSourceError(src, `${JSON.stringify(src)} does not exist`, `give a file, directory or glob relative to ${cwd}`);
  const st = statSync(path);
  if (st.isFile()) return [{ kind: 'file', path }];
  if (!st.isDirectory()) throw new ManifestSourceError(src, `${JSON.stringify(src)} is neither a file nor a directory`, 'give a file, directory or glob');
  const units = walk(path);
  if (units.length === 0)
    throw new ManifestSourceError(src, `directory ${JSON.stringify(src)} holds no .yaml, .yml or .json file`, 'point at the folder that holds the manifests');
  return units;
}

// A directory holding a kustomization is one unit: its files are inputs of kustomize, not manifests.
function walk(dir: string): Unit[] {
  if (KUSTOMIZATION.some((k) => existsSync(join(dir, k)))) return [{ kind: 'kustomization', path: dir }];
  const out: Unit[] = [];
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else if (e.isFile() && EXTENSIONS.test(e.name)) out.push({ kind: 'file', path: p });
  }
  return out;
}

function displayPath(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? path : rel;
}

const VAR = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Replaces `${KEY}` for declared keys only, so shell-like text meant for the container survives. */
export function substituteVars(text: string, vars: Readonly<Record<string, string>>): string {
  return text.replace(VAR, (whole, key: string) => (Object.hasOwn(vars, key) ? (vars[key] as string) : whole));
}

/**
 * Parses multi-document YAML (JSON is YAML too) into objects; `List` kinds are flattened.
 *
 * Well-formed files take a fast parser (js-yaml with the YAML 1.2 core schema, which resolves
 * scalars as the careful one does: no timestamps, `yes`/`on` stay strings); anything it cannot
 * take as is (a syntax error, duplicate keys, anchors, an invalid object) goes through the careful
 * parser, whose positions make the error message. Both give the same objects and source lines.
 */
export function parseManifests(text: string, label: string, options: { careful?: boolean } = {}): Manifest[] {
  return (options.careful ? undefined : parseFast(text, label)) ?? parseCareful(text, label);
}

// Anchors are left to the careful parser, which bounds alias expansion.
const ANCHOR = /(^|[\s[{,:-])&[^\s]/m;

/** The fast path alone: undefined when the text needs the careful parser. */
export function parseFast(text: string, label: string): Manifest[] | undefined {
  if (ANCHOR.test(text)) return undefined;
  try {
    const docs: unknown[] = [];
    loadAll(text, (d) => docs.push(d), { schema: CORE_SCHEMA });
    const lines = documentLines(text);
    if (lines.length !== docs.length) return undefined;
    const out: Manifest[] = [];
    docs.forEach((value, i) => {
      if (value === null || value === undefined) return;
      out.push(...toObjects(value, `${label}:${lines[i]}`));
    });
    return out;
  } catch {
    return undefined;
  }
}

/**
 * The line where each document's content starts (1-based), as the careful parser numbers sources:
 * the first line after a `---` (or on it, after the marker) that is not blank or a comment.
 */
export function documentLines(text: string): number[] {
  const out: number[] = [];
  // The open document and the line its content starts on, once seen.
  let open: { line: number | undefined } | undefined;
  const lines = text.split('\n');
  const blank = /^\s*(#.*)?$/;
  lines.forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    const n = i + 1;
    if (/^---(\s|$)/.test(line)) {
      if (open) out.push(open.line ?? n);
      open = { line: blank.test(line.slice(3)) ? undefined : n };
      return;
    }
    if (/^\.\.\.(\s|$)/.test(line)) {
      if (open) out.push(open.line ?? n);
      open = undefined;
      return;
    }
    if (blank.test(line) || (!open && line.startsWith('%'))) return;
    open ??= { line: undefined };
    open.line ??= n;
  });
  if (open) out.push((open as { line: number | undefined }).line ?? lines.length);
  return out;
}

function parseCareful(text: string, label: string): Manifest[] {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (!Array.isArray(docs)) {
    // An empty stream parses to an empty List-like value.
    return [];
  }
  const out: Manifest[] = [];
  docs.forEach((doc, i) => {
    const start = doc.range?.[0] ?? 0;
    const source = `${label}:${lines.linePos(doc.contents?.range?.[0] ?? start).line}`;
    const err = doc.errors[0];
    if (err) {
      const at = lines.linePos(err.pos[0]);
      throw new ManifestError(`${label}:${at.line}:${at.col}`, `invalid YAML: ${firstLine(err.message)}`, 'fix the YAML syntax at that line');
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 1000 });
    } catch (e) {
      throw new ManifestError(source, `cannot read document ${i + 1}: ${e instanceof Error ? firstLine(e.message) : String(e)}`);
    }
    if (value === null || value === undefined) return;
    out.push(...toObjects(value, source));
  });
  return out;
}

function toObjects(value: unknown, source: string): Manifest[] {
  if (!isRecord(value))
    throw new ManifestError(source, `a manifest must be a mapping with apiVersion and kind, not ${Array.isArray(value) ? 'a list' : typeof value}`);
  if (typeof value.kind === 'string' && value.kind.endsWith('List') && Array.isArray(value.items)) {
    return value.items.flatMap((item, i) => toObjects(item, `${source} (item ${i + 1})`));
  }
  return [{ object: checkObject(value, source), source }];
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function checkObject(v: Record<string, unknown>, source: string): KubeObject {
  if (typeof v.apiVersion !== 'string' || v.apiVersion === '')
    throw new ManifestError(source, 'apiVersion is missing', 'every object needs apiVersion and kind, e.g. apps/v1 and Deployment');
  if (typeof v.kind !== 'string' || v.kind === '')
    throw new ManifestError(source, 'kind is missing', 'every object needs apiVersion and kind, e.g. apps/v1 and Deployment');
  if (!/^[A-Z][A-Za-z0-9]*$/.test(v.kind))
    throw new ManifestError(source, `kind ${JSON.stringify(v.kind)} is not a kind name`, 'kinds are CamelCase words such as Deployment');
  if (!isRecord(v.metadata)) throw new ManifestError(source, `${v.kind} has no metadata`, 'add metadata.name');
  const name = v.metadata.name;
  if (typeof name !== 'string' || name === '') {
    const gen = typeof v.metadata.generateName === 'string' ? ' (generateName cannot be applied: each run would make a new object)' : '';
    throw new ManifestError(source, `${v.kind} has no metadata.name${gen}`, 'give every object a fixed metadata.name');
  }
  if (name.length > 253 || !DNS_SUBDOMAIN.test(name.toLowerCase())) {
    throw new ManifestError(source, `${v.kind} name ${JSON.stringify(name)} is not a valid object name`, 'use lowercase letters, digits, "-" and "."');
  }
  const ns = v.metadata.namespace;
  if (ns !== undefined && (typeof ns !== 'string' || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(ns))) {
    throw new ManifestError(source, `${v.kind} ${name} has an invalid metadata.namespace ${JSON.stringify(ns)}`, 'namespaces are lowercase DNS labels');
  }
  return v as KubeObject;
}

function firstLine(s: string): string {
  return s.split('\n')[0]?.trim() ?? s;
}
