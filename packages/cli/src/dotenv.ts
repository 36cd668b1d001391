// GitLab's dotenv report (`artifacts:reports:dotenv`) is a narrow format: names of [A-Za-z0-9_],
// one `KEY=value` a line, no quoting GitLab and gitlab-ci-local agree on (the latter's parser cuts
// a value at `#` and strips quotes and outer blanks), and a few KB in all. This module turns an
// action's outputs into lines that survive it unchanged; what cannot goes to a file beside the
// dotenv, and the dotenv holds that file's path as `<KEY>_FILE`.
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** GitLab.com and self-managed defaults allow a 5 KB file: leave room for other writers. */
export const DOTENV_BUDGET_BYTES = 4096;
/** One value above this goes to a file, so a big JSON cannot crowd out every other output. */
export const DOTENV_VALUE_BYTES = 1024;

/**
 * Outputs that always go to a file: documents that grow with the work (every applied object, every
 * target), so a later job reads `<KEY>_FILE` whatever their size that day.
 */
export const FILE_OUTPUTS: Readonly<Record<string, readonly string[]>> = {
  'docker-build': ['metadata'],
  'k8s-deploy': ['resources', 'pruned'],
  'smoke-test': ['results'],
  'rollout-verify': ['failed-resources', 'rolled-back'],
};

export function dotenvKey(action: string, output: string): string {
  return `${action}_${output}`.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
}

export interface DotenvPlan {
  /** The lines for the dotenv file, each `KEY=value`. */
  lines: string[];
  /** Values too large or too awkward for a line, written as they are. */
  files: { path: string; content: string }[];
}

/** A JSON document on one line (outputs such as `refs` and `digests` may arrive indented). */
function oneLineJson(value: string): string | undefined {
  const t = value.trim();
  if (!/^[[{]/.test(t)) return undefined;
  try {
    return JSON.stringify(JSON.parse(t));
  } catch {
    return undefined;
  }
}

/**
 * Lists one item a line (docker-build's `tags`) become comma-separated, the form every Shipline
 * list input also reads; items holding a comma cannot, so such a value goes to a file.
 */
function oneLineList(value: string): string | undefined {
  const items = value
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  if (items.some((i) => i.includes(','))) return undefined;
  return items.join(',');
}

/** Would this text come back from both GitLab's and gitlab-ci-local's parsers exactly as written? */
function survivesALine(v: string): boolean {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f#]/.test(v)) return false;
  if (v !== v.trim()) return false;
  return !/^['"`]/.test(v);
}

/**
 * Plans the dotenv of one action run. `spillDir`/`spillBase` name where files go:
 * `<spillDir>/<spillBase>-<action>-<output>.<json|txt>`.
 */
export function planDotenv(action: string, outputs: Iterable<readonly [string, string]>, spillDir: string, spillBase: string): DotenvPlan {
  const lines: string[] = [];
  const files: DotenvPlan['files'] = [];
  let used = 0;
  for (const [name, raw] of outputs) {
    const key = dotenvKey(action, name);
    const json = oneLineJson(raw);
    let value: string | undefined = json ?? (/[\r\n]/.test(raw) ? oneLineList(raw) : raw);
    const line = value === undefined ? '' : `${key}=${value}\n`;
    const bytes = Buffer.byteLength(line);
    const alwaysFile = FILE_OUTPUTS[action]?.includes(name) === true;
    if (!alwaysFile && value !== undefined && survivesALine(value) && bytes <= DOTENV_VALUE_BYTES && used + bytes <= DOTENV_BUDGET_BYTES) {
      lines.push(line.slice(0, -1));
      used += bytes;
      continue;
    }
    value = undefined;
    const path = join(spillDir, `${spillBase}-${action}-${name}.${json === undefined ? 'txt' : 'json'}`);
    files.push({ path, content: raw });
    const pointer = `${key}_FILE=${path}`;
    lines.push(pointer);
    used += Buffer.byteLength(pointer) + 1;
  }
  return { lines, files };
}

/** Appends one action's outputs to the dotenv at `path` (several `shipline` calls may share one). */
export function writeDotenv(path: string, action: string, outputs: Iterable<readonly [string, string]>): void {
  const plan = planDotenv(action, outputs, dirname(path), basename(path).replace(/\.env$/, ''));
  for (const f of plan.files) {
    mkdirSync(dirname(f.path), { recursive: true });
    // Outputs are not secrets (secrets never reach an output); the next job reads this as an artifact.
    writeFileSync(f.path, f.content, { mode: 0o644 });
  }
  if (plan.lines.length) appendFileSync(path, `${plan.lines.join('\n')}\n`, { mode: 0o644 });
}
