// The GitLab components in templates/: generated files up to date, valid `spec:` headers, every
// input a job uses declared (and every declared one used), every CLI flag an input of its action,
// and each per-action component's inputs equal to its action.yml's (names and defaults).
// The examples that include them use declared inputs and chain their jobs by needs.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { actions } from '../../../packages/cli/src/actions.ts';
import { dotenvKey } from '../../../packages/cli/src/dotenv.ts';
import type { Schema } from '../../../packages/kit/src/inputs.ts';
import { readActionMeta } from '../../../packages/kit/src/meta.ts';
import { ACTIONS, commonInputs, expected, githubOnly, type SpecInput, variableName } from '../../../templates/generate.ts';
import { repoRoot } from '../../support/run-action.ts';
import { component, createProject, deliverPipeline, perActionPipeline } from './project.ts';
import { GCL, NODE } from './run.ts';

const templates = join(repoRoot, 'templates');
const read = (name: string) => readFileSync(join(templates, name), 'utf8');
const ALL = [...ACTIONS.map((a) => `${a}.yml`), 'deliver.yml'];

function docs(name: string): { spec: Record<string, SpecInput>; jobs: Record<string, Record<string, unknown>>; body: string } {
  const text = read(name);
  const parsed = parseAllDocuments(text);
  expect(parsed.length, `${name}: a spec document, ---, and the jobs`).toBe(2);
  for (const d of parsed) expect(d.errors, name).toEqual([]);
  const [head, jobs] = parsed.map((d) => d.toJS()) as [{ spec: { inputs: Record<string, SpecInput> } }, Record<string, Record<string, unknown>>];
  expect(Object.keys(head), `${name}: the header holds only spec`).toEqual(['spec']);
  return { spec: head.spec.inputs, jobs, body: text.slice(text.search(/^---$/m)) };
}

/** The words of each `shipline <action> …` command of a job, split as the shell would split them. */
function commands(job: Record<string, unknown>): { action: string; flags: string[] }[] {
  return ((job.script as string[]) ?? [])
    .filter((s) => s.startsWith('shipline '))
    .map((s) => {
      const [, action, ...rest] = s.split(/\s+/);
      const flags = rest.flatMap((w) => [...w.matchAll(/(?:^|:\+)--([a-z0-9-]+)/g)].map((m) => m[1] as string));
      return { action: action as string, flags };
    });
}

describe('generated files', () => {
  it('templates/<action>.yml and the README tables are what `node templates/generate.ts` writes', async () => {
    const { files, readme } = await expected();
    for (const [name, text] of Object.entries(files)) expect(read(name), `${name} is stale: run node templates/generate.ts`).toBe(text);
    expect(read('README.md'), 'templates/README.md is stale: run node templates/generate.ts').toBe(readme);
  });
});

describe.each(ALL)('%s', (name) => {
  const { spec, jobs, body } = docs(name);

  it('declares well-formed inputs (type, default of that type, options holding the default, regex matching it)', () => {
    for (const [input, s] of Object.entries(spec)) {
      const where = `${name}: ${input}`;
      expect(input, where).toMatch(/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/);
      expect(typeof s.description === 'string' && s.description.length > 0, `${where} has a description`).toBe(true);
      const type = s.type ?? 'string';
      expect(['string', 'boolean', 'number', 'array'], where).toContain(type);
      if (s.default !== undefined) {
        const actual = Array.isArray(s.default) ? 'array' : typeof s.default;
        expect(actual, `${where}: default's type`).toBe(type);
        if (s.options) expect(s.options, `${where}: options hold the default`).toContain(s.default);
        if (s.regex) expect(new RegExp(s.regex).test(String(s.default)), `${where}: default matches ${s.regex}`).toBe(true);
      } else if (s.regex) expect(() => new RegExp(s.regex as string), where).not.toThrow();
    }
  });

  it('uses exactly the inputs it declares', () => {
    const used = new Set([...body.matchAll(/\$\[\[\s*inputs\.([\w-]+)\s*\]\]/g)].map((m) => m[1]));
    expect([...used].sort()).toEqual(Object.keys(spec).sort());
    expect(body, 'component context or interpolation functions (not run by gitlab-ci-local)').not.toMatch(/\$\[\[[^\]]*\|/);
  });

  it('runs every job in the runner image with an empty entrypoint, outputs as a dotenv report', () => {
    for (const [job, j] of Object.entries(jobs)) {
      expect(j.image, job).toEqual({ name: '$[[ inputs.runner-image ]]', entrypoint: [''] });
      const artifacts = j.artifacts as { reports: { dotenv: string }; paths: string[] };
      expect(artifacts.reports.dotenv, job).toBe((j.variables as Record<string, string>).SHIPLINE_DOTENV);
      expect(artifacts.paths.length, job).toBeGreaterThan(0);
    }
  });

  it('passes string inputs only through variables the job defines, and flags its action has', () => {
    for (const [job, j] of Object.entries(jobs)) {
      const vars = j.variables as Record<string, string>;
      const script = (j.script as string[]).join('\n');
      for (const m of script.matchAll(/\$\{?(SHIPLINE_IN_[A-Z0-9_]+)/g)) expect(Object.keys(vars), `${job} uses ${m[1]}`).toContain(m[1]);
      // No string input is pasted into shell code: only booleans and numbers appear in the script.
      for (const m of script.matchAll(/\$\[\[\s*inputs\.([\w-]+)\s*\]\]/g)) {
        expect(['boolean', 'number'], `${job}: ${m[1]} written into the script`).toContain(spec[m[1] as string]?.type);
      }
      for (const { action, flags } of commands(j)) {
        const meta = readActionMeta(join(repoRoot, 'actions', action, 'action.yml'));
        for (const f of flags) {
          const input = meta.inputs[f] ? f : f.replace(/-file$/, '');
          expect(Object.keys(meta.inputs), `${job}: --${f} is an input of ${action}`).toContain(input);
        }
        for (const [input, m] of Object.entries(meta.inputs)) {
          if (m.required)
            expect(
              flags.some((f) => f === input || f === `${input}-file`),
              `${job} gives ${action}'s required ${input}`,
            ).toBe(true);
        }
      }
    }
  });
});

describe('deliver-smoke without a smoke target', () => {
  const { spec, jobs } = docs('deliver.yml');
  const job = jobs['$[[ inputs.job-prefix ]]-smoke'] as { script: string[]; variables: Record<string, string> };
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** The job's script as GitLab's runner runs it (one shell, stopping at the first failure), with a `shipline` that records its arguments. */
  function runScript(vars: Record<string, string>): { code: number | null; out: string; calls: string } {
    const dir = mkdtempSync(join(tmpdir(), 'shipline-smoke-job-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'shipline'), '#!/bin/sh\nprintf "%s\\n" "$@" >> "$(dirname "$0")/calls"\nexit 3\n', { mode: 0o755 });
    const script = job.script.map((line) => line.replace(/\$\[\[\s*inputs\.([\w-]+)\s*\]\]/g, (_m, k: string) => String(spec[k]?.default)));
    const env: Record<string, string> = { PATH: `${dir}:${process.env.PATH}` };
    for (const k of Object.keys(job.variables)) if (k.startsWith('SHIPLINE_IN_')) env[k] = '';
    const r = spawnSync('sh', ['-e', '-c', script.join('\n')], { env: { ...env, ...vars }, encoding: 'utf8', timeout: 10_000 });
    const calls = join(dir, 'calls');
    return { code: r.status, out: `${r.stdout}${r.stderr}`, calls: existsSync(calls) ? readFileSync(calls, 'utf8') : '' };
  }

  it('passes with a notice and runs no smoke test when smoke-services and smoke-urls are empty', () => {
    expect(spec['smoke-services']?.default).toBe('');
    expect(spec['smoke-urls']?.default).toBe('');
    const r = runScript({});
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/smoke-test skipped: no smoke target .*smoke-services or smoke-urls/);
    expect(r.calls).toBe('');
  });

  it('runs the smoke test, and fails with it, when a target is given', () => {
    const r = runScript({ SHIPLINE_IN_SMOKE_URLS: 'http://127.0.0.1:1/readyz', SHIPLINE_IN_EXPECT_STATUS: '2xx', SHIPLINE_IN_SMOKE_DEADLINE: '60s' });
    expect(r.code).toBe(3);
    expect(r.out).not.toMatch(/skipped/);
    expect(r.calls.split('\n')).toEqual(expect.arrayContaining(['smoke-test', '--url', 'http://127.0.0.1:1/readyz', '--consecutive-successes', '1']));
    expect(r.calls).not.toContain('--service');
  });
});

describe.each(ACTIONS)('component %s and its action.yml', (action) => {
  const { spec, jobs } = docs(`${action}.yml`);
  const meta = readActionMeta(join(repoRoot, 'actions', action, 'action.yml'));

  it('has every input of the action but the secret and GitHub-only ones, with the same defaults', async () => {
    // `<input>-file` inputs carry an output that travels as a file (rollout-verify's resources).
    const own = Object.keys(spec).filter((k) => !(k in commonInputs(action)) && (k in meta.inputs || !k.endsWith('-file')));
    const load = actions[action] as () => Promise<{ schema: Schema }>;
    const { schema } = await load();
    expect(own.sort()).toEqual(
      Object.keys(meta.inputs)
        .filter((k) => !schema[k]?.secret && !githubOnly(action, k))
        .sort(),
    );
    for (const k of Object.keys(schema).filter((k) => schema[k]?.secret && !githubOnly(action, k)))
      expect(read(`${action}.yml`), `the header names ${k}'s variable`).toContain(`#   ${k}: `);
    for (const k of own) {
      const m = meta.inputs[k] as { required: boolean; default: string | undefined };
      const s = spec[k] as SpecInput;
      if (m.required) expect(s.default, `${k} is required`).toBeUndefined();
      else expect(String(s.default), k).toBe(m.default ?? '');
    }
  });

  it('passes each of them to the CLI under its own name', () => {
    const [cmd] = Object.values(jobs).flatMap(commands);
    expect(cmd?.action).toBe(action);
    for (const k of Object.keys(spec).filter((k) => !(k in commonInputs(action)))) expect(cmd?.flags, k).toContain(k);
    expect(variableName('kubeconfig-path')).toBe('SHIPLINE_IN_KUBECONFIG_PATH');
  });
});

describe('examples/order-service/.gitlab-ci.yml', () => {
  it('includes deliver with declared inputs of the declared types, every required one given', () => {
    const ci = parse(readFileSync(join(repoRoot, 'examples', 'order-service', '.gitlab-ci.yml'), 'utf8')) as {
      include: { component: string; inputs: Record<string, unknown> }[];
      stages: string[];
    };
    const [inc] = ci.include;
    expect(inc?.component).toMatch(/^\$CI_SERVER_FQDN\/[\w-]+\/[\w-]+\/deliver@\S+$/);
    const { spec } = docs('deliver.yml');
    for (const [k, v] of Object.entries(inc?.inputs ?? {})) {
      expect(Object.keys(spec), k).toContain(k);
      expect(Array.isArray(v) ? 'array' : typeof v, k).toBe(spec[k]?.type ?? 'string');
      if (spec[k]?.regex) expect(new RegExp(spec[k]?.regex as string).test(String(v)), `${k}: ${v}`).toBe(true);
    }
    for (const [k, s] of Object.entries(spec)) if (s.default === undefined) expect(Object.keys(inc?.inputs ?? {}), `required ${k}`).toContain(k);
    expect(ci.stages).toEqual(expect.arrayContaining([spec['build-stage']?.default, spec['deploy-stage']?.default]));
  });
});

describe('examples/order-service/.gitlab/canary.gitlab-ci.yml', () => {
  const ci = parse(readFileSync(join(repoRoot, 'examples', 'order-service', '.gitlab', 'canary.gitlab-ci.yml'), 'utf8')) as {
    include: { component: string; inputs: Record<string, unknown> }[];
    stages: string[];
    variables: Record<string, string>;
  };
  const includes = ci.include.map((inc) => {
    const action = /^\$CI_SERVER_FQDN\/[\w-]+\/[\w-]+\/([a-z0-9-]+)@\S+$/.exec(inc.component)?.[1] as (typeof ACTIONS)[number];
    return { action, inputs: inc.inputs, job: `${inc.inputs['job-prefix']}-${action}` };
  });

  it('includes per-action components, each with its own job-prefix, with declared inputs of their types, options and shapes', () => {
    expect(includes.map((i) => i.action)).toEqual(['docker-build', 'registry-push', 'k8s-deploy', 'rollout-verify', 'k8s-deploy', 'smoke-test']);
    expect(new Set(includes.map((i) => i.inputs['job-prefix'])).size).toBe(includes.length);
    for (const { action, inputs, job } of includes) {
      const { spec } = docs(`${action}.yml`);
      for (const [k, v] of Object.entries(inputs)) {
        const where = `${job}: ${k}`;
        expect(Object.keys(spec), where).toContain(k);
        expect(Array.isArray(v) ? 'array' : typeof v, where).toBe(spec[k]?.type ?? 'string');
        if (spec[k]?.options) expect(spec[k]?.options, where).toContain(v);
        if (spec[k]?.regex) expect(new RegExp(spec[k]?.regex as string).test(String(v)), `${where}: ${v}`).toBe(true);
      }
      for (const [k, s] of Object.entries(spec)) if (s.default === undefined) expect(Object.keys(inputs), `${job}: required ${k}`).toContain(k);
      expect(ci.stages, job).toContain(inputs.stage ?? spec.stage?.default);
    }
  });

  it('the canary deploy, the gates (failure and inconclusive reject) and the promote are what the GitHub example does', () => {
    const [, , canary, verdict, promote] = includes;
    expect(canary?.inputs).toMatchObject({ strategy: 'canary', 'canary-replicas': '1', images: '$REGISTRY_PUSH_REFS' });
    expect(verdict?.inputs).toMatchObject({ 'resources-file': '$K8S_DEPLOY_RESOURCES_FILE', 'on-failure': 'reject', 'on-inconclusive': 'reject' });
    // Each gate line is `name: <promql> <op> <n>`, its samples line indented under it.
    const lines = String(verdict?.inputs.metrics).trimEnd().split('\n');
    expect(lines[0]).toMatch(/^error-rate: .*track="canary",release="\$K8S_DEPLOY_RELEASE_ID".* < 0\.05$/);
    expect(lines[1]).toMatch(/^\s+samples: .*track="canary",release="\$K8S_DEPLOY_RELEASE_ID".* >= \d+$/);
    expect(promote?.inputs).toMatchObject({ strategy: 'canary', action: 'promote' });
  });

  it('needs only earlier jobs, and uses only variables it defines, predefined CI_ ones and outputs of the jobs it needs', () => {
    const earlier: string[] = [];
    const byJob = Object.fromEntries(includes.map((i) => [i.job, i.action]));
    for (const { action, inputs, job } of includes) {
      const needs = (inputs.needs ?? docs(`${action}.yml`).spec.needs?.default) as string[];
      for (const n of needs) expect(earlier, `${job} needs ${n}`).toContain(n);
      const outputs = needs.flatMap((n) => {
        const from = byJob[n] as string;
        return Object.keys(readActionMeta(join(repoRoot, 'actions', from, 'action.yml')).outputs).flatMap((o) => [
          dotenvKey(from, o),
          `${dotenvKey(from, o)}_FILE`,
        ]);
      });
      for (const [k, v] of Object.entries(inputs)) {
        for (const m of String(v).matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)) {
          const name = m[1] as string;
          expect(name in ci.variables || name.startsWith('CI_') || outputs.includes(name), `${job}: ${k} uses $${name}`).toBe(true);
        }
      }
      earlier.push(job);
    }
  });
});

describe('gitlab-ci-local reads the components (local include, inputs, GitLab JSON schema)', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const list = (ci: Record<string, unknown>) => {
    const dir = mkdtempSync(join(tmpdir(), 'shipline-gcl-list-'));
    dirs.push(dir);
    createProject(dir, '127.0.0.1:5000/e2e-gitlab/order-service').pipeline(ci);
    const r = spawnSync(NODE, [GCL, '--list-json'], { cwd: dir, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' }, timeout: 60_000 });
    return {
      code: r.status,
      out: `${r.stdout}${r.stderr}`,
      jobs: r.status === 0 ? (JSON.parse(r.stdout) as { name: string; needs: { job: string }[] | null }[]) : [],
    };
  };
  const required = { repository: '127.0.0.1:5000/e2e-gitlab/order-service', manifests: 'k8s' };

  it('deliver: five jobs chained by needs', () => {
    const r = list(deliverPipeline(required));
    expect(r.code, r.out).toBe(0);
    expect(r.jobs.map((j) => [j.name, j.needs?.map((n) => n.job)])).toEqual([
      ['deliver-build', []],
      ['deliver-push', ['deliver-build']],
      ['deliver-deploy', ['deliver-push']],
      ['deliver-verify', ['deliver-deploy']],
      ['deliver-smoke', ['deliver-verify']],
    ]);
  });

  it('the five per-action components with their default prefix and needs', () => {
    const r = list(perActionPipeline({ runnerImage: 'r:1', repository: required.repository, version: 'v1', namespace: 'ns' }));
    expect(r.code, r.out).toBe(0);
    expect(r.jobs.map((j) => j.name)).toEqual(['docker-build', 'registry-push', 'k8s-deploy', 'smoke-test', 'rollout-verify'].map((a) => `shipline-${a}`));
  });

  it('the canary example: six jobs chained by needs', () => {
    const ci = parse(readFileSync(join(repoRoot, 'examples', 'order-service', '.gitlab', 'canary.gitlab-ci.yml'), 'utf8')) as {
      include: { component: string }[];
    };
    for (const inc of ci.include) inc.component = component(/\/([a-z0-9-]+)@\S+$/.exec(inc.component)?.[1] as string);
    const r = list(ci);
    expect(r.code, r.out).toBe(0);
    expect(r.jobs.map((j) => [j.name, j.needs?.map((n) => n.job)])).toEqual([
      ['build-docker-build', []],
      ['push-registry-push', ['build-docker-build']],
      ['canary-k8s-deploy', ['push-registry-push']],
      ['verdict-rollout-verify', ['canary-k8s-deploy']],
      ['promote-k8s-deploy', ['verdict-rollout-verify']],
      ['promoted-smoke-test', ['promote-k8s-deploy']],
    ]);
  });

  it.each([
    ['a value outside options', { cache: 'actions' }, /cache.*not in the list of allowed options/],
    ['a bad duration', { 'verify-timeout': '5 minutes' }, /verify-timeout.*does not match required regex/],
    ['a string for a boolean', { rollback: 'yes' }, /rollback.*provided value is not a boolean/],
    ['a missing required input', { manifests: undefined }, /manifests.*required value has not been provided/],
  ])('refuses %s at include time', (_what, change, message) => {
    const inputs = Object.fromEntries(Object.entries({ ...required, ...change }).filter(([, v]) => v !== undefined));
    const r = list(deliverPipeline(inputs));
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(message);
  });
});
