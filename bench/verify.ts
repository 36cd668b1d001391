// Time to a verdict: the rollout-verify bundle vs `kubectl rollout status`, both started at the same
// moment on the same Deployment right after it is applied, one run per scenario:
//   nonexistent-image  a rolling update to a tag that does not exist
//   crash-loop         a rolling update to a container that exits at once
//   healthy            a rolling update that succeeds (ours should be within ~1 s of kubectl)
// The Deployments set progressDeadlineSeconds: 120 (the default is 600): kubectl only fails a
// broken rollout when that deadline passes, and 600 s per scenario would make the bench useless.
// Time is measured from the end of `kubectl apply` to each process's exit, start-up included.
// Brings the stack up first. Not a test: nothing here asserts a time.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { run, up, withStackEnv } from '../test/stack/index.ts';
import { parseOutputFile } from '../test/support/run-action.ts';
import { CRASH, deployment, kubectlRolloutStatus, type Obj, pinnedNodeImage, serving, yaml } from '../test/support/workloads.ts';

const root = resolve(import.meta.dirname, '..');
const PROGRESS_DEADLINE_S = 120;
await up();
Object.assign(process.env, withStackEnv());

const { repo, ref: image } = await pinnedNodeImage(process.env.SHIPLINE_NODE_IMAGE as string);
const work = mkdtempSync(join(tmpdir(), 'shipline-bench-verify-'));
const id = Date.now().toString(36);
const created: string[] = [];

const web = (container: Obj, img = image) => deployment('web', container, { image: img, replicas: 2, spec: { progressDeadlineSeconds: PROGRESS_DEADLINE_S } });

async function apply(ns: string, obj: Obj): Promise<void> {
  const file = join(work, `${ns}-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, yaml(obj));
  await run('kubectl', ['apply', '-n', ns, '-f', file]);
}

async function ours(ns: string): Promise<{ seconds: number; status: string; reason: string }> {
  const outputs = join(work, `outputs-${ns}`);
  writeFileSync(outputs, '');
  const started = performance.now();
  await run(process.execPath, [join(root, 'dist', 'rollout-verify', 'index.js')], {
    allowFail: true,
    timeoutMs: 600_000,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      KUBECONFIG: process.env.KUBECONFIG,
      RUNNER_TEMP: work,
      INPUT_WORKLOADS: 'deployment/web',
      INPUT_NAMESPACE: ns,
      INPUT_TIMEOUT: '5m',
      GITHUB_OUTPUT: outputs,
    },
  });
  const seconds = (performance.now() - started) / 1000;
  const out = parseOutputFile(readFileSync(outputs, 'utf8'));
  return { seconds, status: out.status ?? '?', reason: out.reason ?? '?' };
}

const scenarios: { name: string; before: Obj; after: Obj }[] = [
  { name: 'nonexistent-image', before: web(serving('v1')), after: web(serving('v2'), `${repo}:no-such-tag-${id}`) },
  { name: 'crash-loop', before: web(serving('v1')), after: web(CRASH) },
  { name: 'healthy', before: web(serving('v1')), after: web(serving('v2')) },
];

try {
  for (const s of scenarios) {
    const ns = `bench-verify-${id}-${s.name}`;
    await run('kubectl', ['create', 'namespace', ns]);
    created.push(ns);
    await apply(ns, s.before);
    const first = await kubectlRolloutStatus(ns, 'deployment/web', 300);
    if (first.verdict !== 'success') throw new Error(`${s.name}: the first revision did not roll out: ${first.output}`);
    await apply(ns, s.after);
    const [a, b] = await Promise.all([ours(ns), kubectlRolloutStatus(ns, 'deployment/web', PROGRESS_DEADLINE_S + 120)]);
    const kubectlSays = b.output.split('\n').pop() ?? '';
    console.log(
      `verify/${s.name}: ratio=${(a.seconds / b.seconds).toFixed(2)} (shipline ${a.seconds.toFixed(1)} s, other ${b.seconds.toFixed(1)} s) shipline: ${a.status} ${a.reason}; kubectl rollout status: ${b.verdict} "${kubectlSays}" (progressDeadlineSeconds: ${PROGRESS_DEADLINE_S}), one run`,
    );
  }
} finally {
  if (created.length) await run('kubectl', ['delete', 'namespace', ...created, '--wait=false'], { allowFail: true });
  rmSync(work, { recursive: true, force: true });
}
