// Table tests of the status rules: inline YAML objects (the target first, then the related
// ReplicaSets, ControllerRevisions and pods of its namespace), evaluated at t0 and again after
// `elapsedMs`, so the graces are exercised through the same first-seen memory the engine keeps.
import { describe, expect, test } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../object.ts';
import { classifyPullError, type RuleContext, type RuleOptions } from './pod.ts';
import { Reason, type ReasonCode } from './reasons.ts';
import { computeStatus } from './rules.ts';
import type { State } from './types.ts';

const T0 = Date.parse('2026-12-01T12:00:00Z');
const OPTIONS: RuleOptions = {
  imagePullGraceMs: 20_000,
  configGraceMs: 10_000,
  unschedulableGraceMs: 30_000,
  maxRestarts: 2,
  waitForLoadBalancer: true,
  stableMs: 10_000,
};

function objects(text: string): KubeObject[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as KubeObject)
    .filter((o) => o && typeof o === 'object');
}

function evaluate(text: string, elapsedMs = 0, options: Partial<RuleOptions> = {}) {
  const [target, ...rest] = objects(text);
  if (!target) throw new Error('fixture without objects');
  const ctx: RuleContext = {
    now: T0,
    options: { ...OPTIONS, ...options },
    pods: rest.filter((o) => o.kind === 'Pod'),
    replicaSets: rest.filter((o) => o.kind === 'ReplicaSet'),
    controllerRevisions: rest.filter((o) => o.kind === 'ControllerRevision'),
    firstSeen: new Map(),
  };
  let status = computeStatus(target, ctx);
  if (elapsedMs > 0) {
    ctx.now = T0 + elapsedMs;
    status = computeStatus(target, ctx);
  }
  return status;
}

// ---- building blocks -------------------------------------------------------------------------

const deployment = (status: string, spec = '', meta = '') => `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, uid: d1, generation: 2, annotations: {deployment.kubernetes.io/revision: "2"}${meta}}
spec: {replicas: 3, progressDeadlineSeconds: 600${spec}}
status: {${status}}
`;
const rollingDeployment = deployment(
  'observedGeneration: 2, replicas: 4, updatedReplicas: 1, readyReplicas: 3, availableReplicas: 3, conditions: [{type: Progressing, status: "True", reason: ReplicaSetUpdated}]',
);
const replicaSets = `
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web-new, namespace: shop, uid: rs2, annotations: {deployment.kubernetes.io/revision: "2"}, ownerReferences: [{kind: Deployment, name: web, uid: d1, controller: true}]}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web-old, namespace: shop, uid: rs1, annotations: {deployment.kubernetes.io/revision: "1"}, ownerReferences: [{kind: Deployment, name: web, uid: d1, controller: true}]}
`;
/** A pod owned by `owner` (uid) with one container status `cs` (flow YAML), and optional pod status fields. */
const pod = (name: string, owner: string, cs: string, extra = '', labels = '', probe = '') => `
---
apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: shop, uid: u-${name}, labels: {${labels}}, ownerReferences: [{kind: X, name: owner, uid: ${owner}, controller: true}]}
spec: {restartPolicy: Always, containers: [{name: app${probe}}]}
status: {phase: Running${extra}, containerStatuses: [{name: app, restartCount: 0, ${cs}}]}
`;
const waiting = (reason: string, message: string, more = '') => `state: {waiting: {reason: ${reason}, message: ${JSON.stringify(message)}}}${more}`;
const running = 'state: {running: {startedAt: "2026-12-01T11:59:00Z"}}';
const runningSince = (t: string) => `state: {running: {startedAt: "${t}"}}`;
/** `n` pods of `owner`, running for a minute before t0. */
const runningPods = (prefix: string, owner: string, n: number, labels = '') =>
  Array.from({ length: n }, (_, i) => pod(`${prefix}-${i}`, owner, running, '', labels)).join('');
const doneDeployment = deployment('observedGeneration: 2, replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3');
const crashed = (code: number, reason = 'Error', message = '') =>
  `lastState: {terminated: {exitCode: ${code}, reason: ${reason}, finishedAt: "2026-12-01T11:59:50Z"${message ? `, message: ${JSON.stringify(message)}` : ''}}}`;

const NOT_FOUND_MSG =
  'rpc error: code = NotFound desc = failed to pull and unpack image "127.0.0.1:5000/shop/web:nope": failed to resolve reference "127.0.0.1:5000/shop/web:nope": 127.0.0.1:5000/shop/web:nope: not found';
const DENIED_MSG =
  'Back-off pulling image "reg.example:5443/private/app:1": ErrImagePull: failed to authorize: failed to fetch oauth token: unexpected status from GET request to https://reg.example:5443/token: 401 Unauthorized';
const TRANSIENT_MSG = 'failed to pull image "127.0.0.1:5000/shop/web:1": dial tcp 127.0.0.1:5000: i/o timeout';

interface Case {
  name: string;
  yaml: string;
  elapsedMs?: number;
  options?: Partial<RuleOptions>;
  state: State;
  reason: ReasonCode;
  message?: RegExp;
  pod?: { pod: string; exitCode?: number; signal?: number; restarts?: number };
}

const deploymentCases: Case[] = [
  {
    name: 'complete rollout is Current',
    yaml: doneDeployment + replicaSets + runningPods('web-new', 'rs2', 3),
    state: 'current',
    reason: Reason.Current,
    message: /3\/3 available/,
  },
  {
    name: 'counts complete but the new pods not in view yet (pod watch lagging): no success',
    yaml: doneDeployment + replicaSets + runningPods('web-new', 'rs2', 2),
    state: 'in-progress',
    reason: Reason.InProgress,
    message: /waiting to see the 3 new pods \(2 in view\)/,
  },
  {
    name: 'counts complete, a container without readiness probe up for 3 s: not yet',
    yaml: doneDeployment + replicaSets + runningPods('web-new', 'rs2', 2) + pod('web-new-x', 'rs2', runningSince('2026-12-01T11:59:57Z')),
    state: 'in-progress',
    reason: Reason.InProgress,
    message: /no readiness probe: waiting 7s more/,
  },
  {
    name: 'counts complete, the probe-less container stayed up 10 s',
    yaml: doneDeployment + replicaSets + runningPods('web-new', 'rs2', 2) + pod('web-new-x', 'rs2', runningSince('2026-12-01T11:59:57Z')),
    elapsedMs: 7_000,
    state: 'current',
    reason: Reason.Current,
  },
  {
    name: 'counts complete, a container with a readiness probe is trusted at once (kubectl timing)',
    yaml:
      doneDeployment +
      replicaSets +
      runningPods('web-new', 'rs2', 2) +
      pod('web-new-x', 'rs2', runningSince('2026-12-01T11:59:59Z'), '', '', ', readinessProbe: {httpGet: {path: /, port: 8080}}'),
    state: 'current',
    reason: Reason.Current,
  },
  {
    name: 'stableMs 0 trusts Ready as kubectl does',
    yaml: doneDeployment + replicaSets + runningPods('web-new', 'rs2', 2) + pod('web-new-x', 'rs2', runningSince('2026-12-01T11:59:59Z')),
    options: { stableMs: 0 },
    state: 'current',
    reason: Reason.Current,
  },
  {
    name: 'counts complete while a new pod crash-loops (a Ready blip without probe): failure, not success',
    yaml:
      doneDeployment +
      replicaSets +
      runningPods('web-new', 'rs2', 2) +
      pod('web-new-x', 'rs2', `${waiting('CrashLoopBackOff', 'back-off 10s')}, restartCount: 1, ${crashed(3)}`),
    state: 'failed',
    reason: Reason.CrashLoopBackOff,
  },
  {
    name: 'spec not yet observed',
    yaml: deployment('observedGeneration: 1, replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3'),
    state: 'in-progress',
    reason: Reason.InProgress,
    message: /observe/,
  },
  {
    name: 'fewer updated than desired',
    yaml: rollingDeployment + replicaSets,
    state: 'in-progress',
    reason: Reason.InProgress,
    message: /1 of 3 new replicas updated/,
  },
  {
    name: 'old replicas pending termination',
    yaml: deployment('observedGeneration: 2, replicas: 4, updatedReplicas: 3, readyReplicas: 4, availableReplicas: 4'),
    state: 'in-progress',
    reason: Reason.InProgress,
    message: /1 old replicas pending termination/,
  },
  {
    name: 'updated but not all available',
    yaml: deployment('observedGeneration: 2, replicas: 3, updatedReplicas: 3, readyReplicas: 2, availableReplicas: 2'),
    state: 'in-progress',
    reason: Reason.InProgress,
    message: /2 of 3 updated replicas available/,
  },
  {
    name: 'progress deadline exceeded',
    yaml: deployment(
      'observedGeneration: 2, replicas: 4, updatedReplicas: 1, availableReplicas: 3, conditions: [{type: Progressing, status: "False", reason: ProgressDeadlineExceeded, message: ReplicaSet "web-new" has timed out progressing.}]',
      '',
    ).replace('progressDeadlineSeconds: 600', 'progressDeadlineSeconds: 15'),
    state: 'failed',
    reason: Reason.ProgressDeadlineExceeded,
    message: /15s.*timed out progressing/,
  },
  {
    name: 'a stale progress deadline of the previous generation is not this rollout’s',
    yaml: deployment('observedGeneration: 1, replicas: 3, conditions: [{type: Progressing, status: "False", reason: ProgressDeadlineExceeded}]'),
    state: 'in-progress',
    reason: Reason.InProgress,
  },
  {
    name: 'paused and not rolled out is reported at once',
    yaml: deployment('observedGeneration: 2, replicas: 3, updatedReplicas: 0, readyReplicas: 3, availableReplicas: 3', ', paused: true'),
    state: 'failed',
    reason: Reason.Paused,
    message: /paused/,
  },
  {
    name: 'paused but already rolled out is Current',
    yaml:
      deployment('observedGeneration: 2, replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3', ', paused: true') +
      replicaSets +
      runningPods('web-new', 'rs2', 3),
    state: 'current',
    reason: Reason.Current,
    message: /paused/,
  },
  {
    name: 'new pod in CrashLoopBackOff fails at once with the exit code',
    yaml:
      rollingDeployment +
      replicaSets +
      pod(
        'web-new-a',
        'rs2',
        `${waiting('CrashLoopBackOff', 'back-off 10s restarting failed container=app')}, restartCount: 1, ${crashed(3, 'Error', 'config invalid')}`,
      ),
    state: 'failed',
    reason: Reason.CrashLoopBackOff,
    message: /pod web-new-a container app: CrashLoopBackOff: Error, exit code 3: config invalid/,
    pod: { pod: 'web-new-a', exitCode: 3, restarts: 1 },
  },
  {
    name: 'old pods crashing while the new one is healthy is not a failure',
    yaml:
      rollingDeployment +
      replicaSets +
      pod('web-old-a', 'rs1', `${waiting('CrashLoopBackOff', 'back-off 40s')}, restartCount: 7, ${crashed(1)}`) +
      pod('web-new-a', 'rs2', running),
    state: 'in-progress',
    reason: Reason.InProgress,
  },
  {
    name: 'ReplicaSet watch lagging: no new ReplicaSet in view, no pod verdict',
    yaml:
      rollingDeployment + replicaSets.replace('revision: "2"', 'revision: "3"') + pod('web-new-a', 'rs2', `${waiting('CrashLoopBackOff', 'x')}, ${crashed(1)}`),
    state: 'in-progress',
    reason: Reason.InProgress,
  },
  {
    name: 'restarts at max-restarts fail with the last termination',
    yaml: rollingDeployment + replicaSets + pod('web-new-a', 'rs2', `${running}, restartCount: 2, ${crashed(1, 'Error')}`),
    state: 'failed',
    reason: Reason.TooManyRestarts,
    message: /exit code 1.*2 restarts/,
    pod: { pod: 'web-new-a', exitCode: 1, restarts: 2 },
  },
  {
    name: 'one restart is below max-restarts',
    yaml: rollingDeployment + replicaSets + pod('web-new-a', 'rs2', `${running}, restartCount: 1, ${crashed(1)}`),
    state: 'in-progress',
    reason: Reason.InProgress,
  },
  {
    name: 'max-restarts 0 turns the restart rule off',
    yaml: rollingDeployment + replicaSets + pod('web-new-a', 'rs2', `${running}, restartCount: 5, ${crashed(1)}`),
    options: { maxRestarts: 0 },
    state: 'in-progress',
    reason: Reason.InProgress,
  },
  {
    name: 'killed by signal: exit 137 gives signal 9',
    yaml: rollingDeployment + replicaSets + pod('web-new-a', 'rs2', `${running}, restartCount: 3, ${crashed(137, 'Error')}`),
    state: 'failed',
    reason: Reason.TooManyRestarts,
    pod: { pod: 'web-new-a', exitCode: 137, signal: 9, restarts: 3 },
  },
  {
    name: 'OOMKilled once fails at once',
    yaml: rollingDeployment + replicaSets + pod('web-new-a', 'rs2', `${running}, restartCount: 1, ${crashed(137, 'OOMKilled')}`),
    state: 'failed',
    reason: Reason.OOMKilled,
    pod: { pod: 'web-new-a', exitCode: 137, signal: 9, restarts: 1 },
  },
  {
    name: 'OOMKilled wins over CrashLoopBackOff',
    yaml:
      rollingDeployment + replicaSets + pod('web-new-a', 'rs2', `${waiting('CrashLoopBackOff', 'back-off')}, restartCount: 2, ${crashed(137, 'OOMKilled')}`),
    state: 'failed',
    reason: Reason.OOMKilled,
  },
  {
    name: 'image not found within the pull grace keeps waiting',
    yaml: rollingDeployment + replicaSets + pod('web-new-a', 'rs2', waiting('ErrImagePull', NOT_FOUND_MSG), ', phase: Pending'),
    elapsedMs: 19_000,
    state: 'in-progress',
    reason: Reason.InProgress,
    message: /ImageNotFound on pod web-new-a \(failing in 1s/,
  },
  {
    name: 'image not found after the pull grace',
    yaml: rollingDeployment + replicaSets + pod('web-new-a', 'rs2', waiting('ImagePullBackOff', `Back-off pulling image "x": ErrImagePull: ${NOT_FOUND_MSG}`)),
    elapsedMs: 20_000,
    state: 'failed',
    reason: Reason.ImageNotFound,
    message: /not found/,
  },
  {
    name: 'pull grace is configurable',
    yaml: rollingDeployment + replicaSets + pod('web-new-a', 'rs2', waiting('ErrImagePull', NOT_FOUND_MSG)),
    elapsedMs: 5_000,
    options: { imagePullGraceMs: 5_000 },
    state: 'failed',
    reason: Reason.ImageNotFound,
  },
  {
    name: 'access denied (401) after the pull grace',
    yaml: rollingDeployment + replicaSets + pod('web-new-a', 'rs2', waiting('ImagePullBackOff', DENIED_MSG)),
    elapsedMs: 21_000,
    state: 'failed',
    reason: Reason.ImageAccessDenied,
  },
  {
    name: 'a transient pull error never fails',
    yaml: rollingDeployment + replicaSets + pod('web-new-a', 'rs2', waiting('ErrImagePull', TRANSIENT_MSG)),
    elapsedMs: 120_000,
    state: 'in-progress',
    reason: Reason.InProgress,
  },
  {
    name: 'InvalidImageName fails at once',
    yaml:
      rollingDeployment +
      replicaSets +
      pod('web-new-a', 'rs2', waiting('InvalidImageName', 'Failed to apply default image tag "Web:1": invalid reference format')),
    state: 'failed',
    reason: Reason.InvalidImageName,
  },
  {
    name: 'missing ConfigMap within the config grace keeps waiting',
    yaml: rollingDeployment + replicaSets + pod('web-new-a', 'rs2', waiting('CreateContainerConfigError', 'configmap "web-config" not found')),
    elapsedMs: 9_000,
    state: 'in-progress',
    reason: Reason.InProgress,
  },
  {
    name: 'missing ConfigMap after the config grace',
    yaml: rollingDeployment + replicaSets + pod('web-new-a', 'rs2', waiting('CreateContainerConfigError', 'configmap "web-config" not found')),
    elapsedMs: 10_000,
    state: 'failed',
    reason: Reason.CreateContainerConfigError,
    message: /configmap "web-config" not found/,
  },
  {
    name: 'RunContainerError fails at once',
    yaml:
      rollingDeployment +
      replicaSets +
      pod('web-new-a', 'rs2', waiting('RunContainerError', 'failed to create containerd task: exec: "/app/missing": no such file')),
    state: 'failed',
    reason: Reason.RunContainerError,
  },
  {
    name: 'a process that cannot be executed (StartError) is ContainerCannotRun',
    yaml:
      rollingDeployment +
      replicaSets +
      pod(
        'web-new-a',
        'rs2',
        'state: {terminated: {exitCode: 128, reason: StartError, message: "exec: \\"/nope\\": stat /nope: no such file or directory"}}, restartCount: 0',
      ),
    state: 'failed',
    reason: Reason.ContainerCannotRun,
    message: /no such file/,
  },
  {
    name: 'a Failed pod of the new ReplicaSet',
    yaml: rollingDeployment + replicaSets + pod('web-new-a', 'rs2', running, ', phase: Failed, reason: UnexpectedAdmissionError, message: "Allocate failed"'),
    state: 'failed',
    reason: Reason.PodFailed,
    message: /UnexpectedAdmissionError: Allocate failed/,
  },
  {
    name: 'an Evicted pod is replaced by the controller: not a failure',
    yaml: rollingDeployment + replicaSets + pod('web-new-a', 'rs2', running, ', phase: Failed, reason: Evicted, message: "low on memory"'),
    state: 'in-progress',
    reason: Reason.InProgress,
  },
  {
    name: 'unschedulable within the grace keeps waiting',
    yaml:
      rollingDeployment +
      replicaSets +
      pod(
        'web-new-a',
        'rs2',
        running,
        ', conditions: [{type: PodScheduled, status: "False", reason: Unschedulable, message: "0/1 nodes are available: 1 Insufficient cpu."}]',
      ),
    elapsedMs: 29_000,
    state: 'in-progress',
    reason: Reason.InProgress,
  },
  {
    name: 'unschedulable past the grace, with the scheduler message',
    yaml:
      rollingDeployment +
      replicaSets +
      `
---
apiVersion: v1
kind: Pod
metadata: {name: web-new-a, namespace: shop, uid: p1, ownerReferences: [{kind: ReplicaSet, name: web-new, uid: rs2, controller: true}]}
status: {phase: Pending, conditions: [{type: PodScheduled, status: "False", reason: Unschedulable, lastTransitionTime: "2026-12-01T11:59:58Z", message: "0/1 nodes are available: 1 Insufficient cpu."}]}
`,
    elapsedMs: 30_000,
    state: 'failed',
    reason: Reason.Unschedulable,
    message: /Insufficient cpu/,
  },
  {
    name: 'a terminating pod is not judged',
    yaml:
      rollingDeployment +
      replicaSets +
      pod('web-new-a', 'rs2', `${waiting('CrashLoopBackOff', 'x')}, ${crashed(1)}`).replace(
        'uid: u-web-new-a',
        'uid: u-web-new-a, deletionTimestamp: "2026-12-01T11:59:59Z"',
      ),
    state: 'in-progress',
    reason: Reason.InProgress,
  },
  {
    name: 'an init container in CrashLoopBackOff',
    yaml:
      rollingDeployment +
      replicaSets +
      `
---
apiVersion: v1
kind: Pod
metadata: {name: web-new-a, namespace: shop, uid: p1, ownerReferences: [{kind: ReplicaSet, name: web-new, uid: rs2, controller: true}]}
status:
  phase: Pending
  initContainerStatuses: [{name: migrate, restartCount: 1, state: {waiting: {reason: CrashLoopBackOff}}, lastState: {terminated: {exitCode: 2, reason: Error}}}]
  containerStatuses: [{name: app, restartCount: 0, state: {waiting: {reason: PodInitializing}}}]
`,
    state: 'failed',
    reason: Reason.CrashLoopBackOff,
    message: /container migrate/,
  },
];

const sts = (spec: string, status: string) => `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop, uid: s1, generation: 3}
spec: {replicas: 3, ${spec}}
status: {${status}}
`;
const stsRolling = 'updateStrategy: {type: RollingUpdate, rollingUpdate: {partition: 0}}';
const stsStatus = (ready: number, updated: number, more = '') =>
  `observedGeneration: 3, replicas: 3, readyReplicas: ${ready}, updatedReplicas: ${updated}, currentRevision: db-aaa, updateRevision: db-bbb${more}`;

const statefulSetCases: Case[] = [
  {
    name: 'OnDelete is not verifiable',
    yaml: sts('updateStrategy: {type: OnDelete}', stsStatus(3, 0)),
    state: 'unverifiable',
    reason: Reason.NotVerifiable,
    message: /OnDelete/,
  },
  { name: 'never observed (observedGeneration 0)', yaml: sts(stsRolling, 'replicas: 0'), state: 'in-progress', reason: Reason.InProgress },
  { name: 'not all ready', yaml: sts(stsRolling, stsStatus(2, 3)), state: 'in-progress', reason: Reason.InProgress, message: /1 pods not ready/ },
  {
    name: 'all ready and updated',
    yaml: sts(stsRolling, stsStatus(3, 3)) + runningPods('db', 's1', 3, 'controller-revision-hash: db-bbb'),
    state: 'current',
    reason: Reason.Current,
  },
  {
    name: 'all ready and updated, but pods of the update revision not in view',
    yaml: sts(stsRolling, stsStatus(3, 3)) + runningPods('db', 's1', 3, 'controller-revision-hash: db-aaa'),
    state: 'in-progress',
    reason: Reason.InProgress,
  },
  {
    name: 'partition 2: one updated pod is the whole rollout',
    yaml:
      sts('updateStrategy: {type: RollingUpdate, rollingUpdate: {partition: 2}}', stsStatus(3, 1)) +
      runningPods('db', 's1', 1, 'controller-revision-hash: db-bbb'),
    state: 'current',
    reason: Reason.Current,
    message: /partition 2/,
  },
  {
    name: 'partition 1: one of two updated',
    yaml: sts('updateStrategy: {type: RollingUpdate, rollingUpdate: {partition: 1}}', stsStatus(3, 1)),
    state: 'in-progress',
    reason: Reason.InProgress,
    message: /1 of 2 new pods/,
  },
  {
    name: 'no rollingUpdate block: revisions differ',
    yaml: sts('updateStrategy: {type: RollingUpdate}', stsStatus(3, 3)),
    state: 'in-progress',
    reason: Reason.InProgress,
    message: /revision db-bbb/,
  },
  {
    name: 'no rollingUpdate block: revisions equal',
    yaml:
      sts('updateStrategy: {type: RollingUpdate}', stsStatus(3, 3).replace('currentRevision: db-aaa', 'currentRevision: db-bbb, currentReplicas: 3')) +
      runningPods('db', 's1', 3, 'controller-revision-hash: db-bbb'),
    state: 'current',
    reason: Reason.Current,
  },
  {
    name: 'a crash-looping pod of the update revision',
    yaml:
      sts(stsRolling, stsStatus(2, 1)) +
      pod('db-2', 's1', `${waiting('CrashLoopBackOff', 'x')}, restartCount: 1, ${crashed(1)}`, '', 'controller-revision-hash: db-bbb') +
      pod('db-1', 's1', running, '', 'controller-revision-hash: db-aaa'),
    state: 'failed',
    reason: Reason.CrashLoopBackOff,
    pod: { pod: 'db-2', exitCode: 1 },
  },
  {
    name: 'a crash-looping pod of the current (old) revision is not this rollout’s',
    yaml:
      sts(stsRolling, stsStatus(2, 1)) +
      pod('db-1', 's1', `${waiting('CrashLoopBackOff', 'x')}, restartCount: 4, ${crashed(1)}`, '', 'controller-revision-hash: db-aaa'),
    state: 'in-progress',
    reason: Reason.InProgress,
  },
];

const template = '{metadata: {labels: {app: agent}}, spec: {containers: [{name: app, image: "agent:2"}]}}';
const ds = (spec: string, status: string) => `
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: shop, uid: ds1, generation: 2}
spec: {template: ${template}, ${spec}}
status: {${status}}
`;
const dsRolling = 'updateStrategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 1}}';
const revisions = (newTemplate: string) => `
---
apiVersion: apps/v1
kind: ControllerRevision
metadata: {name: agent-old111, namespace: shop, labels: {controller-revision-hash: old111}, ownerReferences: [{kind: DaemonSet, name: agent, uid: ds1, controller: true}]}
revision: 1
data: {spec: {template: {$patch: replace, metadata: {labels: {app: agent}}, spec: {containers: [{name: app, image: "agent:1"}]}}}}
---
apiVersion: apps/v1
kind: ControllerRevision
metadata: {name: agent-new222, namespace: shop, labels: {controller-revision-hash: new222}, ownerReferences: [{kind: DaemonSet, name: agent, uid: ds1, controller: true}]}
revision: 2
data: {spec: {template: {$patch: replace, metadata: {labels: {app: agent}}, spec: {containers: [{name: app, image: "${newTemplate}"}]}}}}
`;

const daemonSetCases: Case[] = [
  {
    name: 'OnDelete is not verifiable',
    yaml: ds('updateStrategy: {type: OnDelete}', 'observedGeneration: 2'),
    state: 'unverifiable',
    reason: Reason.NotVerifiable,
  },
  { name: 'spec not observed', yaml: ds(dsRolling, 'observedGeneration: 1'), state: 'in-progress', reason: Reason.InProgress },
  {
    name: 'fewer updated than desired',
    yaml: ds(dsRolling, 'observedGeneration: 2, desiredNumberScheduled: 2, updatedNumberScheduled: 1, numberAvailable: 2, numberReady: 2'),
    state: 'in-progress',
    reason: Reason.InProgress,
    message: /1 of 2 new pods updated/,
  },
  {
    name: 'updated but not available',
    yaml: ds(dsRolling, 'observedGeneration: 2, desiredNumberScheduled: 2, updatedNumberScheduled: 2, numberAvailable: 1'),
    state: 'in-progress',
    reason: Reason.InProgress,
    message: /1 of 2 updated pods available/,
  },
  {
    name: 'rolled out',
    yaml:
      ds(dsRolling, 'observedGeneration: 2, desiredNumberScheduled: 2, updatedNumberScheduled: 2, numberAvailable: 2, numberReady: 2') +
      revisions('agent:2') +
      runningPods('agent', 'ds1', 2, 'controller-revision-hash: new222'),
    state: 'current',
    reason: Reason.Current,
  },
  {
    name: 'a pod of the newest revision cannot pull its image',
    yaml:
      ds(dsRolling, 'observedGeneration: 2, desiredNumberScheduled: 1, updatedNumberScheduled: 1, numberAvailable: 0') +
      revisions('agent:2') +
      pod('agent-x', 'ds1', waiting('ErrImagePull', NOT_FOUND_MSG), '', 'controller-revision-hash: new222'),
    elapsedMs: 25_000,
    state: 'failed',
    reason: Reason.ImageNotFound,
  },
  {
    name: 'revision watch lagging (no revision with the current template): the old pod’s crash is not judged',
    yaml:
      ds(dsRolling, 'observedGeneration: 2, desiredNumberScheduled: 1, updatedNumberScheduled: 0, numberAvailable: 0') +
      revisions('agent:1-other') +
      pod('agent-y', 'ds1', `${waiting('CrashLoopBackOff', 'x')}, ${crashed(1)}`, '', 'controller-revision-hash: new222'),
    state: 'in-progress',
    reason: Reason.InProgress,
  },
];

const job = (status: string, spec = '') => `
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: shop, uid: j1, generation: 1}
spec: {completions: 1, backoffLimit: 2${spec}}
status: {${status}}
`;
const jobCases: Case[] = [
  { name: 'Complete', yaml: job('succeeded: 1, conditions: [{type: Complete, status: "True"}]'), state: 'current', reason: Reason.Current },
  {
    name: 'Failed with the controller’s reason',
    yaml: job('failed: 3, conditions: [{type: Failed, status: "True", reason: BackoffLimitExceeded, message: Job has reached the specified backoff limit}]'),
    state: 'failed',
    reason: Reason.JobFailed,
    message: /BackoffLimitExceeded: Job has reached/,
  },
  {
    name: 'FailureTarget settles it before Failed appears',
    yaml: job('failed: 3, conditions: [{type: FailureTarget, status: "True", reason: BackoffLimitExceeded}]'),
    state: 'failed',
    reason: Reason.JobFailed,
  },
  { name: 'a running Job is not done', yaml: job('active: 1, ready: 1'), state: 'in-progress', reason: Reason.InProgress, message: /0\/1 succeeded, 1 active/ },
  {
    name: 'a Job pod whose image does not exist',
    yaml: job('active: 1') + pod('migrate-x', 'j1', waiting('ImagePullBackOff', NOT_FOUND_MSG)),
    elapsedMs: 20_000,
    state: 'failed',
    reason: Reason.ImageNotFound,
  },
  {
    name: 'a crash-looping Job pod is left to backoffLimit',
    yaml: job('active: 1') + pod('migrate-x', 'j1', `${waiting('CrashLoopBackOff', 'x')}, restartCount: 5, ${crashed(1)}`),
    state: 'in-progress',
    reason: Reason.InProgress,
  },
];

const barePod = (status: string, spec = 'restartPolicy: Always') => `
apiVersion: v1
kind: Pod
metadata: {name: tool, namespace: shop, uid: bp}
spec: {${spec}}
status: {${status}}
`;
const otherCases: Case[] = [
  { name: 'Pod Ready', yaml: barePod('phase: Running, conditions: [{type: Ready, status: "True"}]'), state: 'current', reason: Reason.Current },
  { name: 'Pod Succeeded (restartPolicy Never)', yaml: barePod('phase: Succeeded', 'restartPolicy: Never'), state: 'current', reason: Reason.Current },
  {
    name: 'Pod running, not ready',
    yaml: barePod('phase: Running, conditions: [{type: Ready, status: "False"}]'),
    state: 'in-progress',
    reason: Reason.InProgress,
  },
  {
    name: 'Pod Failed (restartPolicy Never)',
    yaml: barePod('phase: Failed, containerStatuses: [{name: t, state: {terminated: {exitCode: 1, reason: Error}}}]', 'restartPolicy: Never'),
    state: 'failed',
    reason: Reason.PodFailed,
  },
  {
    name: 'a bare Pod evicted has no controller to replace it',
    yaml: barePod('phase: Failed, reason: Evicted, message: low on disk'),
    state: 'failed',
    reason: Reason.PodFailed,
  },
  {
    name: 'a bare Pod in CrashLoopBackOff',
    yaml: barePod(
      'phase: Running, containerStatuses: [{name: t, restartCount: 1, state: {waiting: {reason: CrashLoopBackOff}}, lastState: {terminated: {exitCode: 1}}}]',
    ),
    state: 'failed',
    reason: Reason.CrashLoopBackOff,
  },
  {
    name: 'PVC Bound',
    yaml: 'apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\nstatus: {phase: Bound}',
    state: 'current',
    reason: Reason.Current,
  },
  {
    name: 'PVC Pending',
    yaml: 'apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\nstatus: {phase: Pending}',
    state: 'in-progress',
    reason: Reason.InProgress,
  },
  {
    name: 'PVC Lost',
    yaml: 'apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\nstatus: {phase: Lost}',
    state: 'failed',
    reason: Reason.ClaimLost,
  },
  {
    name: 'ClusterIP Service',
    yaml: 'apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {type: ClusterIP}',
    state: 'current',
    reason: Reason.Current,
  },
  {
    name: 'LoadBalancer without address, waiting asked',
    yaml: 'apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {type: LoadBalancer}\nstatus: {loadBalancer: {}}',
    state: 'in-progress',
    reason: Reason.NoLoadBalancerAddress,
  },
  {
    name: 'LoadBalancer without address, waiting not asked',
    yaml: 'apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {type: LoadBalancer}\nstatus: {loadBalancer: {}}',
    options: { waitForLoadBalancer: false },
    state: 'current',
    reason: Reason.Current,
  },
  {
    name: 'LoadBalancer with an address',
    yaml: 'apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {type: LoadBalancer}\nstatus: {loadBalancer: {ingress: [{ip: 10.0.0.9}]}}',
    state: 'current',
    reason: Reason.Current,
    message: /10\.0\.0\.9/,
  },
  {
    name: 'ConfigMap (no status) exists',
    yaml: 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}',
    state: 'current',
    reason: Reason.Current,
  },
  {
    name: 'custom resource not yet observed',
    yaml: 'apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, generation: 4}\nstatus: {observedGeneration: 3, conditions: [{type: Ready, status: "True"}]}',
    state: 'in-progress',
    reason: Reason.InProgress,
  },
  {
    name: 'custom resource Stalled',
    yaml: 'apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, generation: 4}\nstatus: {observedGeneration: 4, conditions: [{type: Stalled, status: "True", reason: BadConfig, message: port taken}]}',
    state: 'failed',
    reason: Reason.Stalled,
    message: /BadConfig: port taken/,
  },
  {
    name: 'custom resource Reconciling',
    yaml: 'apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nstatus: {conditions: [{type: Reconciling, status: "True"}, {type: Ready, status: "True"}]}',
    state: 'in-progress',
    reason: Reason.InProgress,
  },
  {
    name: 'custom resource Ready',
    yaml: 'apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nstatus: {conditions: [{type: Ready, status: "True"}]}',
    state: 'current',
    reason: Reason.Current,
  },
  {
    name: 'custom resource Available False',
    yaml: 'apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nstatus: {conditions: [{type: Available, status: "False", reason: MinimumReplicasUnavailable}]}',
    state: 'in-progress',
    reason: Reason.InProgress,
    message: /MinimumReplicasUnavailable/,
  },
  {
    name: 'a CRD kind named Deployment in another group takes the generic rule',
    yaml: 'apiVersion: example.com/v1\nkind: Deployment\nmetadata: {name: w}\nspec: {paused: true}\nstatus: {}',
    state: 'current',
    reason: Reason.Current,
  },
  {
    name: 'bare ReplicaSet available',
    yaml: `apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: r, uid: r1, generation: 1}\nspec: {replicas: 2}\nstatus: {observedGeneration: 1, replicas: 2, readyReplicas: 2, availableReplicas: 2}${runningPods('r', 'r1', 2)}`,
    state: 'current',
    reason: Reason.Current,
  },
  {
    name: 'bare ReplicaSet with a crash-looping pod',
    yaml: `apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: r, uid: r1, generation: 1}\nspec: {replicas: 2}\nstatus: {observedGeneration: 1, replicas: 2, availableReplicas: 1}${pod('r-a', 'r1', `${waiting('CrashLoopBackOff', 'x')}, restartCount: 1, ${crashed(2)}`)}`,
    state: 'failed',
    reason: Reason.CrashLoopBackOff,
  },
];

const all = [
  ...deploymentCases.map((c) => ({ ...c, name: `Deployment: ${c.name}` })),
  ...statefulSetCases.map((c) => ({ ...c, name: `StatefulSet: ${c.name}` })),
  ...daemonSetCases.map((c) => ({ ...c, name: `DaemonSet: ${c.name}` })),
  ...jobCases.map((c) => ({ ...c, name: `Job: ${c.name}` })),
  ...otherCases,
];

describe('status rules', () => {
  test.each(all)('$name', (c) => {
    const s = evaluate(c.yaml, c.elapsedMs, c.options);
    expect({ state: s.state, reason: s.reason }).toEqual({ state: c.state, reason: c.reason });
    if (c.message) expect(s.message).toMatch(c.message);
    if (c.pod) expect(s.pods?.[0]).toMatchObject(c.pod);
    if (s.state === 'failed' && c.pod) expect(s.pods?.[0]?.since).toBeTruthy();
  });

  test('there are at least 40 fixtures', () => {
    expect(all.length).toBeGreaterThanOrEqual(40);
  });

  // Reasons only the engine produces are tested in engine/verify.test.ts.
  const ENGINE_REASONS: ReasonCode[] = [Reason.NotFound, Reason.Deleted, Reason.Timeout, Reason.Forbidden, Reason.UnknownKind];
  test('every reason constant is produced by some fixture or by the engine', () => {
    const produced = new Set<ReasonCode>([...all.map((c) => c.reason), ...ENGINE_REASONS]);
    expect([...Object.values(Reason)].filter((r) => !produced.has(r))).toEqual([]);
  });
});

describe('classifyPullError', () => {
  test.each([
    [NOT_FOUND_MSG, Reason.ImageNotFound],
    ['manifest unknown: manifest unknown', Reason.ImageNotFound],
    ['repository shop/web does not exist', Reason.ImageNotFound],
    [DENIED_MSG, Reason.ImageAccessDenied],
    ['pull access denied for web, repository does not exist or may require docker login', Reason.ImageAccessDenied],
    ['unexpected status from HEAD request: 403 Forbidden', Reason.ImageAccessDenied],
    [
      'failed to pull and unpack image "127.0.0.1:5001/kst/private:x": failed to resolve image: pull access denied, repository does not exist or may require authorization: authorization failed: no basic auth credentials',
      Reason.ImageAccessDenied,
    ],
    [TRANSIENT_MSG, undefined],
    ['unexpected status from GET request: 503 Service Unavailable', undefined],
    ['toomanyrequests: You have reached your pull rate limit (429)', undefined],
    ['failed to pull "reg/app:1.401.0": dial tcp: connection reset by peer', undefined],
    ['failed to copy: httpReadSeeker: failed open: unexpected status code sha256:ab401cd: 500', undefined],
  ])('%s', (message, want) => {
    expect(classifyPullError(message)).toBe(want);
  });
});
