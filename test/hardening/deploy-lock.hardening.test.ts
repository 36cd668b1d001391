// Issue 14, concurrent pipelines: two k8s-deploy runs with prune on the same set and namespace at
// once (two deliveries of one app whose object sets differ). Without a lock each applies its own
// objects and then prunes the other's, and the app ends with only what both share; with the deploy
// lock they take turns, and the set ends as the later run left it, the earlier run's objects having
// been there (the later run pruned them) when it ended.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { need, sh, uniq } from '../stack/index.ts';
import { type Run, runGitHubAction } from '../support/run-action.ts';

/** One k8s-deploy run under the GitHub contract (the committed bundle; run-action.ts decides). */
async function deploy(inputs: Record<string, string>, runId: string): Promise<Run> {
  const r = await runGitHubAction(
    'k8s-deploy',
    { provenance: 'false', ...inputs },
    { env: { KUBECONFIG: need('KUBECONFIG'), GITHUB_REPOSITORY: 'acme/shop', GITHUB_RUN_ID: runId }, timeoutMs: 600_000 },
  );
  // Log lines and errors as one text, as a runner's log shows them.
  return { ...r, stdout: r.stdout + r.stderr };
}

const id = uniq();
const ns = `he-lock-${id}`;
let work: string;

const configMaps = (names: string[]) => names.map((n) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${n}\ndata:\n  owner: ${n}\n`).join('---\n');

async function liveNames(set: string): Promise<string[]> {
  const list = JSON.parse(await sh('kubectl', ['get', 'configmaps', '-n', ns, '-l', `shipline.dev/set=${set}`, '-o', 'json'])) as {
    items: { metadata: { name: string } }[];
  };
  return list.items.map((i) => i.metadata.name).sort();
}

const names = (r: Run, output: 'resources' | 'pruned') => (JSON.parse(r.outputs[output] || '[]') as { name: string }[]).map((x) => x.name).sort();

interface PairOutcome {
  ok: boolean;
  why: string;
  waited: boolean;
}

/** One pair: runs A and B of set `pair` started at once; judged on their outputs and the live set. */
async function pair(index: number, lock: boolean): Promise<PairOutcome> {
  const set = `pair-${index}${lock ? '' : '-nolock'}`;
  const objs = { a: [`${set}-common`, `${set}-a1`, `${set}-a2`], b: [`${set}-common`, `${set}-b1`, `${set}-b2`] };
  const fileA = join(work, `${set}-a.yaml`);
  const fileB = join(work, `${set}-b.yaml`);
  writeFileSync(fileA, configMaps(objs.a));
  writeFileSync(fileB, configMaps(objs.b));
  const inputs = { namespace: ns, set, prune: 'true', lock: String(lock), 'lock-timeout': '5m' };
  const [a, b] = await Promise.all([deploy({ ...inputs, manifests: fileA }, `${index}01`), deploy({ ...inputs, manifests: fileB }, `${index}02`)]);
  const live = await liveNames(set);
  const waited = /waiting for https:\/\/github\.com\/acme\/shop\/actions\/runs\/\d+ \(.+ pid \d+\) \(lease he-lock-[^/]+\/shipline-deploy-/.test(
    a.stdout + b.stdout,
  );
  if (a.code !== 0 || b.code !== 0) {
    const failed = [a, b].filter((r) => r.code !== 0);
    const timeouts = failed.every((r) => /::error::.*deploy lock not acquired.*held by /.test(r.stdout));
    return {
      ok: timeouts && failed.length === 1,
      why: `exit codes ${a.code}/${b.code}: ${failed.map((r) => r.stdout.split('\n').find((l) => l.startsWith('::error::'))).join(' | ')}`,
      waited,
    };
  }
  const sorted = { a: [...objs.a].sort(), b: [...objs.b].sort() };
  const [later, earlier, laterName] =
    JSON.stringify(live) === JSON.stringify(sorted.a)
      ? [a, b, 'a']
      : JSON.stringify(live) === JSON.stringify(sorted.b)
        ? [b, a, 'b']
        : [undefined, undefined, ''];
  if (!later || !earlier) return { ok: false, why: `live set ${live.join(',') || '(empty)'} is neither run's objects`, waited };
  // The earlier run's own objects were all there when it ended: the later run found and pruned them.
  const earlierOwn = (laterName === 'a' ? objs.b : objs.a).filter((n) => !n.endsWith('-common')).sort();
  const prunedByLater = names(later, 'pruned');
  if (JSON.stringify(prunedByLater) !== JSON.stringify(earlierOwn))
    return { ok: false, why: `later run pruned ${prunedByLater.join(',')}, want ${earlierOwn.join(',')}`, waited };
  if (names(earlier, 'pruned').some((n) => (laterName === 'a' ? objs.a : objs.b).includes(n)))
    return { ok: false, why: 'earlier run pruned the later run’s objects', waited };
  return { ok: true, why: `run ${laterName} last`, waited };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'he-lock-work-'));
  await sh('kubectl', ['create', 'namespace', ns]);
});

afterAll(async () => {
  await sh('kubectl', ['delete', 'namespace', ns, '--wait=false', '--ignore-not-found']);
  rmSync(work, { recursive: true, force: true });
});

describe('deploy lock: concurrent pruning deliveries of one set', () => {
  it('without the lock pairs lose objects (a note, not counted)', async () => {
    // The race needs both runs' apply and prune to overlap, which process start-up jitter decides:
    // a few pairs, so that the note usually shows it.
    const lost: string[] = [];
    const tries = 5;
    for (let i = 0; i < tries; i++) {
      const o = await pair(100 + i, false);
      if (!o.ok) lost.push(o.why);
    }
    console.log(
      `NOTE deploy-lock without lock (lock: false): ${lost.length} of ${tries} pairs lost objects${lost.length ? ` — e.g. ${lost[0]}` : ' (the race did not hit this time)'}`,
    );
  });

  it('20 concurrent pairs with the lock: no object lost', async () => {
    const N = 20;
    let correct = 0;
    let waited = 0;
    const bad: string[] = [];
    const started = performance.now();
    for (let i = 1; i <= N; i++) {
      const o = await pair(i, true);
      if (o.ok) correct++;
      else bad.push(`pair ${i}: ${o.why}`);
      if (o.waited) waited++;
    }
    const per = (performance.now() - started) / N / 1000;
    console.log(
      `FIGURE deploy-lock pairs: ${N} tried, ${correct} correct — ${waited} pairs logged a wait for the other's lease, ${per.toFixed(1)} s a pair${bad.length ? `; ${bad.join('; ')}` : ''}`,
    );
    expect(bad).toEqual([]);
    expect(correct).toBe(N);
    // Every run gave its lease back at the end (the held one below is put there by the next test).
    expect(await sh('kubectl', ['get', 'leases', '-n', ns, '-o', 'name'])).toBe('');
  });

  it('a lock held by another run: lock-timeout fails naming the holder, nothing applied', async () => {
    const set = 'held';
    const name = (await import('../../packages/kube/src/lock.ts')).leaseNameFor(set);
    const now = new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
    const lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name, namespace: ns },
      spec: { holderIdentity: 'https://ci.example/other/run/7', leaseDurationSeconds: 3600, acquireTime: now, renewTime: now },
    };
    await sh('kubectl', ['apply', '-f', '-'], { input: JSON.stringify(lease) });
    const f = join(work, 'held.yaml');
    writeFileSync(f, configMaps(['held-x']));
    const r = await deploy({ namespace: ns, set, prune: 'true', manifests: f, 'lock-timeout': '3s' }, '999');
    expect(r.code, r.stdout).toBe(1);
    const errors = r.stdout.split('\n').filter((l) => l.startsWith('::error'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/lock-timeout.*held by https:\/\/ci\.example\/other\/run\/7/);
    expect(r.stdout).toMatch(/waiting for https:\/\/ci\.example\/other\/run\/7 \(lease he-lock-[^/]+\/shipline-deploy-held-[0-9a-f]{8}, expires in \d+ s\)/);
    expect(await liveNames(set)).toEqual([]);
  });
});
