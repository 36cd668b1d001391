// Issue 14, SIGTERM any action: each of the five bundles is started on a real long operation (a
// build running a slow step, a push to a registry that never answers, a rollout that never becomes
// ready, a probe of a server that never answers, a verification of a never-ready Deployment) and
// sent SIGTERM, as a runner cancelling the step does. Correct: it exits (1) within the runner's
// patience, nothing it wrote is left in RUNNER_TEMP or TMPDIR (and no file anywhere there holds a
// credential), no process it started is still running, and no credential reached its output.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { need, sh, uniq } from '../stack/index.ts';
import { actionEntry } from '../support/run-action.ts';

const fromSource = process.env.SHIPLINE_FROM_SOURCE === '1';
const entryOf = actionEntry;

// The runner sends SIGKILL about 2.5 s after SIGTERM; an action that needs longer loses its cleanup.
const PROMPT_MS = 5000;

const id = uniq();
const ns = `he-sig-${id}`;
let work: string;
let hang: { server: Server; port: number; connections: number; sockets: Set<Socket> };

/** A TCP server that accepts and never answers: a registry or service that hangs. */
async function hangServer(): Promise<typeof hang> {
  const sockets = new Set<Socket>();
  const state = { server: createServer(), port: 0, connections: 0, sockets };
  state.server.on('connection', (s) => {
    state.connections++;
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => state.server.listen(0, '127.0.0.1', () => r()));
  state.port = (state.server.address() as { port: number }).port;
  return state;
}

/** Live processes (not zombies) whose environment carries `mark`: the action and all it started. */
function processesMarked(mark: string): { pid: number; cmd: string }[] {
  const out: { pid: number; cmd: string }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const env = readFileSync(`/proc/${name}/environ`, 'utf8');
      if (!env.includes(mark)) continue;
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state === 'Z' || state === 'X') continue;
      out.push({ pid: Number(name), cmd: readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ').trim() });
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return out;
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) out.push(join(e.parentPath, e.name));
  return out;
}

interface Case {
  action: string;
  /** What the long operation is, for the figure's detail. */
  what: string;
  inputs: () => Record<string, string>;
  /** Credentials that must not survive anywhere. */
  secrets: () => string[];
  /** The long operation is under way. */
  started: (stdout: string, children: number, elapsedMs: number) => boolean;
}

const SECRET = `he-sig-secret-${id}`;

const cases: Case[] = [
  {
    action: 'docker-build',
    what: 'buildx build in a slow RUN with a build secret',
    inputs: () => ({ context: join(work, 'ctx'), secrets: `tok=${SECRET}`, 'no-cache': 'true', load: 'false', image: '127.0.0.1:5000/he/sig' }),
    secrets: () => [SECRET],
    // buildx is running and the secret file is in place (the build has reached BuildKit).
    started: (stdout, children) => children > 0 && /sleeping/.test(stdout),
  },
  {
    action: 'registry-push',
    what: 'push to a registry that never answers, with username/password',
    inputs: () => ({
      image: need('SHIPLINE_NODE_IMAGE'),
      destinations: `127.0.0.1:${hang.port}/he/sig:${id}`,
      username: 'he-user',
      password: SECRET,
      timeout: '5m',
    }),
    secrets: () => [SECRET],
    started: () => hang.connections > 0,
  },
  {
    action: 'k8s-deploy',
    what: 'wait for a never-ready rollout, kubeconfig given as content',
    inputs: () => ({
      manifests: join(work, 'slow.yaml'),
      namespace: ns,
      kubeconfig: readFileSync(need('KUBECONFIG'), 'utf8'),
      wait: 'true',
      timeout: '5m',
      provenance: 'false',
    }),
    secrets: () => kubeconfigSecrets(),
    started: (stdout, _c, ms) => /created|configured|unchanged/.test(stdout) && ms > 2500,
  },
  {
    action: 'smoke-test',
    what: 'probe of a server that never answers, secret header',
    inputs: () => ({ url: `http://127.0.0.1:${hang.port}/health`, headers: `Authorization: Bearer ${SECRET}`, timeout: '60s', deadline: '5m' }),
    secrets: () => [SECRET],
    started: () => hang.connections > 0,
  },
  {
    action: 'rollout-verify',
    what: 'verification of a never-ready Deployment, kubeconfig given as content',
    inputs: () => ({ workloads: 'deployment/he-never-ready', namespace: ns, kubeconfig: readFileSync(need('KUBECONFIG'), 'utf8'), timeout: '5m' }),
    secrets: () => kubeconfigSecrets(),
    started: (stdout, _c, ms) => stdout.length > 0 && ms > 3000,
  },
];

/** The stack kubeconfig's credentials (its client key and any token), as they would leak. */
function kubeconfigSecrets(): string[] {
  const text = readFileSync(need('KUBECONFIG'), 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(client-key-data|token|password):\s*(\S+)/g)) if (m[2] && m[2].length > 8) out.push(m[2]);
  return out;
}

const neverReady = (name: string) =>
  `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ${name}\n  namespace: ${ns}\nspec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: ${name}\n  template:\n    metadata:\n      labels:\n        app: ${name}\n    spec:\n      containers:\n      - name: app\n        image: ${need('SHIPLINE_NODE_IMAGE')}\n        command: ["node", "-e", "setInterval(() => {}, 1000)"]\n        readinessProbe:\n          exec:\n            command: ["node", "-e", "process.exit(1)"]\n          periodSeconds: 1\n`;

interface Outcome {
  ok: boolean;
  detail: string;
  exitMs: number;
}

async function cancel(c: Case): Promise<Outcome> {
  const dir = mkdtempSync(join(work, `${c.action}-`));
  const runnerTemp = join(dir, 'runner-temp');
  const tmp = join(dir, 'tmp');
  mkdirSync(runnerTemp);
  mkdirSync(tmp);
  const output = join(dir, 'output');
  writeFileSync(output, '');
  const mark = `HE_SIGTERM_RUN=${id}-${c.action}`;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DOCKER_HOST: process.env.DOCKER_HOST,
    GITHUB_ACTIONS: 'true',
    GITHUB_OUTPUT: output,
    RUNNER_TEMP: runnerTemp,
    TMPDIR: tmp,
    HE_SIGTERM_RUN: `${id}-${c.action}`,
  };
  for (const [k, v] of Object.entries(c.inputs())) env[`INPUT_${k.toUpperCase()}`] = v;
  hang.connections = 0;
  const child = spawn(process.execPath, [entryOf(c.action)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stdout += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('close', (code, signal) => r({ code, signal })));
  let done = false;
  void exited.then(() => {
    done = true;
  });
  const t0 = performance.now();
  let seenChildren = 0;
  while (!done && performance.now() - t0 < 120_000) {
    const children = processesMarked(mark).filter((p) => p.pid !== child.pid).length;
    seenChildren = Math.max(seenChildren, children);
    if (c.started(stdout, children, performance.now() - t0)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  if (done) return { ok: false, detail: `finished before SIGTERM: ${stdout.slice(-1200)}`, exitMs: 0 };
  const childrenBefore = processesMarked(mark).filter((p) => p.pid !== child.pid);
  const credentialFilesBefore = filesUnder(runnerTemp).length + filesUnder(tmp).length;
  const sent = performance.now();
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const { code, signal } = await exited;
  clearTimeout(killer);
  const exitMs = performance.now() - sent;
  // Children get a moment to finish dying (they were told within the grace).
  let left = processesMarked(mark);
  for (let i = 0; i < 10 && left.length; i++) {
    await new Promise((r) => setTimeout(r, 200));
    left = processesMarked(mark);
  }
  const files = [...filesUnder(runnerTemp), ...filesUnder(tmp)];
  const secrets = c.secrets();
  const holding = files.filter((f) => statSync(f).isFile() && secrets.some((s) => readFileSync(f, 'utf8').includes(s)));
  const visible = stdout
    .split('\n')
    .filter((l) => !l.startsWith('::add-mask::'))
    .join('\n');
  const leaked = secrets.filter((s) => visible.includes(s) || readFileSync(output, 'utf8').includes(s));
  const problems: string[] = [];
  if (code !== 1) problems.push(`exit ${code ?? signal}`);
  if (exitMs > PROMPT_MS) problems.push(`exited ${Math.round(exitMs)} ms after SIGTERM`);
  if (files.length) problems.push(`left in the temp dirs: ${files.map((f) => f.slice(dir.length)).join(', ')}`);
  if (holding.length) problems.push(`files holding a credential: ${holding.join(', ')}`);
  if (left.length) problems.push(`still running: ${left.map((p) => `${p.pid} ${p.cmd.slice(0, 80)}`).join('; ')}`);
  if (leaked.length) problems.push('a credential reached the log or outputs');
  if (!/cancelled \(SIGTERM\)/.test(stdout)) problems.push('no "cancelled (SIGTERM)" error');
  for (const p of left) process.kill(p.pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
  return {
    ok: problems.length === 0,
    detail: `${c.action}: ${Math.round(exitMs)} ms to exit, ${childrenBefore.length} child process(es) and ${credentialFilesBefore} temp file(s) before${problems.length ? ` — ${problems.join('; ')}\n${stdout.slice(-1500)}` : ''}`,
    exitMs,
  };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'he-sig-'));
  hang = await hangServer();
  mkdirSync(join(work, 'ctx'));
  writeFileSync(
    join(work, 'ctx', 'Dockerfile'),
    `FROM ${need('SHIPLINE_NODE_IMAGE')}\nRUN --mount=type=secret,id=tok ["node", "-e", "require('fs').readFileSync('/run/secrets/tok'); console.log('sleeping'); setTimeout(() => {}, 300000)"]\n`,
  );
  writeFileSync(join(work, 'slow.yaml'), neverReady('he-slow'));
  await sh('kubectl', ['create', 'namespace', ns]);
  await sh('kubectl', ['apply', '-f', '-'], { input: neverReady('he-never-ready') });
});

afterAll(async () => {
  for (const s of hang.sockets) s.destroy();
  hang.server.close();
  await sh('kubectl', ['delete', 'namespace', ns, '--wait=false', '--ignore-not-found']);
  rmSync(work, { recursive: true, force: true });
});

describe('SIGTERM on a long operation, each action', () => {
  it('exits promptly, leaves no credential file and no child running', async () => {
    let correct = 0;
    const details: string[] = [];
    const bad: string[] = [];
    for (const c of cases) {
      const o = await cancel(c);
      if (o.ok) correct++;
      else bad.push(o.detail);
      details.push(`${c.action} ${Math.round(o.exitMs)} ms`);
      console.log(`sigterm ${c.what}: ${o.ok ? 'ok' : 'FAILED'} — ${o.detail.split('\n')[0]}`);
    }
    console.log(
      `FIGURE sigterm actions: ${cases.length} tried, ${correct} correct — exit after SIGTERM: ${details.join(', ')}${fromSource ? ' (sources)' : ''}`,
    );
    expect(bad).toEqual([]);
  });
});

describe('SIGTERM while k8s-deploy holds the deploy lock', () => {
  // A CRD whose kind another CRD of its group already has is never Established (KindConflict):
  // the apply waits for it with the set's lease held, a long operation that is really under way.
  const group = `he${id}.example`;
  const crd = (plural: string) =>
    `apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: ${plural}.${group}\nspec:\n  group: ${group}\n  scope: Namespaced\n  names:\n    plural: ${plural}\n    singular: ${plural.slice(0, -1)}\n    kind: Widget\n    listKind: WidgetList\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        type: object\n`;

  afterAll(async () => {
    await sh('kubectl', ['delete', 'crd', `widgets.${group}`, `gadgets.${group}`, '--ignore-not-found', '--wait=false']);
  });

  it('gives the lease back before exiting, so the next run need not wait for it to expire', async () => {
    await sh('kubectl', ['apply', '-f', '-'], { input: crd('widgets') });
    const file = join(work, 'lock.yaml');
    writeFileSync(file, `${crd('gadgets')}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: he-lock-cm\n  namespace: ${ns}\ndata:\n  a: b\n`);
    const out = join(work, 'lock-output');
    writeFileSync(out, '');
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      GITHUB_ACTIONS: 'true',
      GITHUB_OUTPUT: out,
      RUNNER_TEMP: work,
      INPUT_MANIFESTS: file,
      INPUT_NAMESPACE: ns,
      INPUT_KUBECONFIG: readFileSync(need('KUBECONFIG'), 'utf8'),
      INPUT_PRUNE: 'true',
      INPUT_SET: 'he-sig-lock',
      INPUT_PROVENANCE: 'false',
    };
    const child = spawn(process.execPath, [entryOf('k8s-deploy')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stdout += d;
    });
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    const leases = async () => (await sh('kubectl', ['get', 'leases', '-n', ns, '-o', 'name'])).trim();
    const t0 = performance.now();
    while (!/deploy lock: lease .* taken/.test(stdout) && performance.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 100));
    // Inside the CRD wait, lease held.
    await new Promise((r) => setTimeout(r, 1500));
    const held = await leases();
    const sent = performance.now();
    child.kill('SIGTERM');
    const code = await exited;
    const exitMs = performance.now() - sent;
    const after = await leases();
    const ok = held !== '' && code === 1 && after === '' && exitMs < PROMPT_MS && !/::endgroup::\n.*applied/.test(stdout);
    console.log(
      `FIGURE sigterm lock released: 1 tried, ${ok ? 1 : 0} correct — k8s-deploy SIGTERMed in apply with lease ${held || '(none)'} held, exit ${code} after ${Math.round(exitMs)} ms, leases after: ${after || 'none'}`,
    );
    expect(held, stdout).not.toBe('');
    expect(code, stdout).toBe(1);
    expect(exitMs).toBeLessThan(PROMPT_MS);
    expect(after, stdout).toBe('');
  });
});
