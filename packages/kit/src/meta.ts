import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export interface ActionMeta {
  name: string;
  description: string;
  inputs: Record<string, { description: string; required: boolean; default: string | undefined }>;
  outputs: Record<string, { description: string }>;
}

/** Reads the parts of an action.yml that help text and docs are made from. */
export function readActionMeta(path: string): ActionMeta {
  const doc = parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  const inputs: ActionMeta['inputs'] = {};
  for (const [name, v] of Object.entries((doc.inputs ?? {}) as Record<string, Record<string, unknown>>)) {
    inputs[name] = {
      description: String(v.description ?? '').trim(),
      required: v.required === true,
      default: v.default === undefined ? undefined : String(v.default),
    };
  }
  const outputs: ActionMeta['outputs'] = {};
  for (const [name, v] of Object.entries((doc.outputs ?? {}) as Record<string, Record<string, unknown>>)) {
    outputs[name] = { description: String(v.description ?? '').trim() };
  }
  return { name: String(doc.name ?? ''), description: String(doc.description ?? '').trim(), inputs, outputs };
}
