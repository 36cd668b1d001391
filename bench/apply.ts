// Applying 200 objects (ConfigMaps, Secrets, Services, Deployments at 0 replicas) to an empty
// namespace: the k8s-deploy bundle vs `kubectl apply --server-side`, each a fresh process, rounds
// interleaved, median reported; then the same again with nothing to change. Brings the stack up
// first. Before each timed run the machine is let settle (the controllers react to every applied
// Deployment and Service for a while, which would otherwise slow whoever runs next).
// Not a test: nothing here asserts a time.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { up, withStackEnv } from '../test/stack/index.ts';
import { median, span } from './lib/stats.ts';

const root = resolve(import.meta.dirname, '..');
const rounds = Number(process.env.BENCH_RUNS ?? 7);
const objects = Number(process.env.BENCH_OBJECTS ?? 200);
await up();
Object.assign(process.env, withStackEnv());

/** Busy share of all CPUs over `ms`, from /proc/stat. */
async function busy(ms: number): Promise<number> {
  const read = () => {
    const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    return { idle, total: f.reduce((a, b) => a + b, 0) };
  };
  const a = read();
  await new Promise((r) => setTimeout(r, ms));
  const b = read();
  return b.total === a.total ? 0 : 1 - (b.idle - a.idle) / (b.total - a.total);
}

/** Waits (at most 20 s) until the machine is below 15% busy for half a second. */
async function settle(): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && (await busy(500)) > 0.15) {}
}

function manifests(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const docs: string[] = [];
  for (let i = 0; docs.length < objects; i++) {
    const n = String(i).padStart(3, '0');
    docs.push(`apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-${n}, labels: {app: bench}}\ndata: {index: "${i}", text: "${'x'.repeat(200)}"}\n`);
    if (docs.length < objects) docs.push(`apiVersion: v1\nkind: Secret\nmetadata: {name: secret-${n}}\nstringData: {token: "t-${i}"}\n`);
    if (docs.length < objects && i % 2 === 0)
      docs.push(`apiVersion: v1\nkind: Service\nmetadata: {name: svc-${n}}\nspec:\n  selector: {app: a-${n}}\n  ports: [{port: 80, targetPort: 8080}]\n`);
    if (docs.length < objects && i % 2 === 1)
      docs.push(
        `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app-${n}}\nspec:\n  replicas: 0\n  selector: {matchLabels: {app: a-${n}}}\n  template:\n    metadata: {labels: {app: a-${n}}}\n    spec:\n      containers: [{name: app, image: "127.0.0.1:5000/shipline/node:24"}]\n`,
      );
  }
  // Several files, as a repository would hold them.
  for (let f = 0; f < 10; f++) writeFileSync(join(dir, `part-${f}.yaml`), docs.filter((_, i) => i % 10 === f).join('---\n'));
}

async function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  await settle();
  const t = performance.now();
  const r = spawnSync(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stdout}${r.stderr}`);
  return ms;
}

const kubectl = (args: string[]) => spawnSync('kubectl', args, { stdio: ['ignore', 'pipe', 'inherit'] });
const seconds = (ms: number[]) => ms.map((x) => x / 1000);

const work = mkdtempSync(join(tmpdir(), 'shipline-bench-apply-'));
const dir = join(work, 'manifests');
manifests(dir);
const id = Date.now().toString(36);
const created: string[] = [];
const results = { create: { ours: [] as number[], kubectl: [] as number[] }, unchanged: { ours: [] as number[], kubectl: [] as number[] } };
try {
  for (let round = 0; round < rounds; round++) {
    const ours = `bench-ship-${id}-${round}`;
    const theirs = `bench-kubectl-${id}-${round}`;
    for (const ns of [ours, theirs]) {
      kubectl(['create', 'namespace', ns]);
      created.push(ns);
    }
    const oursRun = () =>
      timed(process.execPath, [join(root, 'dist', 'k8s-deploy', 'index.js')], {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        KUBECONFIG: process.env.KUBECONFIG,
        RUNNER_TEMP: work,
        INPUT_MANIFESTS: dir,
        INPUT_NAMESPACE: ours,
      });
    const theirsRun = () => timed('kubectl', ['apply', '--server-side', '--field-manager', 'bench', '-n', theirs, '-f', dir], process.env);
    // Alternate who goes first, so warm caches favour neither.
    if (round % 2 === 0) {
      results.create.kubectl.push(await theirsRun());
      results.create.ours.push(await oursRun());
    } else {
      results.create.ours.push(await oursRun());
      results.create.kubectl.push(await theirsRun());
    }
    results.unchanged.kubectl.push(await theirsRun());
    results.unchanged.ours.push(await oursRun());
  }
  for (const [what, r] of Object.entries(results)) {
    const a = median(r.ours);
    const b = median(r.kubectl);
    console.log(
      `apply/${objects}-objects-${what}: ratio=${(a / b).toFixed(2)} (shipline ${(a / 1000).toFixed(3)} s, other ${(b / 1000).toFixed(3)} s) median of ${rounds} (shipline ${span(seconds(r.ours), 2)}, kubectl ${span(seconds(r.kubectl), 2)}), kubectl apply --server-side`,
    );
  }
} finally {
  // Wait for the deletions, so that a bench run right after this one starts on a quiet cluster.
  if (created.length) kubectl(['delete', 'namespace', ...created, '--wait=true', '--timeout=120s']);
  rmSync(work, { recursive: true, force: true });
}
