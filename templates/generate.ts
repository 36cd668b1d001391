// Writes the five per-action GitLab CI/CD components (templates/<action>.yml) and the inputs tables
// of templates/README.md from each action's action.yml and input schema, so a component can never
// drift from its action: `node templates/generate.ts` after changing an action.yml;
// test/e2e/gitlab/templates.test.ts fails when the files differ from what this writes.
// deliver.yml is written by hand (its inputs are the pipeline's, not one action's).
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { actions } from '../packages/cli/src/actions.ts';
import { envName } from '../packages/cli/src/args.ts';
import type { Schema } from '../packages/kit/src/inputs.ts';
import { type ActionMeta, readActionMeta } from '../packages/kit/src/meta.ts';

const root = resolve(import.meta.dirname, '..');
export const ACTIONS = ['docker-build', 'registry-push', 'k8s-deploy', 'smoke-test', 'rollout-verify'] as const;
export type ActionName = (typeof ACTIONS)[number];

/** The runner image a component runs in unless `image` says otherwise (images/runner/README.md). */
export const RUNNER_IMAGE = 'registry.example.com/shipline/runner:v1';

export interface SpecInput {
  description: string;
  type?: 'string' | 'boolean' | 'number' | 'array';
  default?: string | boolean | number | unknown[];
  options?: string[];
  regex?: string;
}

/** Where each component sits in a pipeline by default, and which jobs (default prefix) it follows. */
const PLACE: Record<ActionName, { stage: string; needs: string[] }> = {
  'docker-build': { stage: 'build', needs: [] },
  'registry-push': { stage: 'build', needs: ['shipline-docker-build'] },
  'k8s-deploy': { stage: 'deploy', needs: ['shipline-registry-push'] },
  // The verdict before the smoke test: until the rollout is done the Service routes to the old pods.
  'rollout-verify': { stage: 'deploy', needs: ['shipline-k8s-deploy'] },
  'smoke-test': { stage: 'deploy', needs: ['shipline-rollout-verify'] },
};

/**
 * Secret inputs never become component inputs (an input's value is in the pipeline's YAML): the
 * variable each one is read from, where it says more than `SHIPLINE_<INPUT> (masked variable)`.
 */
export const SECRET_VARIABLES: Record<ActionName, Record<string, string | undefined>> = {
  'docker-build': { secrets: 'SHIPLINE_SECRETS (masked variable: build secrets, one `id=value` a line)' },
  'registry-push': { password: 'SHIPLINE_PASSWORD (masked variable)' },
  'k8s-deploy': {
    kubeconfig: 'KUBECONFIG (a File variable: its path; or SHIPLINE_KUBECONFIG with the content)',
    'registry-password': 'SHIPLINE_REGISTRY_PASSWORD (masked variable)',
  },
  'smoke-test': { kubeconfig: 'KUBECONFIG (a File variable: its path; or SHIPLINE_KUBECONFIG with the content)' },
  'rollout-verify': { kubeconfig: 'KUBECONFIG (a File variable: its path; or SHIPLINE_KUBECONFIG with the content)' },
};

/**
 * Inputs that mean something only on GitHub (GitHub Deployments): left out of the components, where
 * GitLab's own `environment:` keyword records deployments.
 */
export const GITHUB_ONLY_INPUTS: ReadonlySet<string> = new Set(['github-token', 'environment', 'environment-url', 'deployment-id']);

/** Whether an action's input is GitHub-only: rollout-verify's `environment` also names its delivery metrics' environment. */
export function githubOnly(action: string, input: string): boolean {
  return GITHUB_ONLY_INPUTS.has(input) && !(action === 'rollout-verify' && input === 'environment');
}

/** Component-only inputs, beyond the action's own. */
export function commonInputs(action: ActionName): Record<string, SpecInput> {
  return {
    'job-prefix': {
      description: `Start of the job's name (\`<job-prefix>-${action}\`), of its dotenv file and of its artifact files; give each include its own.`,
      default: 'shipline',
      regex: '^[a-z0-9][a-z0-9_-]*$',
    },
    stage: { description: 'Stage of the job.', default: PLACE[action].stage },
    needs: {
      description: 'Jobs this one needs (their artifacts and dotenv outputs reach it); the default is the previous component under the default prefix.',
      type: 'array',
      default: PLACE[action].needs,
    },
    // Not `image`: docker-build and registry-push have an input of that name.
    'runner-image': { description: 'The runner image the job runs in (Node 24, the shipline CLI, docker CLI + buildx, kubectl).', default: RUNNER_IMAGE },
  };
}

/** Extra component inputs for outputs that travel as files (dotenv.ts FILE_OUTPUTS). */
const FILE_INPUTS: Partial<Record<ActionName, Record<string, string>>> = {
  'rollout-verify': { resources: "File holding k8s-deploy's `resources` (`$K8S_DEPLOY_RESOURCES_FILE`); instead of `resources`." },
};

const DURATION = '^(0|([0-9]+(\\.[0-9]+)?(ms|s|m|h))+)?$';

/** One action input as a `spec:inputs` entry: GitLab checks its type, options and shape at include time. */
export function specInput(meta: ActionMeta['inputs'][string], type: string): SpecInput {
  const out: SpecInput = { description: meta.description };
  const d = meta.default;
  if (type === 'boolean' && d !== undefined) return { ...out, type: 'boolean', default: d === 'true' };
  if (/^integer/.test(type) && d !== undefined && d !== '') return { ...out, type: 'number', default: Number(d) };
  if (!meta.required) out.default = d ?? '';
  if (type.startsWith('one of ') && d !== undefined && d !== '') out.options = type.slice('one of '.length).split(', ');
  else if (type === 'duration') out.regex = DURATION;
  else if (/^integer/.test(type)) out.regex = '^(-?[0-9]+)?$';
  return out;
}

export const variableName = (input: string) => `SHIPLINE_IN_${input.toUpperCase().replace(/-/g, '_')}`;

export interface Component {
  inputs: Record<string, SpecInput>;
  text: string;
}

export async function component(action: ActionName): Promise<Component> {
  const meta = readActionMeta(join(root, 'actions', action, 'action.yml'));
  const def = await (actions[action] as () => Promise<{ schema: Schema }>)();
  const inputs: Record<string, SpecInput> = commonInputs(action);
  const variables: string[] = [];
  const flags: string[] = [];
  for (const [name, m] of Object.entries(meta.inputs)) {
    const spec = def.schema[name];
    if (!spec || spec.secret || githubOnly(action, name)) continue;
    if (name in inputs) throw new Error(`${action}'s input ${name} collides with a component input`);
    const s = specInput(m, spec.type);
    inputs[name] = s;
    if (s.type === 'boolean' || s.type === 'number') flags.push(`--${name} $[[ inputs.${name} ]]`);
    else {
      variables.push(`    ${variableName(name)}: ${JSON.stringify(`$[[ inputs.${name} ]]`)}`);
      // Empty means "not given": the flag is left out and the action's own default applies.
      flags.push(`\${${variableName(name)}:+--${name} "$${variableName(name)}"}`);
    }
  }
  for (const [name, description] of Object.entries(FILE_INPUTS[action] ?? {})) {
    const fileInput = `${name}-file`;
    inputs[fileInput] = { description, default: '' };
    variables.push(`    ${variableName(fileInput)}: ${JSON.stringify(`$[[ inputs.${fileInput} ]]`)}`);
    flags.push(`\${${variableName(fileInput)}:+--${fileInput} "$${variableName(fileInput)}"}`);
  }
  const secrets = Object.entries(def.schema)
    .filter(([input, spec]) => spec.secret && !githubOnly(action, input))
    .map(([input]) => `#   ${input}: ${SECRET_VARIABLES[action][input] ?? `${envName(input)} (masked variable)`}`)
    .join('\n');
  const header = [
    `# Shipline ${action} as a GitLab CI/CD component. Generated from actions/${action}/action.yml by`,
    '# templates/generate.ts: edit that file and run `node templates/generate.ts`.',
    `#   include:`,
    `#     - component: $CI_SERVER_FQDN/<group>/<project>/${action}@<version>`,
    `# Secret inputs come from CI/CD variables, never from inputs (which are part of the pipeline's YAML):`,
    secrets,
    `# Outputs: the dotenv report <job-prefix>.env, one <${action.toUpperCase().replace(/-/g, '_')}>_<OUTPUT> a line, for jobs that`,
    '# need this one; large JSON outputs travel as artifact files named by <..>_<OUTPUT>_FILE.',
  ].join('\n');
  const spec = stringify({ spec: { inputs } }, { lineWidth: 0 });
  const job = [
    `$[[ inputs.job-prefix ]]-${action}:`,
    '  stage: $[[ inputs.stage ]]',
    '  image:',
    '    name: $[[ inputs.runner-image ]]',
    '    entrypoint: [""]',
    '  needs: $[[ inputs.needs ]]',
    '  variables:',
    '    SHIPLINE_DOTENV: $[[ inputs.job-prefix ]].env',
    ...variables,
    '  script:',
    '    - >-',
    `      shipline ${action}`,
    ...flags.map((f) => `      ${f}`),
    '  artifacts:',
    '    when: always',
    '    paths:',
    `      - $[[ inputs.job-prefix ]]-${action}-*`,
    ...(action === 'docker-build' ? ['      - $[[ inputs.job-prefix ]]-oci/'] : []),
    '    reports:',
    '      dotenv: $[[ inputs.job-prefix ]].env',
  ].join('\n');
  return { inputs, text: `${header}\n${spec}---\n${job}\n` };
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
const shown = (v: SpecInput['default']) => (v === undefined ? '*(required)*' : `\`${typeof v === 'string' ? cell(v) : JSON.stringify(v)}\``);

/** The inputs table of one component (deliver's too), for templates/README.md. */
export function inputsTable(inputs: Record<string, SpecInput>): string {
  const rows = Object.entries(inputs).map(
    ([name, s]) => `| \`${name}\` | ${s.type ?? 'string'}${s.options ? ` (${s.options.join(', ')})` : ''} | ${shown(s.default)} | ${cell(s.description)} |`,
  );
  return ['| Input | Type | Default | Description |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

export const START = (name: string) => `<!-- inputs:${name} (generated by templates/generate.ts) -->`;
export const END = (name: string) => `<!-- /inputs:${name} -->`;

/** README with each component's table replaced between its markers. */
export function withTables(readme: string, tables: Record<string, string>): string {
  let out = readme;
  for (const [name, table] of Object.entries(tables)) {
    const a = out.indexOf(START(name));
    const b = out.indexOf(END(name));
    if (a < 0 || b < a) throw new Error(`templates/README.md lacks the markers of ${name}`);
    out = `${out.slice(0, a + START(name).length)}\n${table}\n${out.slice(b)}`;
  }
  return out;
}

/** The spec:inputs of a component file (deliver.yml included), read back from its YAML. */
export function readSpecInputs(text: string): Record<string, SpecInput> {
  const [head] = text.split(/^---$/m);
  return (parse(head ?? '') as { spec: { inputs: Record<string, SpecInput> } }).spec.inputs;
}

export async function expected(): Promise<{ files: Record<string, string>; readme: string }> {
  const files: Record<string, string> = {};
  const tables: Record<string, string> = {};
  for (const a of ACTIONS) {
    const c = await component(a);
    files[`${a}.yml`] = c.text;
    tables[a] = inputsTable(c.inputs);
  }
  tables.deliver = inputsTable(readSpecInputs(readFileSync(join(root, 'templates', 'deliver.yml'), 'utf8')));
  const readme = withTables(readFileSync(join(root, 'templates', 'README.md'), 'utf8'), tables);
  return { files, readme };
}

if (import.meta.main) {
  const { files, readme } = await expected();
  for (const [name, text] of Object.entries(files)) writeFileSync(join(root, 'templates', name), text);
  writeFileSync(join(root, 'templates', 'README.md'), readme);
}
