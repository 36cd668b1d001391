// Runs gitlab-ci-local (the pinned devDependency) on the workspace's Node 24 (versions from 4.66
// are tested on Node 24/25 only; the system Node 20 lacks Set.prototype.union), with the docker
// executor on the stack's dockerd: job containers on the host network (the API server and registry
// listen on loopback), the daemon's socket mounted at its own path, and the kubeconfig as a File
// variable, the way a GitLab project would hold it.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { repoRoot } from '../../support/run-action.ts';

export const NODE = join(repoRoot, 'node_modules', '.bin', 'node');
export const GCL = createRequire(join(repoRoot, 'package.json')).resolve('gitlab-ci-local/dist/index.js');

export interface GclRun {
  code: number | null;
  output: string;
  seconds: number;
  /** Each job's log as gitlab-ci-local saved it. */
  log(job: string): string;
  /** The dotenv report a job published, as a later job receives it. */
  dotenv(job: string): Record<string, string>;
  /** A file a job published as an artifact. */
  artifact(job: string, path: string): string;
}

export interface GclOptions {
  helperImage: string;
  /** Stack environment: DOCKER_HOST (unix socket), KUBECONFIG, SHIPLINE_NODE_IMAGE. */
  env: NodeJS.ProcessEnv;
  /** Plain CI/CD variables. */
  variables?: Record<string, string>;
  /** Extra `--volume` binds. */
  volumes?: string[];
  timeoutMs?: number;
  /** Kubeconfig content of the KUBECONFIG File variable (default: the file env.KUBECONFIG names). */
  kubeconfig?: string;
  /** More CI/CD variables held in the project's variables file, never on a command line: File ones (the job sees a path) and masked ones. */
  fileVariables?: Record<string, string>;
  secretVariables?: Record<string, string>;
  /** Leave the job containers for the caller to inspect (and remove). */
  keepContainers?: boolean;
}

export async function runGitlabCiLocal(dir: string, opts: GclOptions): Promise<GclRun> {
  const socket = (opts.env.DOCKER_HOST ?? '').replace(/^unix:\/\//, '');
  if (!socket.startsWith('/')) throw new Error(`DOCKER_HOST must be a unix socket for the job containers, got ${opts.env.DOCKER_HOST}`);
  const kubeconfig = opts.kubeconfig ?? readFileSync(opts.env.KUBECONFIG as string, 'utf8');
  // Project variables file (a path relative to --cwd; git-ignored, 0600): KUBECONFIG is a File
  // variable, so the job sees the path of a file holding the content.
  const variablesFile = '.gcl-variables.yml';
  const vars: Record<string, { type: string; values: Record<string, string> }> = { KUBECONFIG: { type: 'file', values: { '*': kubeconfig } } };
  for (const [k, v] of Object.entries(opts.fileVariables ?? {})) vars[k] = { type: 'file', values: { '*': v } };
  for (const [k, v] of Object.entries(opts.secretVariables ?? {})) vars[k] = { type: 'variable', values: { '*': v } };
  const args = [
    GCL, // in `dir` (it takes only a relative --cwd)
    '--variables-file',
    variablesFile,
    '--network',
    'host',
    '--volume',
    `${socket}:${socket}`,
    '--helper-image',
    opts.helperImage,
    '--pull-policy',
    'if-not-present',
    '--variable',
    `DOCKER_HOST=unix://${socket}`,
    // gitlab-ci-local sets GITLAB_CI=false so scripts can tell it from GitLab; this run stands in
    // for GitLab, so the CLI and docker-build see what a GitLab job shows them.
    '--variable',
    'GITLAB_CI=true',
    '--max-job-name-padding',
    '0',
  ];
  for (const v of opts.volumes ?? []) args.push('--volume', v);
  if (opts.keepContainers) args.push('--no-cleanup');
  for (const [k, v] of Object.entries(opts.variables ?? {})) args.push('--variable', `${k}=${v}`);
  writeFileSync(join(dir, variablesFile), stringify(vars), { mode: 0o600 });
  const t0 = performance.now();
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
    // gitlab-ci-local calls `docker`: it must reach the stack's dockerd, not a default socket.
    const child = spawn(NODE, args, { cwd: dir, env: { ...opts.env, DOCKER_HOST: `unix://${socket}`, FORCE_COLOR: '0' } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGTERM'), opts.timeoutMs ?? 900_000);
    child.on('close', (c) => {
      clearTimeout(timer);
      resolve({ code: c, output: out });
    });
  });
  const state = join(dir, '.gitlab-ci-local');
  const artifacts = (job: string) => join(state, 'artifacts', job);
  return {
    code,
    output,
    seconds: (performance.now() - t0) / 1000,
    log: (job) => {
      const p = join(state, 'output', `${job}.log`);
      return existsSync(p) ? readFileSync(p, 'utf8') : '';
    },
    dotenv: (job) => {
      const d = join(artifacts(job), '.gitlab-ci-reports', 'dotenv');
      if (!existsSync(d)) return {};
      const lines = readdirSync(d).flatMap((f) => readFileSync(join(d, f), 'utf8').split('\n'));
      return Object.fromEntries(lines.filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    },
    artifact: (job, path) => readFileSync(join(artifacts(job), path), 'utf8'),
  };
}
