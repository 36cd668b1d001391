import { describe, expect, test } from 'vitest';
import type { KubeObject } from '../../object.ts';
import type { RuleOptions } from '../pod.ts';
import { Reason } from '../reasons.ts';
import { DEFAULT_VERIFY_OPTIONS, type ResourceStatus, type ResourceVerdict, type Target } from '../types.ts';
import { evaluateTarget, type Memory, ProgressThrottle, progressLine, summarize, type TargetPlan, type View } from './evaluate.ts';
import { EMPTY_FEED, type FeedState, reduceFeed } from './store.ts';

const OPTIONS: RuleOptions = { ...DEFAULT_VERIFY_OPTIONS, stableMs: 10_000 };
const target: Target = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web', uid: 'd1', generation: 2 };
const plan: TargetPlan = { target, ref: 'Deployment shop/web', namespace: 'shop', self: 'deploy', related: { replicaSets: 'rs', pods: 'pods' } };
const deployment = (over: Partial<KubeObject['metadata']> = {}, status: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'shop', uid: 'd1', generation: 2, annotations: { 'deployment.kubernetes.io/revision': '2' }, ...over },
  spec: { replicas: 1 },
  status: { observedGeneration: 2, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1, ...status },
});
const synced = (items: KubeObject[]): FeedState => reduceFeed(EMPTY_FEED, { type: 'listed', items, resourceVersion: '1' }).state;
const memory = (): Memory => ({ firstSeen: new Map(), seen: new Set() });
const view = (feeds: Record<string, FeedState>, fatal: Record<string, ResourceStatus> = {}): View => ({
  feeds: new Map(Object.entries(feeds)),
  fatal: new Map(Object.entries(fatal)),
});
const rs: KubeObject = {
  apiVersion: 'apps/v1',
  kind: 'ReplicaSet',
  metadata: {
    name: 'web-2',
    namespace: 'shop',
    uid: 'rs2',
    annotations: { 'deployment.kubernetes.io/revision': '2' },
    ownerReferences: [{ kind: 'Deployment', name: 'web', uid: 'd1', controller: true } as never],
  },
};
const pod: KubeObject = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web-2-a', namespace: 'shop', uid: 'p1', ownerReferences: [{ kind: 'ReplicaSet', name: 'web-2', uid: 'rs2', controller: true } as never] },
  spec: { containers: [{ name: 'app', readinessProbe: { exec: { command: ['true'] } } }] },
  status: { phase: 'Running', containerStatuses: [{ name: 'app', restartCount: 0, state: { running: { startedAt: '2026-12-01T12:00:00Z' } } }] },
};
const all = (d: KubeObject[]) => ({ deploy: synced(d), rs: synced([rs]), pods: synced([pod]) });

describe('evaluateTarget', () => {
  test('no verdict while any feed the rule reads is not synced (partial view)', () => {
    expect(evaluateTarget(plan, view({ deploy: synced([deployment()]), rs: synced([]) }), memory(), 0, OPTIONS)).toBeUndefined();
    expect(evaluateTarget(plan, view({ ...all([deployment()]), pods: { ...synced([]), synced: false } }), memory(), 0, OPTIONS)).toBeUndefined();
  });

  test('a complete view gives the rule’s verdict', () => {
    expect(evaluateTarget(plan, view(all([deployment()])), memory(), 0, OPTIONS)).toMatchObject({ state: 'current', reason: Reason.Current });
  });

  test('NotFound when absent from a synced list, Deleted once it had been seen', () => {
    const m = memory();
    expect(evaluateTarget(plan, view(all([])), m, 0, OPTIONS)).toMatchObject({ state: 'failed', reason: Reason.NotFound });
    evaluateTarget(plan, view(all([deployment()])), m, 0, OPTIONS);
    expect(evaluateTarget(plan, view(all([])), m, 0, OPTIONS)).toMatchObject({ state: 'failed', reason: Reason.Deleted });
  });

  test('an object with another uid than the one deployed was replaced', () => {
    expect(evaluateTarget(plan, view(all([deployment({ uid: 'other' })])), memory(), 0, OPTIONS)).toMatchObject({ state: 'failed', reason: Reason.Deleted });
  });

  test('a view older than the deployed generation waits', () => {
    expect(evaluateTarget(plan, view(all([deployment({ generation: 1 }, { observedGeneration: 1 })])), memory(), 0, OPTIONS)).toMatchObject({
      state: 'in-progress',
      message: expect.stringMatching(/generation 2/),
    });
  });

  test('a feed the server refuses gives its verdict (Forbidden)', () => {
    const forbidden: ResourceStatus = { state: 'failed', reason: Reason.Forbidden, message: 'pods: forbidden' };
    expect(evaluateTarget(plan, view({ deploy: synced([deployment()]) }, { pods: forbidden }), memory(), 0, OPTIONS)).toBe(forbidden);
  });

  test('a preset verdict (unknown kind) needs no feed', () => {
    const preset: ResourceStatus = { state: 'failed', reason: Reason.UnknownKind, message: 'x' };
    expect(evaluateTarget({ ...plan, self: undefined, preset }, view({}), memory(), 0, OPTIONS)).toBe(preset);
  });
});

describe('progress', () => {
  test('line format', () => {
    expect(progressLine(target, { desired: 3, updated: 2, ready: 1, available: 1 })).toBe('web: 2/3 updated, 1/3 ready, 1/3 available');
    expect(progressLine({ ...target, kind: 'Job', name: 'migrate' }, { desired: 1, updated: 1, ready: 1, available: 0 })).toBe(
      'migrate: 0/1 succeeded, 1 active',
    );
    expect(progressLine(target, undefined)).toBeUndefined();
  });

  test('throttled: on change, at most every 3 s, the final numbers always', () => {
    const t = new ProgressThrottle(3000);
    expect(t.next('a', 'x 1', 0, false)).toBe('x 1');
    expect(t.next('a', 'x 1', 5000, false)).toBeUndefined();
    expect(t.next('a', 'x 2', 5500, false)).toBe('x 2');
    expect(t.next('a', 'x 3', 6000, false)).toBeUndefined();
    expect(t.next('b', 'y 1', 6000, false)).toBe('y 1');
    expect(t.next('a', 'x 3', 8600, false)).toBe('x 3');
    expect(t.next('a', 'x 4', 8700, true)).toBe('x 4');
  });
});

describe('summarize', () => {
  const v = (ref: string, s: Partial<ResourceVerdict>): ResourceVerdict => ({
    target,
    ref,
    durationMs: 1,
    state: 'current',
    reason: Reason.Current,
    message: 'ok',
    ...s,
  });

  test('success, with unverifiable ones named', () => {
    const r = summarize([v('A', {}), v('B', { state: 'unverifiable', reason: Reason.NotVerifiable, message: 'OnDelete' })], [], false, 2500, 60_000);
    expect(r).toMatchObject({ status: 'success', reason: Reason.Current });
    expect(r.message).toMatch(/1 resource rolled out in 2\.5s; not verifiable: B \(OnDelete\)/);
  });

  test('the first failure in time gives the reason', () => {
    const r = summarize(
      [v('A', { state: 'failed', reason: Reason.OOMKilled, message: 'oom' }), v('B', { state: 'failed', reason: Reason.ImageNotFound, message: 'nope' })],
      ['B', 'A'],
      false,
      1,
      1,
    );
    expect(r).toMatchObject({ status: 'failed', reason: Reason.ImageNotFound, message: 'B: nope (and 1 more failed: A)' });
  });

  test('a failure wins over a timeout', () => {
    expect(summarize([v('A', { state: 'failed', reason: Reason.JobFailed }), v('B', { state: 'in-progress' })], ['A'], true, 1, 1).status).toBe('failed');
  });

  test('timeout names what it waited for', () => {
    const r = summarize([v('A', {}), v('B', { state: 'in-progress', reason: Reason.InProgress, message: 'waiting: 1 of 3' })], [], true, 300_000, 300_000);
    expect(r).toMatchObject({ status: 'timeout', reason: Reason.Timeout, message: 'not rolled out within 300.0s: B (waiting: 1 of 3)' });
  });
});
