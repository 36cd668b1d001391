// Applying 200 objects (ConfigMaps, Secrets, Services, Deployments at 0 replicas) to an empty
// namespace: the k8s-deploy bundle vs `kubectl apply --server-side`, each a fresh process, rounds
// interleaved, median reported; then the same again with nothing to change. Needs the stack
// (`eval "$(node test/stack/stack.ts env)"`). Not a test: nothing here asserts a time.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const rounds = Number(process.env.BENCH_RUNS ?? 3);
const objects = Number(process.env.BENCH_OBJECTS ?? 200);
if (!process.env.KUBECONFIG) {
  console.error('apply: KUBECONFIG is not set; run `eval "$(node test/stack/stack.ts env)"` first');
  process.exit(2);
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

function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv): number {
  const t = performance.now();
  const r = spawnSync(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stdout}${r.stderr}`);
  return ms;
}

const kubectl = (args: string[]) => spawnSync('kubectl', args, { stdio: ['ignore', 'pipe', 'inherit'] });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

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
      results.create.kubectl.push(theirsRun());
      results.create.ours.push(oursRun());
    } else {
      results.create.ours.push(oursRun());
      results.create.kubectl.push(theirsRun());
    }
    results.unchanged.kubectl.push(theirsRun());
    results.unchanged.ours.push(oursRun());
  }
  for (const [what, r] of Object.entries(results)) {
    const a = median(r.ours);
    const b = median(r.kubectl);
    console.log(
      `apply/${objects}-objects-${what}: ratio=${(a / b).toFixed(2)} (shipline ${(a / 1000).toFixed(3)} s, other ${(b / 1000).toFixed(3)} s) median of ${rounds}, kubectl apply --server-side`,
    );
  }
} finally {
  for (const ns of created) kubectl(['delete', 'namespace', ns, '--wait=false']);
  rmSync(work, { recursive: true, force: true });
}
