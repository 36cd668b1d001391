// What a person needs to see why a resource failed: the pods involved, recent events of the
// workload, its new ReplicaSet and those pods, and the last lines of each failing container's log
// (the previous instance for a crash). Best effort: what cannot be fetched is noted, never thrown.
// Every string from the cluster passes through untrusted() here (masked, cut, inert).
import { untrusted } from '@shipline/kit/untrusted';
import type { KubeClient } from '../client.ts';
import { ApiError } from '../errors.ts';
import type { KubeObject } from '../object.ts';
import { currentRevisionHash } from './daemonset.ts';
import { newReplicaSet, ownedPods } from './deployment.ts';
import { RELATED_RESOURCES } from './engine/store.ts';
import { condition, intField, strField } from './fields.ts';
import { Reason, type ReasonCode } from './reasons.ts';
import { REVISION_HASH_LABEL, updateRevisionPods } from './statefulset.ts';
import type { PodProblem, ResourceVerdict } from './types.ts';

export interface EventLine {
  /** `Pod web-5f7-x`. */
  object: string;
  type: string;
  reason: string;
  message: string;
  count: number;
  lastSeen: string;
}

export interface ContainerLog {
  pod: string;
  container: string;
  previous: boolean;
  lines: string[];
}

export interface Evidence {
  ref: string;
  reason: ReasonCode;
  message: string;
  pods: PodProblem[];
  events: EventLine[];
  logs: ContainerLog[];
  /** What could not be collected, and why (absent when everything was). */
  notes?: string[];
}

export interface EvidenceOptions {
  logLines: number;
  /** Pods looked at per resource. Default 3. */
  maxPods?: number;
  /** Events kept per object, newest. Default 10. */
  eventsPerObject?: number;
}

// Failures of containers that ran: their last instance's log tells why. The others never started.
const PREVIOUS_LOG = new Set<ReasonCode>([
  Reason.CrashLoopBackOff,
  Reason.TooManyRestarts,
  Reason.OOMKilled,
  Reason.ContainerCannotRun,
  Reason.RunContainerError,
]);
const NO_LOG = new Set<ReasonCode>([
  Reason.ImageNotFound,
  Reason.ImageAccessDenied,
  Reason.InvalidImageName,
  Reason.CreateContainerConfigError,
  Reason.Unschedulable,
]);

export async function collectEvidence(client: KubeClient, verdict: ResourceVerdict, opts: EvidenceOptions): Promise<Evidence> {
  const t = verdict.target;
  const ns = t.namespace || 'default';
  const notes: string[] = [];
  const note = (what: string, e: unknown) => notes.push(untrusted(`${what}: ${e instanceof Error ? e.message : String(e)}`, { max: 500, oneLine: true }));
  const maxPods = opts.maxPods ?? 3;
  const ev: Evidence = {
    ref: untrusted(verdict.ref, { max: 300, oneLine: true }),
    reason: verdict.reason,
    message: untrusted(verdict.message, { max: 2000, oneLine: true }),
    pods: (verdict.pods ?? []).map((p) => ({ ...p, pod: untrusted(p.pod, { max: 253 }), message: untrusted(p.message, { max: 1000, oneLine: true }) })),
    events: [],
    logs: [],
    notes,
  };

  // The workload and the objects around it.
  const objects: { kind: string; name: string }[] = [{ kind: t.kind, name: t.name }];
  let pods: KubeObject[] = [];
  try {
    const r = await client.resourceFor(t.apiVersion, t.kind);
    const live = r ? await client.get(r, ns, t.name) : undefined;
    if (live) {
      const around = await podsAround(client, live, ns);
      if (around.replicaSet?.metadata.name) objects.push({ kind: 'ReplicaSet', name: around.replicaSet.metadata.name });
      pods = around.pods;
    }
  } catch (e) {
    note(`reading ${t.kind} ${t.name}`, e);
  }

  // The pods named by the verdict first; without any, the new revision's pods that are not ready.
  const named = [...new Set(ev.pods.map((p) => p.pod))];
  const chosen = named.length ? named : pods.filter((p) => condition(p, 'Ready')?.status !== 'True').map((p) => p.metadata.name ?? '');
  const podNames = chosen.filter(Boolean).slice(0, maxPods);
  for (const p of podNames) objects.push({ kind: 'Pod', name: p });

  for (const o of objects) {
    try {
      ev.events.push(...(await eventsOf(client, ns, o, opts.eventsPerObject ?? 10)));
    } catch (e) {
      note(`events of ${o.kind} ${o.name}`, e);
    }
  }
  ev.events.sort((a, b) => a.lastSeen.localeCompare(b.lastSeen));

  // Logs: per failing container; for pods without a container named, each container that ran.
  const wanted: { pod: string; container: string; previous: boolean }[] = [];
  for (const p of ev.pods.filter((x) => podNames.includes(x.pod))) {
    if (NO_LOG.has(p.reason)) continue;
    if (p.container) wanted.push({ pod: p.pod, container: p.container, previous: PREVIOUS_LOG.has(p.reason) });
  }
  for (const name of podNames) {
    if (wanted.some((w) => w.pod === name) || ev.pods.some((p) => p.pod === name && NO_LOG.has(p.reason))) continue;
    const pod = pods.find((p) => p.metadata.name === name) ?? (await getPod(client, ns, name).catch(() => undefined));
    for (const c of containersThatRan(pod)) wanted.push({ pod: name, container: c.name, previous: c.restarted });
  }
  for (const w of wanted) {
    const log = await containerLog(client, ns, w, opts.logLines, note);
    if (log) ev.logs.push(log);
  }
  return ev;
}

/** The new revision's ReplicaSet (Deployments) and pods of a workload, as its rule selects them. */
async function podsAround(client: KubeClient, live: KubeObject, ns: string): Promise<{ replicaSet?: KubeObject; pods: KubeObject[] }> {
  const kind = live.kind;
  if (!['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'ReplicaSet'].includes(kind)) return { pods: [] };
  const all = await client.list(RELATED_RESOURCES.pods, ns, '');
  if (kind === 'Deployment') {
    const rs = newReplicaSet(live, await client.list(RELATED_RESOURCES.replicaSets, ns, ''));
    return rs ? { replicaSet: rs, pods: ownedPods(rs, all) } : { pods: [] };
  }
  if (kind === 'StatefulSet') return { pods: updateRevisionPods(live, all) };
  if (kind === 'DaemonSet') {
    const hash = currentRevisionHash(live, await client.list(RELATED_RESOURCES.controllerRevisions, ns, ''));
    return { pods: hash ? ownedPods(live, all).filter((p) => p.metadata.labels?.[REVISION_HASH_LABEL] === hash) : [] };
  }
  return { pods: ownedPods(live, all) };
}

async function getPod(client: KubeClient, ns: string, name: string): Promise<KubeObject | undefined> {
  return client.get(RELATED_RESOURCES.pods, ns, name);
}

function containersThatRan(pod: KubeObject | undefined): { name: string; restarted: boolean }[] {
  if (!pod) return [];
  const statuses = [
    ...((pod.status as { initContainerStatuses?: unknown[] } | undefined)?.initContainerStatuses ?? []),
    ...((pod.status as { containerStatuses?: unknown[] } | undefined)?.containerStatuses ?? []),
  ];
  return statuses
    .filter((cs) => strField(cs, 'state.running.startedAt') || strField(cs, 'state.terminated.finishedAt') || strField(cs, 'lastState.terminated.finishedAt'))
    .map((cs) => ({ name: strField(cs, 'name') ?? '', restarted: !strField(cs, 'state.running.startedAt') && intField(cs, 'restartCount', 0) > 0 }))
    .filter((c) => c.name);
}

/** Events of one object, newest `max`, by field selector on the involved object. */
export async function eventsOf(client: KubeClient, ns: string, o: { kind: string; name: string }, max: number): Promise<EventLine[]> {
  const res = await client.request<{ items?: KubeObject[] }>('GET', `/api/v1/namespaces/${encodeURIComponent(ns)}/events`, {
    query: { fieldSelector: `involvedObject.kind=${o.kind},involvedObject.name=${o.name}` },
  });
  return toEventLines(res.body.items ?? [], max);
}

/** Events as lines, newest `max` kept, oldest first; their text untrusted. */
export function toEventLines(items: KubeObject[], max: number): EventLine[] {
  const lines = items.map((e) => {
    const inv = (e as { involvedObject?: { kind?: string; name?: string } }).involvedObject ?? {};
    const lastSeen =
      strField(e, 'lastTimestamp') ??
      strField(e, 'series.lastObservedTime') ??
      strField(e, 'eventTime') ??
      strField(e, 'firstTimestamp') ??
      e.metadata.creationTimestamp;
    return {
      object: untrusted(`${inv.kind ?? ''} ${inv.name ?? ''}`.trim(), { max: 300, oneLine: true }),
      type: untrusted(strField(e, 'type') ?? '', { max: 20, oneLine: true }),
      reason: untrusted(strField(e, 'reason') ?? '', { max: 100, oneLine: true }),
      message: untrusted(strField(e, 'message') ?? strField(e, 'note') ?? '', { max: 1000, oneLine: true }),
      count: intField(e, 'count', intField(e, 'series.count', 1)),
      lastSeen: typeof lastSeen === 'string' ? lastSeen : '',
    };
  });
  lines.sort((a, b) => a.lastSeen.localeCompare(b.lastSeen));
  return lines.slice(-max);
}

async function containerLog(
  client: KubeClient,
  ns: string,
  w: { pod: string; container: string; previous: boolean },
  tail: number,
  note: (what: string, e: unknown) => void,
): Promise<ContainerLog | undefined> {
  if (tail <= 0) return undefined;
  const get = (previous: boolean) => client.logs(ns, w.pod, { container: w.container, previous, tailLines: tail });
  let previous = w.previous;
  let text: string;
  try {
    text = await get(previous);
  } catch (e) {
    // 400: no previous instance (it has not restarted yet, or the runtime dropped it): the current one then.
    if (!(previous && e instanceof ApiError && e.status === 400)) {
      note(`log of ${w.pod}/${w.container}`, e);
      return undefined;
    }
    previous = false;
    try {
      text = await get(false);
    } catch (e2) {
      note(`log of ${w.pod}/${w.container}`, e2);
      return undefined;
    }
  }
  return { pod: untrusted(w.pod, { max: 253 }), container: untrusted(w.container, { max: 253 }), previous, lines: logLines(text, tail) };
}

/** The last `tail` lines of a log, masked as a whole (a secret may span lines), each cut to 1000 characters and inert. */
export function logLines(text: string, tail: number): string[] {
  const lines = untrusted(text).split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.slice(-tail).map((l) => (l.length > 1000 ? `${l.slice(0, 999)}…` : l));
}
