import { readFileSync } from 'node:fs';
import type { Schema } from '@shipline/kit';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface Parsed {
  help: boolean;
  inputs: Map<string, string>;
  /** Where each secret input came from when it was not a plain flag (for one log line, never the value). */
  sources: Map<string, string>;
}

/** `SHIPLINE_REGISTRY_PASSWORD` for `registry-password`. */
export function envName(input: string): string {
  return `SHIPLINE_${input.toUpperCase().replace(/-/g, '_')}`;
}

/**
 * `--name value`, `--name=value`, and for booleans a bare `--name` (true). A repeated input is
 * joined with newlines, so lists can be given one item a flag. Any input can come from a file
 * (`--password-file PATH`), and a secret input also from `SHIPLINE_<NAME>` in the environment: a
 * flag's value is readable by every user of the machine in `ps`. Flags win over the environment.
 */
export function parseArgs(argv: readonly string[], schema: Schema, action: string, env: Readonly<Record<string, string | undefined>> = {}): Parsed {
  const inputs = new Map<string, string>();
  const sources = new Map<string, string>();
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (!arg.startsWith('--') || arg === '--') {
      throw new UsageError(`unexpected argument ${JSON.stringify(arg)}: inputs are given as --name value`);
    }
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    // `--password-file` names a file holding the input `password`: for secrets (kept out of `ps`) and
    // for outputs a GitLab dotenv could not hold (`--resources-file "$K8S_DEPLOY_RESOURCES_FILE"`).
    const fromFile = !schema[flag] && flag.endsWith('-file') && schema[flag.slice(0, -5)] ? flag.slice(0, -5) : undefined;
    const name = fromFile ?? flag;
    const spec = schema[name];
    if (!spec) {
      const near = Object.keys(schema).filter((k) => k.includes(flag) || flag.includes(k));
      const hint = near.length ? ` (did you mean --${near.join(', --')}?)` : '';
      throw new UsageError(`${action} has no input --${flag}${hint}; see \`shipline ${action} --help\``);
    }
    let value: string;
    if (eq > 0) value = arg.slice(eq + 1);
    else {
      const next = argv[i + 1];
      const isFlag = next?.startsWith('--') === true;
      if (!fromFile && spec.type === 'boolean' && (next === undefined || isFlag)) value = 'true';
      else if (next === undefined || isFlag) {
        // A value that itself starts with `--` can still be given as --name=--value.
        throw new UsageError(`--${flag} needs a value${isFlag ? ` (got the flag ${next})` : ''}; write --${flag} VALUE or --${flag}=VALUE`);
      } else {
        value = next;
        i++;
      }
    }
    if (fromFile) {
      try {
        value = readFileSync(value, 'utf8');
      } catch (e) {
        throw new UsageError(`--${flag}: cannot read ${value} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
      }
      sources.set(name, `the file given by --${flag}`);
    } else if (spec.secret) sources.delete(name);
    const prev = inputs.get(name);
    inputs.set(name, prev === undefined ? value : `${prev}\n${value}`);
  }
  for (const [name, spec] of Object.entries(schema)) {
    if (!spec.secret || inputs.has(name)) continue;
    const v = env[envName(name)];
    if (v === undefined || v === '') continue;
    inputs.set(name, v);
    sources.set(name, `$${envName(name)}`);
  }
  return { help, inputs, sources };
}
