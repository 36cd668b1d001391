// The rules on objects captured from the stack (status.stack.test.ts with SHIPLINE_CAPTURE=1):
// exactly what the real controllers and kubelet wrote for each fail-fast case, target first.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../object.ts';
import type { RuleContext } from './pod.ts';
import { Reason, type ReasonCode } from './reasons.ts';
import { computeStatus } from './rules.ts';

const load = (name: string): KubeObject[] =>
  parseAllDocuments(readFileSync(join(import.meta.dirname, 'fixtures', `${name}.yaml`), 'utf8')).map((d) => d.toJS() as KubeObject);

function judge(name: string, afterMs: number) {
  const [target, ...rest] = load(name);
  if (!target) throw new Error(`empty fixture ${name}`);
  const ctx: RuleContext = {
    now: Date.now(),
    options: { imagePullGraceMs: 20_000, configGraceMs: 10_000, unschedulableGraceMs: 30_000, maxRestarts: 2, waitForLoadBalancer: false, stableMs: 10_000 },
    pods: rest.filter((o) => o.kind === 'Pod'),
    replicaSets: rest.filter((o) => o.kind === 'ReplicaSet'),
    controllerRevisions: rest.filter((o) => o.kind === 'ControllerRevision'),
    firstSeen: new Map(),
  };
  const first = computeStatus(target, ctx);
  ctx.now += afterMs;
  return { first, later: computeStatus(target, ctx) };
}

describe('rules on objects captured from the stack', () => {
  test.each<[string, number, ReasonCode[], RegExp]>([
    ['deployment-image-not-found', 20_000, [Reason.ImageNotFound], /not found/],
    ['deployment-crash-loop', 0, [Reason.CrashLoopBackOff, Reason.TooManyRestarts], /exit code 3/],
    ['deployment-missing-configmap', 10_000, [Reason.CreateContainerConfigError], /configmap "absent-.*" not found/],
    ['statefulset-crash-loop', 0, [Reason.CrashLoopBackOff, Reason.TooManyRestarts], /exit code 3/],
    ['daemonset-crash-loop', 0, [Reason.CrashLoopBackOff, Reason.TooManyRestarts], /exit code 3/],
    ['deployment-oom-killed', 0, [Reason.OOMKilled], /OOMKilled, exit code 137/],
    ['deployment-exit-after-5s', 0, [Reason.TooManyRestarts, Reason.CrashLoopBackOff], /exit code 1/],
    ['deployment-unschedulable', 30_000, [Reason.Unschedulable], /Insufficient cpu/],
    ['deployment-private-image', 20_000, [Reason.ImageAccessDenied], /pull access denied/],
    ['deployment-missing-binary', 0, [Reason.ContainerCannotRun, Reason.RunContainerError], /no such file or directory/],
  ])('%s', (name, graceMs, reasons, message) => {
    const { first, later } = judge(name, graceMs);
    if (graceMs > 0) expect(first).toMatchObject({ state: 'in-progress', reason: Reason.InProgress });
    expect(later.state).toBe('failed');
    expect(reasons).toContain(later.reason);
    expect(later.message).toMatch(message);
  });
});
