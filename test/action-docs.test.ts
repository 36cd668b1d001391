// Every action's metadata, schema, README and bundle agree with each other.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { actions } from '../packages/cli/src/actions.ts';
import { readActionMeta } from '../packages/kit/src/meta.ts';
import { actionNames, withTables } from '../scripts/action-docs.ts';
import { repoRoot } from './support/run-action.ts';

describe.each(actionNames())('action %s', (name) => {
  const dir = join(repoRoot, 'actions', name);
  const yml = parse(readFileSync(join(dir, 'action.yml'), 'utf8'));
  const meta = readActionMeta(join(dir, 'action.yml'));

  it('runs on node24 from its committed bundle', () => {
    expect(yml.runs).toEqual({ using: 'node24', main: `../../dist/${name}/index.js` });
    expect(existsSync(join(dir, yml.runs.main))).toBe(true);
  });

  it('declares exactly the inputs its schema reads, with the same required flags and defaults', async () => {
    const load = actions[name];
    expect(load, `packages/cli/src/actions.ts lacks ${name}`).toBeDefined();
    const def = await load?.();
    const schema = def?.schema as Record<string, { required: boolean; default: string | undefined }>;
    expect(Object.keys(meta.inputs).sort()).toEqual(Object.keys(schema).sort());
    for (const [input, spec] of Object.entries(schema)) {
      expect({ input, required: meta.inputs[input]?.required, default: meta.inputs[input]?.default }).toEqual({
        input,
        required: spec.required,
        default: spec.default,
      });
    }
  });

  it('describes every input and output', () => {
    for (const [k, v] of Object.entries(meta.inputs)) expect(v.description, k).not.toBe('');
    for (const [k, v] of Object.entries(meta.outputs)) expect(v.description, k).not.toBe('');
  });

  it('has input names in kebab-case', () => {
    for (const k of [...Object.keys(meta.inputs), ...Object.keys(meta.outputs)]) expect(k).toMatch(/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/);
  });

  it('has README tables equal to action.yml (run `node scripts/action-docs.ts`)', () => {
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    const fresh = withTables(readme, meta);
    expect(fresh, 'README lacks the action-docs markers').toBeDefined();
    expect(readme).toBe(fresh);
  });
});
