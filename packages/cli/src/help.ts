import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Schema } from '@shipline/kit';
import type { ActionMeta } from '@shipline/kit/meta';
import { envName } from './args.ts';

/** Finds actions/<name>/action.yml above this file: from dist/cli or from packages/cli/src. */
export function findActionYml(name: string, from: string): string | undefined {
  let dir = from;
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'actions', name, 'action.yml');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return undefined;
}

export function actionHelp(name: string, schema: Schema, meta: ActionMeta | undefined): string {
  const lines = [`Usage: shipline ${name} [--input value]...`, ''];
  if (meta?.description) lines.push(wrap(meta.description, 0), '');
  lines.push('Inputs:');
  for (const [input, spec] of Object.entries(schema)) {
    const m = meta?.inputs[input];
    const flags = [spec.required ? 'required' : undefined, spec.default !== undefined ? `default: ${spec.default}` : undefined].filter(Boolean);
    lines.push(`  --${input} <${spec.type}>${flags.length ? `  (${flags.join(', ')})` : ''}`);
    if (spec.secret) lines.push(`      secret: also --${input}-file PATH or $${envName(input)} (a flag's value shows in \`ps\`)`);
    if (m?.description) lines.push(wrap(m.description, 6));
  }
  if (meta && Object.keys(meta.outputs).length) {
    lines.push('', 'Outputs (printed as name=value on stdout):');
    for (const [out, o] of Object.entries(meta.outputs)) lines.push(`  ${out}`, wrap(o.description, 6));
  }
  lines.push('', 'Lists take one item a line, commas, or the flag repeated. Durations: 500ms, 30s, 5m.');
  lines.push('Secret inputs: $SHIPLINE_NAME is used only when neither --NAME nor --NAME-file gives the input.');
  lines.push('Exit codes: 0 success, 1 failure or bad input, 2 usage error.');
  return `${lines.join('\n')}\n`;
}

function wrap(text: string, indent: number, width = 96): string {
  const pad = ' '.repeat(indent);
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && pad.length + line.length + 1 + word.length > width) {
      out.push(pad + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(pad + line);
  return out.join('\n');
}
