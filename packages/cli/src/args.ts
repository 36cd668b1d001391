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
}

/**
 * `--name value`, `--name=value`, and for booleans a bare `--name` (true). A repeated input is
 * joined with newlines, so lists can be given one item a flag.
 */
export function parseArgs(argv: readonly string[], schema: Schema, action: string): Parsed {
  const inputs = new Map<string, string>();
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
    const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    const spec = schema[name];
    if (!spec) {
      const near = Object.keys(schema).filter((k) => k.includes(name) || name.includes(k));
      const hint = near.length ? ` (did you mean --${near.join(', --')}?)` : '';
      throw new UsageError(`${action} has no input --${name}${hint}; see \`shipline ${action} --help\``);
    }
    let value: string;
    if (eq > 0) value = arg.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (spec.type === 'boolean' && (next === undefined || next.startsWith('--'))) value = 'true';
      else if (next === undefined) throw new UsageError(`--${name} needs a value`);
      else {
        value = next;
        i++;
      }
    }
    const prev = inputs.get(name);
    inputs.set(name, prev === undefined ? value : `${prev}\n${value}`);
  }
  return { help, inputs };
}
