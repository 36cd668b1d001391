// The status library against the stack's real API server, controllers and kubelet: real objects
// for the fail-fast cases (a tag that does not exist, a crash loop, a missing ConfigMap), the
// revision identification of StatefulSets and DaemonSets on what their controllers really write,
// evidence (events, the crashed instance's log) and a Deployment rollback. The action-level
// scenarios (with kubectl as the oracle) are in actions/rollout-verify/test.
//
// With SHIPLINE_CAPTURE=1 the captured objects are written to fixtures/ (unit-tested in
// captured.test.ts), so the unit fixtures stay what the cluster really produces.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { stringify } from 'yaml';
import { run as exec, need, sh, uniq } from '../../../../test/stack/index.ts';
import {
  CRASH,
  daemonSet,
  deployment,
  EAT_MEMORY,
  EXIT_AFTER_5S,
  type Obj,
  pinnedNodeImage,
  serving,
  statefulSet,
  yaml,
} from '../../../../test/support/workloads.ts';
import { KubeClient } from '../client.ts';
import { connectionOf, openKubeconfig } from '../kubeconfig.ts';
import type { KubeObject } from '../object.ts';
import { currentRevisionHash } from './daemonset.ts';
import { verifyRollout } from './engine/verify.ts';
import { collectEvidence } from './evidence.ts';
import { listField, strField } from './fields.ts';
import { podFindings } from './pod.ts';
import { Reason, type ReasonCode } from './reasons.ts';
import { rollbackWorkload } from './rollback.ts';
import { REVISION_HASH_LABEL } from './statefulset.ts';
import type { Target, VerifyOptions } from './types.ts';
import { DEFAULT_VERIFY_OPTIONS } from './types.ts';

const id = uniq();
const ns = `kst-${id}`;
let client: KubeClient;
let image: string;
const capture = process.env.SHIPLINE_CAPTURE === '1';
const OPTS: VerifyOptions & { stableMs: number } = { ...DEFAULT_VERIFY_OPTIONS, stableMs: 10_000, timeoutMs: 120_000 };

const kubectl = (args: string[], input?: string) => sh('kubectl', args, input === undefined ? {} : { input });
const apply = (...objects: Obj[]) => kubectl(['apply', '-n', ns, '-f', '-'], yaml(...objects));
const getJson = async <T = KubeObject>(args: string[]): Promise<T> => JSON.parse(await kubectl(['get', '-n', ns, ...args, '-o', 'json'])) as T;
const items = async (kind: string, selector: string): Promise<KubeObject[]> => (await getJson<{ items: KubeObject[] }>([kind, '-l', selector])).items;
const target = (kind: string, name: string, extra: Partial<Target> = {}): Target => ({
  apiVersion: kind === 'Job' ? 'batch/v1' : 'apps/v1',
  kind,
  namespace: ns,
  name,
  ...extra,
});

async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const waitingReason = (pod: KubeObject | undefined): string | undefined =>
  listField(pod, 'status.containerStatuses').map((c) => strField(c, 'state.waiting.reason'))[0];

/** Saves real objects as a fixture (target first), with server noise (managedFields) removed. */
function save(name: string, objects: KubeObject[]): void {
  if (!capture) return;
  const clean = objects.map((o) => {
    const { managedFields: _, ...metadata } = o.metadata;
    return { ...o, metadata };
  });
  writeFileSync(join(import.meta.dirname, 'fixtures', `${name}.yaml`), clean.map((o) => stringify(o)).join('---\n'));
}

beforeAll(async () => {
  const access = openKubeconfig({ path: need('KUBECONFIG'), env: process.env });
  client = new KubeClient(await connectionOf(access));
  image = (await pinnedNodeImage(need('SHIPLINE_NODE_IMAGE'))).ref;
  await kubectl(['create', 'namespace', ns]);
});

afterAll(async () => {
  client?.close();
  await exec('kubectl', ['delete', 'namespace', ns, '--wait=false', '--ignore-not-found'], { allowFail: true });
});

describe('fail fast on real objects', () => {
  test('a tag that does not exist: ImageNotFound after the pull grace, from the real kubelet message', async () => {
    const missing = `${need('SHIPLINE_REGISTRY')}/kst/absent:nope-${id}`;
    await apply(deployment('missing', serving('m'), { image: missing }));
    const t0 = performance.now();
    const r = await verifyRollout(client, [target('Deployment', 'missing')], { ...OPTS, imagePullGraceMs: 5_000 });
    const seconds = (performance.now() - t0) / 1000;
    expect(r, r.message).toMatchObject({ status: 'failed', reason: Reason.ImageNotFound });
    expect(r.resources[0]?.pods?.[0]).toMatchObject({ container: 'app', reason: Reason.ImageNotFound, message: expect.stringMatching(/not found/) });
    expect(seconds).toBeGreaterThanOrEqual(5);
    expect(seconds).toBeLessThan(40);

    const pods = await items('pods', 'app=missing');
    expect(['ErrImagePull', 'ImagePullBackOff']).toContain(waitingReason(pods[0]));
    expect(podFindings(pods[0] as KubeObject, OPTS, 'all').map((f) => f.problem.reason)).toEqual([Reason.ImageNotFound]);
    save('deployment-image-not-found', [await getJson(['deployment', 'missing']), ...(await items('replicasets', 'app=missing')), ...pods]);

    const ev = await collectEvidence(client, r.resources[0]!, { logLines: 10 });
    expect(ev.events.some((e) => e.object.startsWith('Pod ') && /Failed|BackOff/.test(e.reason))).toBe(true);
    expect(ev.events.some((e) => e.object.startsWith('ReplicaSet ') && e.reason === 'SuccessfulCreate')).toBe(true);
    expect(ev.logs).toEqual([]);
  });

  test('a crash loop: fails in seconds with the exit code, and the crashed instance’s log as evidence', async () => {
    await apply(deployment('crash', CRASH, { image }));
    const t0 = performance.now();
    const r = await verifyRollout(client, [target('Deployment', 'crash')], OPTS);
    const seconds = (performance.now() - t0) / 1000;
    expect(r, r.message).toMatchObject({ status: 'failed' });
    expect([Reason.CrashLoopBackOff, Reason.TooManyRestarts]).toContain(r.reason);
    expect(r.resources[0]?.pods?.[0]).toMatchObject({ container: 'app', exitCode: 3 });
    expect(seconds).toBeLessThan(45);

    const ev = await collectEvidence(client, r.resources[0]!, { logLines: 10 });
    expect(ev.logs[0]).toMatchObject({ container: 'app' });
    expect(ev.logs[0]?.lines.join('\n')).toContain('fatal: cannot open /data/db.sqlite');
    expect(ev.events.some((e) => e.reason === 'BackOff' || e.reason === 'Started')).toBe(true);
    save('deployment-crash-loop', [
      await getJson(['deployment', 'crash']),
      ...(await items('replicasets', 'app=crash')),
      ...(await items('pods', 'app=crash')),
    ]);
  });

  test('a missing ConfigMap: CreateContainerConfigError after the config grace, not before', async () => {
    await apply(deployment('nocm', { ...serving('c'), envFrom: [{ configMapRef: { name: `absent-${id}` } }] }, { image }));
    const pod = await eventually('CreateContainerConfigError', async () => {
      const [p] = await items('pods', 'app=nocm');
      return waitingReason(p) === 'CreateContainerConfigError' ? p : undefined;
    });
    const [f] = podFindings(pod, OPTS, 'all');
    expect(f).toMatchObject({
      graceMs: 10_000,
      problem: { reason: Reason.CreateContainerConfigError, message: expect.stringMatching(/configmap .*not found/) },
    });
    const r = await verifyRollout(client, [target('Deployment', 'nocm')], { ...OPTS, configGraceMs: 3_000 });
    expect(r, r.message).toMatchObject({ status: 'failed', reason: Reason.CreateContainerConfigError });
    expect(r.resources[0]?.durationMs).toBeGreaterThanOrEqual(3_000);
    save('deployment-missing-configmap', [await getJson(['deployment', 'nocm']), ...(await items('replicasets', 'app=nocm')), pod]);
  });

  test('old pods crashing while the new revision is healthy: success', async () => {
    await apply(deployment('heal', CRASH, { image, spec: { strategy: { rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } } } }));
    await eventually('the old pod crash-looping', async () => {
      const [p] = await items('pods', 'app=heal');
      return ((p?.status as { containerStatuses?: { restartCount: number }[] })?.containerStatuses?.[0]?.restartCount ?? 0) >= 1 ? p : undefined;
    });
    await apply(deployment('heal', serving('healed'), { image, spec: { strategy: { rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } } } }));
    const live = await getJson(['deployment', 'heal']);
    const r = await verifyRollout(client, [target('Deployment', 'heal', { generation: live.metadata.generation ?? null })], OPTS);
    expect(r, r.message).toMatchObject({ status: 'success', reason: Reason.Current });
  });
});

interface Cause {
  name: string;
  container: () => Obj;
  image?: () => string;
  reasons: ReasonCode[];
  message: RegExp;
  options?: Partial<VerifyOptions>;
  pod?: Record<string, unknown>;
}

const causes: Cause[] = [
  { name: 'oom-killed', container: () => EAT_MEMORY, reasons: [Reason.OOMKilled], message: /OOMKilled/, pod: { exitCode: 137 } },
  {
    name: 'exit-after-5s',
    container: () => EXIT_AFTER_5S,
    reasons: [Reason.TooManyRestarts, Reason.CrashLoopBackOff],
    message: /exit code 1/,
    pod: { exitCode: 1 },
  },
  {
    name: 'unschedulable',
    container: () => ({ ...serving('u'), resources: { requests: { cpu: '64' } } }),
    reasons: [Reason.Unschedulable],
    message: /Insufficient cpu/,
    options: { unschedulableGraceMs: 3_000 },
  },
  {
    name: 'private-image',
    container: () => serving('p'),
    image: () => `${need('SHIPLINE_REGISTRY_TLS')}/kst/private:${id}`,
    reasons: [Reason.ImageAccessDenied],
    message: /access denied.*authorization/,
    options: { imagePullGraceMs: 3_000 },
  },
  {
    name: 'missing-binary',
    container: () => ({ command: ['/no/such/binary'] }),
    reasons: [Reason.ContainerCannotRun, Reason.RunContainerError, Reason.CrashLoopBackOff],
    message: /no such file|not found/,
  },
];

describe('each fail-fast cause on what the kubelet really writes', () => {
  test.each(causes)('$name', async (c) => {
    const name = `c-${c.name}`;
    await apply(deployment(name, c.container(), { image: c.image?.() ?? image }));
    const r = await verifyRollout(client, [target('Deployment', name)], { ...OPTS, timeoutMs: 90_000, ...c.options });
    expect(r.status, r.message).toBe('failed');
    expect(c.reasons).toContain(r.reason);
    expect(r.message).toMatch(c.message);
    if (c.pod) expect(r.resources[0]?.pods?.[0]).toMatchObject(c.pod);
    save(`deployment-${c.name}`, [
      await getJson(['deployment', name]),
      ...(await items('replicasets', `app=${name}`)),
      ...(await items('pods', `app=${name}`)),
    ]);
  });
});

describe('revisions as the controllers write them', () => {
  test('StatefulSet: pods of the update revision carry it as controller-revision-hash; a crash there fails', async () => {
    await apply(statefulSet('db', serving('db1'), { image, replicas: 2 }));
    expect((await verifyRollout(client, [target('StatefulSet', 'db')], OPTS)).status).toBe('success');
    const before = ((await getJson(['statefulset', 'db'])).status as { updateRevision?: string }).updateRevision;
    await apply(statefulSet('db', CRASH, { image, replicas: 2 }));
    const live = await getJson(['statefulset', 'db']);
    const r = await verifyRollout(client, [target('StatefulSet', 'db', { generation: live.metadata.generation ?? null })], OPTS);
    expect(r, r.message).toMatchObject({ status: 'failed' });
    expect([Reason.CrashLoopBackOff, Reason.TooManyRestarts]).toContain(r.reason);
    const sts = await getJson(['statefulset', 'db']);
    const pods = await items('pods', 'app=db');
    const failing = pods.find((p) => p.metadata.name === r.resources[0]?.pods?.[0]?.pod);
    expect(failing?.metadata.labels?.[REVISION_HASH_LABEL]).toBe((sts.status as { updateRevision: string }).updateRevision);
    save('statefulset-crash-loop', [sts, ...pods]);

    // Back to the update revision before the deploy, through its ControllerRevision.
    const t = target('StatefulSet', 'db', {
      action: 'configured',
      revision: { before: before ?? null, after: (sts.status as { updateRevision: string }).updateRevision },
    });
    const rb = await rollbackWorkload(client, t);
    expect(rb, rb.message).toMatchObject({ rolledBack: true, to: before });
    const back = await verifyRollout(client, [{ ...t, generation: rb.generation ?? null }], OPTS);
    expect(back, back.message).toMatchObject({ status: 'success' });
    expect(((await getJson(['statefulset', 'db'])).status as { updateRevision: string }).updateRevision).toBe(before);
  });

  test('DaemonSet: the newest ControllerRevision is found by its template; the new pods carry its hash', async () => {
    await apply(daemonSet('agent', serving('a1'), { image }));
    expect((await verifyRollout(client, [target('DaemonSet', 'agent')], OPTS)).status).toBe('success');
    await apply(daemonSet('agent', CRASH, { image }));
    const live = await getJson(['daemonset', 'agent']);
    const r = await verifyRollout(client, [target('DaemonSet', 'agent', { generation: live.metadata.generation ?? null })], OPTS);
    expect(r, r.message).toMatchObject({ status: 'failed' });
    expect([Reason.CrashLoopBackOff, Reason.TooManyRestarts]).toContain(r.reason);
    const ds = await getJson(['daemonset', 'agent']);
    const revisions = (await getJson<{ items: KubeObject[] }>(['controllerrevisions'])).items.filter((c) => c.metadata.name?.startsWith('agent-'));
    expect(revisions.length).toBe(2);
    const hash = currentRevisionHash(ds, revisions);
    expect(hash).toBeTruthy();
    const pods = await items('pods', 'app=agent');
    const failing = pods.find((p) => p.metadata.name === r.resources[0]?.pods?.[0]?.pod);
    expect(failing?.metadata.labels?.[REVISION_HASH_LABEL]).toBe(hash);
    save('daemonset-crash-loop', [ds, ...revisions, ...pods]);

    // Without revision information: the revision before the current one, as `kubectl rollout undo`.
    const rb = await rollbackWorkload(client, target('DaemonSet', 'agent'));
    expect(rb, rb.message).toMatchObject({ rolledBack: true, from: `agent-${hash}` });
    const back = await verifyRollout(client, [target('DaemonSet', 'agent', { generation: rb.generation ?? null })], OPTS);
    expect(back, back.message).toMatchObject({ status: 'success' });
  });
});

describe('rollback', () => {
  test('a Deployment gets its previous template back, and the rollback verifies', async () => {
    await apply(deployment('rb', serving('v1'), { image }));
    expect((await verifyRollout(client, [target('Deployment', 'rb')], OPTS)).status).toBe('success');
    const before = (await getJson(['deployment', 'rb'])).metadata.annotations?.['deployment.kubernetes.io/revision'] ?? null;
    await apply(deployment('rb', CRASH, { image }));
    const gen = (await getJson(['deployment', 'rb'])).metadata.generation ?? null;
    const t = target('Deployment', 'rb', { generation: gen, action: 'configured', revision: { before, after: '2' } });
    expect((await verifyRollout(client, [t], OPTS)).status).toBe('failed');

    const rb = await rollbackWorkload(client, t);
    expect(rb).toMatchObject({ rolledBack: true, from: '2', to: '1' });
    const r = await verifyRollout(client, [{ ...t, generation: rb.generation ?? null }], OPTS);
    expect(r, r.message).toMatchObject({ status: 'success' });
    const live = await getJson(['deployment', 'rb']);
    const container = (live.spec as { template: { spec: { containers: { command: string[] }[] } } }).template.spec.containers[0];
    expect(container?.command.join(' ')).toContain('"v1"');
    expect((live.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels['pod-template-hash']).toBeUndefined();
    // Again: the current template already is revision 1's, nothing to do.
    const again = await rollbackWorkload(client, { ...t, revision: { before: '3', after: '3' }, action: 'unchanged' });
    expect(again.rolledBack).toBe(false);
  });
});
