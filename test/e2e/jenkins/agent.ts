// Runs a parsed Jenkinsfile the way Jenkins' Docker Pipeline plugin runs a `docker` agent: one
// container of the agent image started with `cat` (`docker run -t -d -u uid:gid <args> -w WS
// -v WS:WS -v WS@tmp:WS@tmp … cat`), every `sh` step a script file under WS@tmp run by `sh -xe`
// through `docker exec` with the build's environment, and withCredentials bindings as Jenkins
// makes them: variables for usernamePassword, a 0400 file under WS@tmp/secretFiles for `file`.
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../stack/index.ts';
import { interpolate, type Pipeline, type ShStep } from './jenkinsfile.ts';

export interface Credential {
  username?: string;
  password?: string;
  /** Content of a `file` credential. */
  file?: { name: string; content: string };
}

export interface AgentOptions {
  /** The image to run instead of the Jenkinsfile's name (the same image, by its registry ref). */
  image: string;
  workspace: string;
  jobName: string;
  buildNumber: number;
  params: Record<string, string>;
  credentials: Record<string, Credential>;
  /** Environment of the docker CLI (DOCKER_HOST). */
  dockerEnv: NodeJS.ProcessEnv;
  /** Called with the agent container's id after the last step, before it is removed. */
  inspect?: (container: string) => Promise<void>;
}

export interface StepRun {
  stage: string;
  code: number;
  output: string;
  seconds: number;
}

export interface BuildRun {
  result: 'SUCCESS' | 'FAILURE';
  /** The stage that failed, if one did. */
  failedStage?: string;
  stages: StepRun[];
  /** The post conditions' steps that ran. */
  post: StepRun[];
  /** Every secret value the build was given, to check none reached its log. */
  secrets: string[];
}

/** Splits `args` as the plugin does: on whitespace (it does not honour quotes either). */
const splitArgs = (s: string) => s.split(/\s+/).filter(Boolean);

/**
 * A build's step environment and the agent's `args`, as Jenkins makes them: its own variables, then
 * the parameters, then `environment {}`. `params` undefined: a job's first build, which has no
 * parameters (JENKINS-40574), in `params` nor in the environment.
 */
export function buildEnvironment(
  p: Pipeline,
  base: { jobName: string; buildNumber: number; workspace: string },
  params: Record<string, string> | undefined,
): { env: Record<string, string>; args: string[] } {
  const { jobName, buildNumber, workspace: ws } = base;
  const env: Record<string, string> = {
    JENKINS_URL: 'http://jenkins.invalid/',
    JOB_NAME: jobName,
    JOB_BASE_NAME: jobName,
    BUILD_NUMBER: String(buildNumber),
    BUILD_ID: String(buildNumber),
    BUILD_TAG: `jenkins-${jobName}-${buildNumber}`,
    BUILD_URL: `http://jenkins.invalid/job/${jobName}/${buildNumber}/`,
    NODE_NAME: 'built-in',
    EXECUTOR_NUMBER: '0',
    WORKSPACE: ws,
    WORKSPACE_TMP: `${ws}@tmp`,
    ...params,
  };
  for (const [name, value] of p.environment) env[name] = interpolate(value, params, env);
  return { env, args: splitArgs(interpolate(p.args, params, env)) };
}

export async function runPipeline(p: Pipeline, o: AgentOptions): Promise<BuildRun> {
  const ws = o.workspace;
  const tmp = `${ws}@tmp`;
  mkdirSync(tmp, { recursive: true });
  const params: Record<string, string> = {};
  for (const def of p.params) params[def.name] = o.params[def.name] ?? def.defaultValue;
  for (const name of Object.keys(o.params)) if (!(name in params)) throw new Error(`parameter ${name} is not declared in the Jenkinsfile`);
  const { env, args } = buildEnvironment(p, o, params);

  const runArgs = ['run', '-t', '-d', '-u', `${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`, ...args];
  runArgs.push('-w', ws, '-v', `${ws}:${ws}:rw`, '-v', `${tmp}:${tmp}:rw`, o.image, 'cat');
  const container = (await run('docker', runArgs, { env: o.dockerEnv })).stdout.trim();
  const secrets = Object.values(o.credentials).flatMap((c) => [c.password, c.file?.content].filter((v): v is string => !!v));
  const build: BuildRun = { result: 'SUCCESS', stages: [], post: [], secrets };
  try {
    const step = async (stage: string, s: ShStep): Promise<StepRun> => {
      const stepEnv: Record<string, string> = { ...env };
      const secretDirs: string[] = [];
      for (const b of s.bindings) {
        const cred = o.credentials[b.credentialsId];
        if (!cred) throw new Error(`credential ${b.credentialsId} (stage ${stage}) is not defined for this build`);
        if (b.kind === 'usernamePassword') {
          if (cred.username === undefined || cred.password === undefined) throw new Error(`credential ${b.credentialsId} is not a username with password`);
          stepEnv[b.usernameVariable] = cred.username;
          stepEnv[b.passwordVariable] = cred.password;
        } else {
          if (!cred.file) throw new Error(`credential ${b.credentialsId} is not a secret file`);
          const dir = join(tmp, 'secretFiles', randomUUID());
          mkdirSync(dir, { recursive: true, mode: 0o700 });
          const path = join(dir, cred.file.name);
          writeFileSync(path, cred.file.content, { mode: 0o400 });
          secretDirs.push(dir);
          stepEnv[b.variable] = path;
        }
      }
      const dir = join(tmp, `durable-${randomUUID().slice(0, 8)}`);
      mkdirSync(dir);
      const script = join(dir, 'script.sh');
      writeFileSync(script, s.script);
      chmodSync(script, 0o644);
      // `-e NAME` without a value: docker takes it from its own environment, so no value (secret or
      // not) is on a command line.
      const args = ['exec', ...Object.keys(stepEnv).flatMap((k) => ['-e', k]), '-w', ws, container, 'sh', '-xe', script];
      const t0 = performance.now();
      const r = await run('docker', args, { env: { ...o.dockerEnv, ...stepEnv }, allowFail: true, timeoutMs: 900_000 });
      for (const d of [dir, ...secretDirs]) rmSync(d, { recursive: true, force: true });
      return { stage, code: r.code, output: r.stdout + r.stderr, seconds: (performance.now() - t0) / 1000 };
    };

    stages: for (const st of p.stages) {
      for (const s of st.steps) {
        const r = await step(st.name, s);
        build.stages.push(r);
        if (r.code !== 0) {
          build.result = 'FAILURE';
          build.failedStage = st.name;
          break stages;
        }
      }
    }
    const conditions = ['always', build.result === 'SUCCESS' ? 'success' : 'failure'] as const;
    for (const c of conditions) for (const s of p.post[c] ?? []) build.post.push(await step(`post ${c}`, s));
    await o.inspect?.(container);
  } finally {
    await run('docker', ['rm', '--force', container], { env: o.dockerEnv, allowFail: true });
  }
  return build;
}
