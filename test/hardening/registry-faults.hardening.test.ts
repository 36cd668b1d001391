// Issue 14, registry faults and kills: registry-push's bundle against the real registry behind a
// fault-injecting proxy (seeded), then killed at seeded points and re-run. Every figure is an
// assertion: the test fails when fewer cases are correct than were tried. A failed push is correct
// only when it is clean (exit 1, one error naming the registry, no trace) and its bounds were spent.
import { createHash, randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MANIFEST_ACCEPT } from '../../packages/oci/src/index.ts';
import { type Fault, type FaultProxy, type ProxiedRequest, startFaultProxy } from '../support/fault-proxy.ts';
import { type Fixture, makeOciLayout } from '../support/oci/layout.ts';
import { skopeoRaw } from '../support/oci/skopeo.ts';
import { removeScratch, stack } from '../support/oci/stack-env.ts';
import { type Run, runGitHubAction, stackLines } from '../support/run-action.ts';

const seed = process.env.SHIPLINE_SEED ? Number(process.env.SHIPLINE_SEED) : randomInt(2 ** 31);
const run = `hd-${Date.now().toString(36)}${process.pid.toString(36)}`;
const PUSHES = 100;
const KILLS = 20;
/** Parallel pushes in the fault run; each has its own proxy, so faults stay per push. */
const WORKERS = 6;
/** Chance that a request gets a fault. */
const FAULT_RATE = 0.3;
/** The push's `timeout` input; stalls last longer. */
const CLIENT_TIMEOUT_MS = 2000;
/** Upload rate per request in the kill runs: the biggest layer takes about 1.5 s. */
const SLOW_LINK_BYTES_PER_SECOND = 2_000_000;

/** registry-push under the GitHub contract; `timeoutMs` ends it with SIGKILL, as a runner losing its machine would. */
function pushAction(inputs: Record<string, string>, opts: { timeoutMs?: number } = {}): Promise<Run> {
  return runGitHubAction('registry-push', inputs, opts);
}

let work: string;
let multi: Fixture;
let big: Fixture;
const repositories: string[] = [];

/** Uniform numbers in [0, 1) fixed by the seed and the parts: independent of timing and interleaving. */
function roll(...parts: Array<string | number>): number[] {
  const h = createHash('sha256')
    .update([seed, ...parts].join('\n'))
    .digest();
  return [0, 4, 8, 12].map((o) => h.readUInt32BE(o) / 2 ** 32);
}

/** Stable names for the fixture's digests (its bytes are random), so a seed replays the same faults. */
const digestNames = new Map<string, string>();

function nameDigests(fx: Fixture): void {
  const all = [fx.rootDigest, ...fx.manifestDigests, ...fx.configDigests, ...fx.layerDigests.flat()];
  for (const [i, d] of all.entries()) digestNames.set(d, `blob${i}`);
}

/** What kind of request this is, without the upload session's id (so a decision does not depend on it). */
function requestKey(req: http.IncomingMessage): string {
  const u = new URL(req.url ?? '/', 'http://proxy');
  const named = (text: string) => text.replace(/sha256:[0-9a-f]{64}/g, (d) => digestNames.get(d) ?? d);
  const p = named(u.pathname);
  if (p === '/v2/') return `${req.method} ping`;
  if (p.includes('/blobs/uploads/')) return `${req.method} upload ${named(u.searchParams.get('digest') ?? '')}`;
  const blob = /\/blobs\/(blob\d+|sha256:[0-9a-f]+)$/.exec(p);
  if (blob) return `${req.method} blob ${blob[1]}`;
  const manifest = /\/manifests\/([^/]+)$/.exec(p);
  if (manifest) return `${req.method} manifest ${manifest[1]}`;
  return `${req.method} ${p}`;
}

/** The seeded fault plan of one push: the n-th request of each kind gets the same fault every run. */
function faultPlan(push: number): (req: http.IncomingMessage) => Fault {
  const seen = new Map<string, number>();
  return (req) => {
    const key = requestKey(req);
    const n = seen.get(key) ?? 0;
    seen.set(key, n + 1);
    const [hit = 1, which = 0, param = 0] = roll('fault', push, key, n);
    if (hit >= FAULT_RATE) return undefined;
    const upload = req.method === 'PUT' && key.startsWith('PUT upload');
    const menu: Array<() => Fault> = [
      () => ({ status: 500 }),
      () => ({ status: 502 }),
      () => ({ status: 503 }),
      () => ({ status: 429, retryAfter: '1' }),
      () => ({ status: 429, retryAfter: new Date(Date.now() + 1500).toUTCString() }),
      () => 'reset',
      () => ({ kind: 'stall', ms: CLIENT_TIMEOUT_MS * 2, forward: param < 0.5 }),
      () => ({ kind: 'lose-answer' }),
    ];
    if (req.method !== 'HEAD') menu.push(() => ({ kind: 'truncate' }));
    if (upload) {
      menu.push(() => ({ kind: 'reset-body', afterBytes: Math.floor(param * 400_000) }));
      menu.push(() => ({ status: 404, code: 'BLOB_UPLOAD_UNKNOWN' }));
    }
    return (menu[Math.floor(which * menu.length)] as () => Fault)();
  };
}

async function registryGet(url: string, accept?: string): Promise<Response> {
  return fetch(`http://${stack.registry}${url}`, accept ? { headers: { accept } } : {});
}

async function blobExists(repo: string, digest: string): Promise<boolean> {
  const res = await fetch(`http://${stack.registry}/v2/${repo}/blobs/${digest}`, { method: 'HEAD' });
  return res.status === 200;
}

interface TagCheck {
  tags: number;
  correct: number;
  blobs: number;
  problems: string[];
}

/** Every tag of the repositories, on the real registry: it names the pushed image and every blob it needs exists. */
async function checkTags(repos: string[], expected: string): Promise<TagCheck> {
  const out: TagCheck = { tags: 0, correct: 0, blobs: 0, problems: [] };
  for (const repo of repos) {
    const list = await registryGet(`/v2/${repo}/tags/list`);
    if (list.status === 404) continue;
    const tags = ((await list.json()) as { tags?: string[] | null }).tags ?? [];
    for (const tag of tags) {
      out.tags++;
      const problems: string[] = [];
      const visit = async (ref: string): Promise<string | undefined> => {
        const res = await registryGet(`/v2/${repo}/manifests/${ref}`, MANIFEST_ACCEPT);
        if (res.status !== 200) {
          problems.push(`${repo}:${tag}: manifest ${ref} answers ${res.status}`);
          return undefined;
        }
        const bytes = Buffer.from(await res.arrayBuffer());
        const doc = JSON.parse(bytes.toString('utf8')) as { manifests?: { digest: string }[]; config?: { digest: string }; layers?: { digest: string }[] };
        for (const child of doc.manifests ?? []) await visit(child.digest);
        for (const d of [doc.config?.digest, ...(doc.layers ?? []).map((l) => l.digest)]) {
          if (d === undefined) continue;
          out.blobs++;
          if (!(await blobExists(repo, d))) problems.push(`${repo}:${tag}: blob ${d} is missing`);
        }
        return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
      };
      const digest = await visit(tag);
      if (digest !== undefined && digest !== expected) problems.push(`${repo}:${tag} names ${digest}, not ${expected}`);
      if (problems.length === 0) out.correct++;
      else out.problems.push(...problems);
    }
  }
  return out;
}

/** Best effort: the test's manifests and blob links go, so its repositories hold no tags. */
async function removeRepositories(repos: string[], fx: Fixture[]): Promise<void> {
  const manifests = fx.flatMap((f) => [f.rootDigest, ...f.manifestDigests]);
  const blobs = fx.flatMap((f) => [...f.configDigests, ...f.layerDigests.flat()]);
  for (const repo of repos) {
    for (const d of manifests) await fetch(`http://${stack.registry}/v2/${repo}/manifests/${d}`, { method: 'DELETE' }).catch(() => undefined);
    for (const d of blobs) await fetch(`http://${stack.registry}/v2/${repo}/blobs/${d}`, { method: 'DELETE' }).catch(() => undefined);
  }
}

const errorLines = (r: Run) => r.stdout.split('\n').filter((l) => l.startsWith('::error'));

/** A failed push's contract: exit 1, one error line that names the registry, no stack trace. */
function cleanFailure(r: Run, registry: string): string | undefined {
  if (r.code !== 1) return `exit ${r.code}`;
  const errors = errorLines(r);
  if (errors.length !== 1) return `${errors.length} error lines`;
  if (!(errors[0] as string).includes(registry)) return `error does not name ${registry}: ${errors[0]}`;
  const trace = stackLines(r.stdout + r.stderr);
  if (trace.length) return `stack trace: ${trace[0]}`;
  return undefined;
}

/** The push's attempts per request (the policy's 4 retries) and upload sessions per blob (3 restarts). */
const ATTEMPTS = 5;
const SESSIONS = 4;

/**
 * Whether the proxy's record bears the failure out: the request named spent all its attempts, or
 * the blob named lost every session it may open. A push that gives up earlier fails a user for
 * nothing, which is as wrong as a wrong digest.
 */
function boundsSpent(error: string, requests: ProxiedRequest[]): string | undefined {
  if (new RegExp(`failed after ${ATTEMPTS} attempts`).test(error)) return undefined;
  const lost = /uploading blob (sha256:[0-9a-f]{64}) .* answered HTTP (404|416)/.exec(error);
  if (lost) {
    const sessions = requests.filter(
      (q) =>
        q.method === 'PUT' &&
        new URL(q.url, 'http://proxy').searchParams.get('digest') === lost[1] &&
        (q.fault === '404' || q.upstreamStatus === 404 || q.upstreamStatus === 416),
    ).length;
    return sessions >= SESSIONS ? undefined : `gave up after ${sessions} lost session(s) of ${lost[1]}, not ${SESSIONS}`;
  }
  return 'the error is neither spent retries nor lost sessions';
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'hd-registry-'));
  // A two-platform index (children, configs and five layers), so a push is ~26 requests to fault.
  multi = await makeOciLayout(path.join(work, 'multi'), [
    { platform: { os: 'linux', architecture: 'amd64' }, layers: [600_000, 200_000, 30_000] },
    { platform: { os: 'linux', architecture: 'arm64' }, layers: [500_000, 30_000] },
  ]);
  nameDigests(multi);
  big = await makeOciLayout(path.join(work, 'big'), [{ layers: [3_000_000, 1_500_000, 600_000, 200_000, 50_000] }]);
});

afterAll(async () => {
  await removeRepositories(repositories, [multi, big]).catch(() => undefined);
  await rm(work, { recursive: true, force: true });
  removeScratch();
});

describe('registry-push under registry faults', () => {
  it('100 seeded fault runs: each push ends with the exact digest or one clear error; no tag names a missing blob', async () => {
    const outcomes: Array<{ ok: boolean; succeeded: boolean; detail: string; retries: number; faults: ProxyFaults }> = [];
    type ProxyFaults = Record<string, number>;
    let next = 0;
    const started = performance.now();
    const worker = async () => {
      for (let i = next++; i < PUSHES; i = next++) {
        const repo = `${run}/p${i}`;
        repositories.push(repo);
        const proxy: FaultProxy = await startFaultProxy(stack.registry, faultPlan(i));
        try {
          const r = await pushAction(
            { 'oci-layout': multi.dir, destinations: `${proxy.address}/${repo}:v1\n${proxy.address}/${repo}:latest`, timeout: `${CLIENT_TIMEOUT_MS / 1000}s` },
            { timeoutMs: 300_000 },
          );
          const faults: ProxyFaults = {};
          for (const q of proxy.requests) if (q.fault !== 'none') faults[q.fault] = (faults[q.fault] ?? 0) + 1;
          const retries = r.stdout.split('\n').filter((l) => /^retrying /.test(l)).length;
          let detail = '';
          let succeeded = false;
          if (r.code === 0) {
            succeeded = true;
            if (r.outputs.digest !== multi.rootDigest) detail = `output digest ${r.outputs.digest}`;
            else {
              for (const tag of ['v1', 'latest']) {
                const raw = await skopeoRaw(`${stack.registry}/${repo}:${tag}`).catch((e: Error) => ({ digest: e.message }));
                if (raw.digest !== multi.rootDigest) detail = `skopeo sees ${raw.digest} at :${tag}`;
              }
            }
          } else {
            detail = cleanFailure(r, proxy.address) ?? boundsSpent(errorLines(r)[0] as string, proxy.requests) ?? '';
            if (detail === '') detail = `failed cleanly: ${errorLines(r)[0]?.slice(0, 600)}`;
            else detail = `NOT clean (${detail}); last lines: ${(r.stdout + r.stderr).split('\n').slice(-6).join(' | ').slice(0, 600)}`;
          }
          const ok = detail === '' || detail.startsWith('failed cleanly');
          outcomes.push({ ok, succeeded, detail, retries, faults });
          if (!ok || !succeeded) console.log(`push ${i}: ${ok ? '' : 'WRONG '}${detail} (faults ${JSON.stringify(faults)})`);
        } finally {
          await proxy.close();
        }
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, worker));
    const seconds = (performance.now() - started) / 1000;

    const correct = outcomes.filter((o) => o.ok).length;
    const succeeded = outcomes.filter((o) => o.succeeded && o.ok).length;
    const retries = outcomes.reduce((n, o) => n + o.retries, 0);
    const byKind: Record<string, number> = {};
    for (const o of outcomes) for (const [k, v] of Object.entries(o.faults)) byKind[k] = (byKind[k] ?? 0) + v;
    const injected = Object.values(byKind).reduce((a, b) => a + b, 0);
    const kinds = Object.entries(byKind)
      .sort()
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    console.log(
      `FIGURE registry-fault-pushes: ${outcomes.length} tried, ${correct} correct — seed ${seed}, ${succeeded} pushed the exact digest, ${correct - succeeded} failed cleanly; faults ${injected} (${kinds}), retries ${retries}, ${seconds.toFixed(0)} s`,
    );

    const tags = await checkTags(
      outcomes.map((_, i) => `${run}/p${i}`),
      multi.rootDigest,
    );
    for (const p of tags.problems) console.log(`tag problem: ${p}`);
    console.log(
      `FIGURE registry-fault-tags: ${tags.tags} tried, ${tags.correct} correct — every tag of ${PUSHES} repositories names the pushed index and its ${tags.blobs} blob references exist on the real registry`,
    );

    expect(outcomes).toHaveLength(PUSHES);
    expect(correct).toBe(outcomes.length);
    expect(tags.correct).toBe(tags.tags);
    // Every successful push left its two tags.
    expect(tags.tags).toBeGreaterThanOrEqual(2 * succeeded);
    // Retries are the point: most pushes must get through the faults.
    expect(succeeded).toBeGreaterThan(PUSHES / 2);
  });
});

describe('registry-push killed mid-run', () => {
  it('20 pushes SIGKILLed at seeded points, then re-run: the right digest, reusing what the first run uploaded', async () => {
    const blobCount = big.layerDigests[0]!.length + 1;
    // How long a whole push takes through a slow link (median of three), so the kill points
    // spread over all of it: start-up, blob checks, uploads in flight, manifests.
    const link = { delayMs: 20, bytesPerSecond: SLOW_LINK_BYTES_PER_SECOND };
    const full: number[] = [];
    for (let w = 0; w < 3; w++) {
      const slow = await startFaultProxy(stack.registry, () => undefined, link);
      try {
        const repo = `${run}/kwarm${w}`;
        repositories.push(repo);
        const r = await pushAction({ 'oci-layout': big.dir, destinations: `${slow.address}/${repo}:v1` });
        expect(r.code, r.stdout + r.stderr).toBe(0);
        full.push(r.ms);
      } finally {
        await slow.close();
      }
    }
    const fullMs = full.sort((a, b) => a - b)[1] as number;

    const cases: Array<{ ok: boolean; killedAt: number; committed: number; reused: number; uploaded: number; finished: boolean }> = [];
    for (let i = 0; i < KILLS; i++) {
      const repo = `${run}/k${i}`;
      repositories.push(repo);
      const [r0 = 0] = roll('kill', i);
      const killAt = Math.round(fullMs * (0.15 + 0.8 * r0));
      const first = await startFaultProxy(stack.registry, () => undefined, link);
      let killed: Run;
      try {
        killed = await pushAction({ 'oci-layout': big.dir, destinations: `${first.address}/${repo}:v1` }, { timeoutMs: killAt });
        // Let the registry finish what was in flight when the client died.
        await new Promise((r) => setTimeout(r, 300));
      } finally {
        await first.close();
      }
      const committedDigests = new Set(
        first.requests
          .filter((q) => q.method === 'PUT' && q.url.includes('/blobs/uploads/') && q.upstreamStatus === 201)
          .map((q) => new URL(q.url, 'http://proxy').searchParams.get('digest') ?? ''),
      );
      const second = await startFaultProxy(stack.registry, () => undefined);
      let again: Run;
      try {
        again = await pushAction({ 'oci-layout': big.dir, destinations: `${second.address}/${repo}:v1` });
      } finally {
        await second.close();
      }
      const reuploaded = second.requests
        .filter((q) => q.method === 'PUT' && q.url.includes('/blobs/uploads/') && q.upstreamStatus === 201)
        .map((q) => new URL(q.url, 'http://proxy').searchParams.get('digest') ?? '');
      const headHits = second.requests.filter((q) => q.method === 'HEAD' && q.upstreamStatus === 200).length;
      const problems: string[] = [];
      if (again.code !== 0) problems.push(`re-run exit ${again.code}: ${errorLines(again)[0] ?? again.stderr.slice(-300)}`);
      else {
        if (again.outputs.digest !== big.rootDigest) problems.push(`re-run digest ${again.outputs.digest}`);
        const raw = await skopeoRaw(`${stack.registry}/${repo}:v1`).catch((e: Error) => ({ digest: e.message }));
        if (raw.digest !== big.rootDigest) problems.push(`skopeo sees ${raw.digest}`);
        const again2 = reuploaded.filter((d) => committedDigests.has(d));
        if (again2.length) problems.push(`re-uploaded ${again2.length} blob(s) the killed run had committed`);
        if (headHits < committedDigests.size) problems.push(`only ${headHits} blobs found present, ${committedDigests.size} were committed`);
        if (Number(again.outputs['reused-blobs']) !== headHits)
          problems.push(`reused-blobs ${again.outputs['reused-blobs']} but ${headHits} HEADs found blobs`);
        if (reuploaded.length + headHits !== blobCount) problems.push(`${reuploaded.length} uploaded + ${headHits} reused != ${blobCount} blobs`);
      }
      const finished = killed.code === 0;
      cases.push({ ok: problems.length === 0, killedAt: killAt, committed: committedDigests.size, reused: headHits, uploaded: reuploaded.length, finished });
      console.log(
        `kill ${i}: at ${killAt} ms (${finished ? 'finished first' : `exit ${killed.code}`}), ${committedDigests.size}/${blobCount} blobs committed, re-run reused ${headHits}, uploaded ${reuploaded.length}${problems.length ? ` — WRONG: ${problems.join('; ')}` : ''}`,
      );
    }
    const correct = cases.filter((c) => c.ok).length;
    const midway = cases.filter((c) => !c.finished && c.committed > 0 && c.committed < blobCount).length;
    const reused = cases.reduce((n, c) => n + c.reused, 0);
    console.log(
      `FIGURE registry-kill-resume: ${cases.length} tried, ${correct} correct — seed ${seed}, killed ${cases.filter((c) => !c.finished).length} (${midway} with some of ${blobCount} blobs committed) at ${Math.min(...cases.map((c) => c.killedAt))}-${Math.max(...cases.map((c) => c.killedAt))} ms of a ${Math.round(fullMs)} ms push; re-runs reused ${reused} blobs, every one the killed run had committed`,
    );
    const tags = await checkTags(
      cases.map((_, i) => `${run}/k${i}`),
      big.rootDigest,
    );
    for (const p of tags.problems) console.log(`tag problem: ${p}`);
    console.log(`FIGURE registry-kill-tags: ${tags.tags} tried, ${tags.correct} correct — ${tags.blobs} blob references checked on the real registry`);
    expect(correct).toBe(cases.length);
    expect(tags.correct).toBe(tags.tags);
    expect(tags.tags).toBe(KILLS);
  });
});
