// Issue 14, killed mid-run: k8s-deploy is SIGKILLed at a seeded random moment of a deploy (v1 → v2
// with prune), then run again: the set must end exactly as a deploy that was never killed leaves it
// (kubectl get -o json of the set, minus what the server fills in per object). The re-run also
// meets the killed run's deploy lock, which it may take over only once it expired.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { need, sh, uniq } from '../stack/index.ts';
import { type Run, runGitHubAction } from '../support/run-action.ts';
import { seededRandom, testSeed } from '../support/seed.ts';

/** When the apply step starts: the action opens its log group. */
const APPLY_STARTS = '::group::Server-side apply';

type Result = Run & { applyAt: number | undefined };

/**
 * One k8s-deploy run (the committed bundle; run-action.ts decides); `killAfterMs` SIGKILLs it that
 * long after its apply step began (as a runner whose machine died would). `applyAt` is when the
 * step began, from the run's start.
 */
async function deploy(inputs: Record<string, string>, runId: string, killAfterMs?: number): Promise<Result> {
  const started = performance.now();
  let applyAt: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const r = await runGitHubAction(
      'k8s-deploy',
      { provenance: 'false', ...inputs },
      {
        env: { KUBECONFIG: need('KUBECONFIG'), GITHUB_REPOSITORY: 'acme/shop', GITHUB_RUN_ID: runId },
        timeoutMs: 300_000,
        onStdout: (stdout, kill) => {
          if (applyAt !== undefined || !stdout.includes(APPLY_STARTS)) return;
          applyAt = performance.now() - started;
          if (killAfterMs !== undefined) timer = setTimeout(kill, killAfterMs);
        },
      },
    );
    return { ...r, stdout: r.stdout + r.stderr, applyAt };
  } finally {
    clearTimeout(timer);
  }
}

const id = uniq();
const namespaces: string[] = [];
let work: string;

/** The app at version v: config maps (one only in v1, one only in v2), a secret, a service account, a service, a deployment. */
function manifests(v: 1 | 2): string {
  const docs: string[] = [];
  for (let i = 0; i < 8; i++) docs.push(`apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg-${i}\ndata:\n  version: "${v}"\n  i: "${i}"\n`);
  docs.push(`apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: only-v${v}\ndata:\n  x: "${v}"\n`);
  docs.push(`apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  token: "t-${v}"\n`);
  docs.push('apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: app\n');
  docs.push('apiVersion: v1\nkind: Service\nmetadata:\n  name: app\nspec:\n  selector:\n    app: app\n  ports:\n  - port: 80\n    targetPort: 8080\n');
  docs.push(
    `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  replicas: 0\n  selector:\n    matchLabels:\n      app: app\n  template:\n    metadata:\n      labels:\n        app: app\n      annotations:\n        version: "${v}"\n    spec:\n      serviceAccountName: app\n      containers:\n      - name: app\n        image: 127.0.0.1:5000/he/app:v${v}\n`,
  );
  return docs.join('---\n');
}

// Filled in by the server per object or per moment, never by the deploy.
const VOLATILE_META = ['uid', 'resourceVersion', 'creationTimestamp', 'managedFields', 'generation', 'namespace', 'selfLink'];

/** The set as kubectl shows it, minus the per-object server fields: what must converge. */
async function snapshot(ns: string): Promise<string> {
  const list = JSON.parse(
    await sh('kubectl', ['get', 'configmaps,secrets,serviceaccounts,services,deployments', '-n', ns, '-l', 'shipline.dev/set=app', '-o', 'json']),
  ) as { items: Record<string, unknown>[] };
  const items = list.items.map((o): Record<string, unknown> => {
    const meta = { ...(o.metadata as Record<string, unknown>) };
    for (const k of VOLATILE_META) delete meta[k];
    const spec = o.spec ? { ...(o.spec as Record<string, unknown>) } : undefined;
    if (spec && o.kind === 'Service') for (const k of ['clusterIP', 'clusterIPs']) delete spec[k];
    const { status: _status, ...rest } = o;
    return { ...rest, metadata: meta, ...(spec ? { spec } : {}) };
  });
  items.sort((a, b) =>
    `${String(a.kind)}/${(a.metadata as { name: string }).name}`.localeCompare(`${String(b.kind)}/${(b.metadata as { name: string }).name}`),
  );
  return JSON.stringify(items, null, 1);
}

/** The first line where two snapshots differ, with its line number, for a failure message. */
function firstDifference(want: string, got: string): string {
  const a = want.split('\n');
  const b = got.split('\n');
  const i = a.findIndex((line, n) => line !== b[n]);
  const at = i === -1 ? a.length : i;
  return `line ${at + 1}: want ${JSON.stringify(a[at] ?? '(end)')}, got ${JSON.stringify(b[at] ?? '(end)')}`;
}

async function namespace(name: string): Promise<string> {
  const ns = `he-kill-${id}-${name}`;
  namespaces.push(ns);
  await sh('kubectl', ['create', 'namespace', ns]);
  return ns;
}

const inputsFor = (ns: string, v: 1 | 2) => ({ namespace: ns, set: 'app', prune: 'true', manifests: join(work, `v${v}.yaml`) });

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'he-kill-work-'));
  writeFileSync(join(work, 'v1.yaml'), manifests(1));
  writeFileSync(join(work, 'v2.yaml'), manifests(2));
});

afterAll(async () => {
  for (const ns of namespaces) await sh('kubectl', ['delete', 'namespace', ns, '--wait=false', '--ignore-not-found']);
  rmSync(work, { recursive: true, force: true });
});

describe('k8s-deploy killed mid-run', () => {
  it('SIGKILL at a random moment, then a re-run: the set converges to what an unkilled deploy leaves', async () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    // The reference: v1 then v2, never killed; its v2 run's length bounds the kill moments.
    const ref = await namespace('ref');
    const r1 = await deploy(inputsFor(ref, 1), '1');
    expect(r1.code, r1.stdout).toBe(0);
    const r2 = await deploy(inputsFor(ref, 2), '2');
    expect(r2.code, r2.stdout).toBe(0);
    const want = await snapshot(ref);
    expect(want).toContain('only-v2');
    expect(want).not.toContain('only-v1');

    // The apply step's length in the reference run bounds the kill moments (from the step's start).
    const applyMs = r2.ms - (r2.applyAt ?? 0);
    const N = 20;
    let correct = 0;
    let killed = 0;
    let waitedForLease = 0;
    let tookExpired = 0;
    const bad: string[] = [];
    const started = performance.now();
    // All kills first, then all re-runs: a re-run then meets its killed run's lease expired, or
    // (the last few) still held and waits for it; a re-run right after each kill would mostly wait
    // out the whole lease.
    const cases: { ns: string; delay: number; killed: Result }[] = [];
    // A run that finished before its kill moment was no kill: the case starts again in a new
    // namespace (putting v1 back would add Deployment revisions the reference never had) and the
    // kill comes earlier (the last try at the apply's first moment), so every case is a kill mid-apply.
    let finishedFirst = 0;
    for (let i = 0; i < N; i++) {
      let ns = '';
      let k: Result | undefined;
      let delay = 0;
      for (let attempt = 0; attempt < 4 && k?.signal !== 'SIGKILL'; attempt++) {
        if (k) finishedFirst++;
        ns = await namespace(`${i}-${attempt}`);
        const base = await deploy(inputsFor(ns, 1), `${i}1${attempt}`);
        expect(base.code, base.stdout).toBe(0);
        delay = attempt < 3 ? Math.round(random() * applyMs * 0.5 ** attempt) : 0;
        k = await deploy(inputsFor(ns, 2), `${i}2${attempt}`, delay);
      }
      if (k?.signal === 'SIGKILL') killed++;
      cases.push({ ns, delay, killed: k as Result });
    }
    for (const [i, c] of cases.entries()) {
      const again = await deploy(inputsFor(c.ns, 2), `${i}3`);
      if (/waiting for .*\(lease /.test(again.stdout)) waitedForLease++;
      if (/taken \(expired, held by /.test(again.stdout)) tookExpired++;
      const got = await snapshot(c.ns);
      // The re-run gave its lease back: the next deploy of the set need not wait.
      const leases = (await sh('kubectl', ['get', 'leases', '-n', c.ns, '-o', 'name'])).trim();
      if (again.code === 0 && got === want && leases === '') correct++;
      else
        bad.push(
          `case ${i} (kill ${c.delay} ms into apply, ${c.killed.signal ?? `exit ${c.killed.code}`}): re-run exit ${again.code}${got === want ? '' : `, set differs: ${firstDifference(want, got)}`}${leases ? `, lease left: ${leases}` : ''}\n${again.stdout.slice(-1500)}`,
        );
    }
    const per = (performance.now() - started) / N / 1000;
    console.log(
      `FIGURE deploy-kill converges: ${N} tried, ${correct} correct — seed ${seed}, ${killed} SIGKILLed 0–${Math.round(applyMs)} ms into apply (${finishedFirst} runs finished before their kill moment and were tried again earlier), re-runs: ${tookExpired} took the dead run's expired lease, ${waitedForLease} waited for it, ${per.toFixed(1)} s a case`,
    );
    expect(bad).toEqual([]);
    expect(killed, 'every case must be a kill during apply').toBe(N);
    expect(correct).toBe(N);
  });
});
