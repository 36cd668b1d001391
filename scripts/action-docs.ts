// Keeps each action's README tables equal to its action.yml: `node scripts/action-docs.ts` rewrites
// the text between the markers; test/action-docs.test.ts fails when they differ.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type ActionMeta, readActionMeta } from '../packages/kit/src/meta.ts';

const root = resolve(import.meta.dirname, '..');
export const START = '<!-- action-docs:start (generated from action.yml by scripts/action-docs.ts) -->';
export const END = '<!-- action-docs:end -->';

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');

export function renderTables(meta: ActionMeta): string {
  const inputs = Object.entries(meta.inputs).map(
    ([name, i]) => `| \`${name}\` | ${i.required ? 'yes' : 'no'} | ${i.default === undefined ? '' : `\`${cell(i.default)}\``} | ${cell(i.description)} |`,
  );
  const outputs = Object.entries(meta.outputs).map(([name, o]) => `| \`${name}\` | ${cell(o.description)} |`);
  return [
    START,
    '### Inputs',
    '',
    '| Name | Required | Default | Description |',
    '| --- | --- | --- | --- |',
    ...inputs,
    '',
    '### Outputs',
    '',
    '| Name | Description |',
    '| --- | --- |',
    ...outputs,
    END,
  ].join('\n');
}

export function actionNames(): string[] {
  return readdirSync(join(root, 'actions')).filter((n) => {
    try {
      readFileSync(join(root, 'actions', n, 'action.yml'));
      return true;
    } catch {
      return false;
    }
  });
}

/** The README with its generated block replaced, or undefined when it has no markers. */
export function withTables(readme: string, meta: ActionMeta): string | undefined {
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) return undefined;
  return readme.slice(0, a) + renderTables(meta) + readme.slice(b + END.length);
}

if (import.meta.main) {
  for (const name of actionNames()) {
    const meta = readActionMeta(join(root, 'actions', name, 'action.yml'));
    const path = join(root, 'actions', name, 'README.md');
    const next = withTables(readFileSync(path, 'utf8'), meta);
    if (next === undefined) throw new Error(`${path} has no action-docs markers`);
    writeFileSync(path, next);
    process.stderr.write(`updated ${path}\n`);
  }
}
