// Runs act (the stack's build) on the host (self-hosted mode), its servers bound to loopback, and
// parses its JSON log: job results, step summaries (act logs each step's GITHUB_STEP_SUMMARY file
// as an entry with `command: "summary"`) and plain output lines.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../stack/index.ts';

export interface ActEntry {
  msg?: string;
  job?: string;
  jobID?: string;
  step?: string;
  stepID?: string[];
  stage?: string;
  command?: string;
  content?: string;
  jobResult?: string;
  stepResult?: string;
  level?: string;
}

export interface ActRun {
  code: number;
  durationMs: number;
  entries: ActEntry[];
  /** Step summaries as act reported them: job, step name, markdown. */
  summaries: { job: string; step: string; content: string }[];
  /** Every `msg`, for assertions on log lines and for failure messages. */
  text: string;
}

export interface ActOptions {
  act: string;
  workdir: string;
  workflow: string;
  dir: string;
  secrets: Record<string, string>;
  env: NodeJS.ProcessEnv;
  cacheServerPath: string;
  timeoutMs: number;
  /**
   * Variables act puts in its `github` context and every step's environment (`--env`). act takes
   * GITHUB_API_URL, GITHUB_SERVER_URL and GITHUB_REPOSITORY from here over its own defaults
   * (api.github.com; the git remote, else nektos/act), so a test can aim the API at a loopback fake.
   */
  actEnv?: Record<string, string>;
  /** The event to run the workflow for (default `push`). */
  event?: string;
}

/**
 * A secret file act reads with godotenv: double-quoted values with `\n` escapes. Values holding
 * `$`, `"` or `\` would be changed by its expansion, so they are refused rather than mangled.
 */
export function writeSecretFile(path: string, secrets: Record<string, string>): void {
  const lines = Object.entries(secrets).map(([k, v]) => {
    if (/[$"\\]/.test(v)) throw new Error(`secret ${k} holds $, " or \\, which act's secret file would expand`);
    return `${k}="${v.replace(/\n/g, '\\n')}"`;
  });
  writeFileSync(path, `${lines.join('\n')}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
}

export async function runAct(o: ActOptions): Promise<ActRun> {
  const secretFile = join(o.dir, 'act.secrets');
  writeSecretFile(secretFile, o.secrets);
  const args = [
    o.event ?? 'push',
    '-W',
    o.workflow,
    '-P',
    'ubuntu-latest=-self-hosted',
    '--cache-server-addr',
    '127.0.0.1',
    '--cache-server-path',
    o.cacheServerPath,
    '--artifact-server-addr',
    '127.0.0.1',
    '--secret-file',
    secretFile,
    '--json',
  ];
  for (const [k, v] of Object.entries(o.actEnv ?? {})) args.push('--env', `${k}=${v}`);
  const started = Date.now();
  const r = await run(o.act, args, { cwd: o.workdir, env: o.env, timeoutMs: o.timeoutMs, allowFail: true });
  const durationMs = Date.now() - started;
  const entries: ActEntry[] = [];
  for (const line of r.stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      entries.push(JSON.parse(line) as ActEntry);
    } catch {
      /* a partial line at a kill */
    }
  }
  const summaries = entries
    .filter((e) => e.command === 'summary' && e.content)
    .map((e) => ({ job: e.jobID ?? e.job ?? '', step: e.step ?? '', content: e.content as string }));
  const text = entries.map((e) => e.msg ?? '').join('\n');
  return { code: r.code, durationMs, entries, summaries, text: `${text}\n${r.stderr}` };
}
