// All-or-nothing server-side apply in four named steps, each exported:
// - planDeploy: discover every kind, refuse duplicates, label the set, check namespaces;
// - dryRunPlan: server-side dry-run of every object (previewPlan renders a dry-run's result);
// - applyPlan: namespaces and CRDs first (waiting until CRDs are established), then config, then
//   workloads, with each workload's revision;
// - prunePlan: delete what an earlier run of the same set left behind.
// `deploy` runs them in that order.

import { pool } from '@shipline/kit/pool';
import { sleep } from '@shipline/kit/retry';
import type { KubeClient, Resource } from './client.ts';
import { canonicalJson, diffObject, sameObject } from './diff.ts';
import { ApiError, ApplyError, type ApplyFailure, conflictsOf, KubeError, NamespaceMissingError } from './errors.ts';
import type { Manifest } from './manifests.ts';
import { describeObject, groupOf, isRecord, type KubeObject, objectKey } from './object.ts';
import { orderObjects, phases } from './order.ts';
import { ROLLBACK_FIELD_MANAGER } from './status/rollback.ts';

export const FIELD_MANAGER = 'shipline';
export const SET_LABEL = 'shipline.dev/set';

export interface DeployLog {
  info(message: string): void;
  warning(message: string): void;
}

export interface DeployOptions {
  fieldManager?: string;
  force: boolean;
  /** Namespace of namespaced objects that name none. */
  defaultNamespace: string;
  createNamespace: boolean;
  /** Server dry-run only: diffs and would-be prunes, nothing changed. */
  dryRun: boolean;
  /** Label value put on every object as `shipline.dev/set`; prune looks for it. */
  set?: string;
  prune: boolean;
  concurrency?: number;
  crdTimeoutMs?: number;
  /** How long to wait for a workload's controller to record the new revision. */
  revisionTimeoutMs?: number;
  log: DeployLog;
  sleep?: (ms: number) => Promise<void>;
  /** Called after apply, before prune (the deploy lock checks that it still holds its lease). */
  beforePrune?: () => Promise<void>;
}

export type ApplyAction = 'created' | 'configured' | 'unchanged' | 'pruned';

export interface AppliedResource {
  apiVersion: string;
  kind: string;
  namespace: string | null;
  name: string;
  uid: string | null;
  generation: number | null;
  /** What apply did (or, in dry-run, would do). */
  action: ApplyAction;
  /** Workloads only: Deployment revision, StatefulSet update revision, else metadata.generation. */
  revision?: { before: string | null; after: string | null };
  /** Dry-run only: the change as a line diff. */
  diff?: string;
  /** Dry-run only: false when the server could not check it (its namespace or CRD is not there yet). */
  validated?: boolean;
  source?: string;
}

export interface DeployResult {
  dryRun: boolean;
  resources: AppliedResource[];
  pruned: AppliedResource[];
  /** Namespaces that received objects. */
  namespaces: string[];
}

/** One object of a plan: as it will be sent, and what the server said of it at each step. */
export interface PlannedObject {
  source: string;
  object: KubeObject;
  resource?: Resource;
  /** Why the server cannot dry-run it before phase 0 is applied. */
  waitsFor?: 'namespace' | 'crd';
  live?: KubeObject;
  dry?: KubeObject;
  result?: KubeObject;
  autoNamespace?: boolean;
  /** The dry-run result equals the live object (computed once: comparing is not free). */
  same?: boolean;
  /** Applied with force: its only conflicts were with fields a Shipline rollback took over. */
  reclaim?: boolean;
}

// Kinds looked at by prune besides those in the run: what a service's manifests usually hold.
const PRUNE_KINDS: [string, string][] = [
  ['v1', 'ConfigMap'],
  ['v1', 'Secret'],
  ['v1', 'Service'],
  ['v1', 'ServiceAccount'],
  ['v1', 'PersistentVolumeClaim'],
  ['apps/v1', 'Deployment'],
  ['apps/v1', 'StatefulSet'],
  ['apps/v1', 'DaemonSet'],
  ['batch/v1', 'Job'],
  ['batch/v1', 'CronJob'],
  ['networking.k8s.io/v1', 'Ingress'],
  ['networking.k8s.io/v1', 'NetworkPolicy'],
  ['rbac.authorization.k8s.io/v1', 'Role'],
  ['rbac.authorization.k8s.io/v1', 'RoleBinding'],
  ['autoscaling/v2', 'HorizontalPodAutoscaler'],
  ['policy/v1', 'PodDisruptionBudget'],
];
// Never pruned: deleting a namespace or a CRD deletes everything in or of it.
const NEVER_PRUNE = new Set(['Namespace', 'CustomResourceDefinition']);

/**
 * The whole deployment: plan, dry-run, then either the dry-run's result or apply and prune. Each
 * step is exported on its own for callers that run them differently (progressive delivery applies
 * a plan in parts; rollout-verify reuses the records).
 */
export async function deploy(client: KubeClient, manifests: readonly Manifest[], opts: DeployOptions): Promise<DeployResult> {
  const plan = await planDeploy(client, manifests, opts);
  await dryRunPlan(client, plan, opts);
  if (opts.dryRun) return previewPlan(client, plan, opts);
  const resources = await applyPlan(client, plan, opts);
  if (opts.prune) await opts.beforePrune?.();
  const pruned = opts.prune ? await prunePlan(client, plan, opts) : [];
  return { dryRun: false, resources, pruned, namespaces: namespacesOf(plan.items) };
}

/** What the steps share: the objects (as sent, with what the server said of each) and progress. */
export interface DeployPlan {
  readonly items: PlannedObject[];
  /** Objects applied so far (labels), for the error of a later failure. */
  readonly applied: string[];
}

interface Settings {
  fieldManager: string;
  conc: number;
  force: boolean;
  log: DeployLog;
  sleep: (ms: number) => Promise<void>;
  crdTimeoutMs: number;
  revisionTimeoutMs: number;
}

function settingsOf(opts: DeployOptions): Settings {
  return {
    fieldManager: opts.fieldManager ?? FIELD_MANAGER,
    conc: opts.concurrency ?? 16,
    force: opts.force,
    log: opts.log,
    sleep: opts.sleep ?? sleep,
    crdTimeoutMs: opts.crdTimeoutMs ?? 60_000,
    revisionTimeoutMs: opts.revisionTimeoutMs ?? 10_000,
  };
}

/**
 * Plan: every kind must be served (or be defined by a CRD of this run), no object twice, the set
 * label on each, and every namespace there (or created by this run when asked). Changes nothing.
 */
export async function planDeploy(client: KubeClient, manifests: readonly Manifest[], opts: DeployOptions): Promise<DeployPlan> {
  if (opts.prune && !opts.set)
    throw new KubeError('prune needs a set name', 'give the set name objects of this deployment are labelled with, so that they can be found again');
  const items: PlannedObject[] = manifests.map((m) => ({ source: m.source, object: structuredClone(m.object) }));
  await discover(client, items, opts.defaultNamespace);
  checkDuplicates(items);
  if (opts.set) for (const it of items) it.object.metadata.labels = { ...it.object.metadata.labels, [SET_LABEL]: opts.set };
  await planNamespaces(client, items, opts, settingsOf(opts).conc);
  return { items, applied: [] };
}

async function discover(client: KubeClient, items: PlannedObject[], defaultNamespace: string): Promise<void> {
  const newKinds = crdKinds(items);
  await Promise.all([...new Set(items.map((i) => i.object.apiVersion))].map((v) => client.resources(v)));
  const unknown: ApplyFailure[] = [];
  for (const it of items) {
    const r = await client.resourceFor(it.object.apiVersion, it.object.kind);
    if (r) {
      it.resource = r;
      if (r.namespaced) it.object.metadata.namespace ??= defaultNamespace;
      else if (it.object.metadata.namespace) delete it.object.metadata.namespace;
      continue;
    }
    const crd = newKinds.get(`${groupOf(it.object.apiVersion)}|${it.object.kind}`);
    if (crd) {
      it.waitsFor = 'crd';
      if (crd.namespaced) it.object.metadata.namespace ??= defaultNamespace;
      continue;
    }
    unknown.push({
      object: label(it),
      reason: 'UnknownKind',
      message: `kind ${it.object.kind} of apiVersion ${it.object.apiVersion} is not served by the cluster`,
    });
  }
  if (unknown.length) throw new ApplyError('dry-run', unknown);
}

/** Namespaces: those missing are created only when asked (or when the run holds them). */
async function planNamespaces(client: KubeClient, items: PlannedObject[], opts: DeployOptions, conc: number): Promise<void> {
  const nsResource = (await client.resourceFor('v1', 'Namespace')) as Resource;
  const inRun = new Set(items.filter((i) => i.object.kind === 'Namespace' && i.object.apiVersion === 'v1').map((i) => i.object.metadata.name as string));
  const needed = namespacesOf(items);
  const exists = new Map<string, boolean>();
  await pool([...new Set([...needed, ...inRun])], conc, async (ns) => {
    try {
      exists.set(ns, (await client.get(nsResource, undefined, ns)) !== undefined);
    } catch (e) {
      // A namespace-limited user may not read namespaces; assume it exists and let the dry-run speak.
      if (e instanceof ApiError && e.status === 403) exists.set(ns, true);
      else throw e;
    }
  });
  const missing = needed.filter((ns) => !exists.get(ns) && !inRun.has(ns));
  if (missing.length && !opts.createNamespace) {
    throw new NamespaceMissingError(
      missing.map((ns) => ({
        object: `Namespace ${ns}`,
        reason: 'NotFound',
        message: `namespace ${ns} does not exist (needed by ${items.filter((i) => i.object.metadata.namespace === ns).length} object(s))`,
        namespace: ns,
      })),
    );
  }
  for (const ns of missing) {
    items.push({
      source: 'namespace created by this deployment',
      object: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
      resource: nsResource,
      autoNamespace: true,
    });
  }
  const pendingNs = new Set([...missing, ...[...inRun].filter((ns) => !exists.get(ns))]);
  for (const it of items) if (!it.waitsFor && it.object.metadata.namespace && pendingNs.has(it.object.metadata.namespace)) it.waitsFor = 'namespace';
}

/**
 * Dry-run: a server-side dry-run of every object the server can check now (those waiting for a
 * namespace or CRD of this run are checked after phase 0 is applied). Changes nothing; throws an
 * ApplyError naming every refused object.
 */
export async function dryRunPlan(client: KubeClient, plan: DeployPlan, opts: DeployOptions): Promise<void> {
  const s = settingsOf(opts);
  const checkable = plan.items.filter((i) => !i.waitsFor);
  const failures = await dryRunItems(client, checkable, s);
  if (failures.length) throw new ApplyError('dry-run', sortFailures(failures, plan.items));
  s.log.info(
    `server-side dry-run passed for ${checkable.length} object(s)${checkable.length < plan.items.length ? `; ${plan.items.length - checkable.length} wait for a namespace or CRD of this run` : ''}`,
  );
}

async function dryRunItems(client: KubeClient, list: PlannedObject[], s: Settings): Promise<ApplyFailure[]> {
  const failures: ApplyFailure[] = [];
  // The lists run alongside the dry-runs; each object waits for its list only for the live copy.
  const listing = liveByList(client, list, s.conc);
  listing.catch(() => {});
  await pool(list, s.conc, async (it) => {
    const r = it.resource as Resource;
    const key = `${r.apiVersion}|${r.name}|${it.object.metadata.namespace ?? ''}`;
    const name = it.object.metadata.name as string;
    try {
      const [live, dry] = await Promise.all([
        listing.then((listed) => {
          const known = listed.get(key);
          return known ? known.get(name) : client.get(r, it.object.metadata.namespace, name);
        }),
        dryApply(client, r, it, s),
      ]);
      it.live = live;
      it.dry = dry;
      it.same = live !== undefined && sameObject(live, dry);
    } catch (e) {
      failures.push(failureOf(it, e));
    }
  });
  // A list that failed for other reasons than permission ends the run as it would have alone.
  await listing;
  return failures;
}

/**
 * A rollback (rollout-verify) patches the pod template as its own field manager, so the next deploy
 * of the fixed manifests would conflict on exactly those fields. They were ours before the rollback
 * took them: take them back (force), but only when every conflicting field belongs to the rollback;
 * a conflict with anyone else still fails the deploy unless `force` was asked for.
 */
async function dryApply(client: KubeClient, r: Resource, it: PlannedObject, s: Settings): Promise<KubeObject> {
  try {
    return await client.apply(r, it.object, { fieldManager: s.fieldManager, force: s.force, dryRun: true });
  } catch (e) {
    if (s.force || !onlyRollbackConflicts(e)) throw e;
    it.reclaim = true;
    return client.apply(r, it.object, { fieldManager: s.fieldManager, force: true, dryRun: true });
  }
}

export function onlyRollbackConflicts(e: unknown): boolean {
  if (!(e instanceof ApiError) || e.reason !== 'Conflict') return false;
  const conflicts = conflictsOf(e.details);
  return conflicts.length > 0 && conflicts.every((c) => c.manager === ROLLBACK_FIELD_MANAGER);
}

/** The result of a dry-run deployment: diffs against the live objects, and what prune would delete. */
export async function previewPlan(client: KubeClient, plan: DeployPlan, opts: DeployOptions): Promise<DeployResult> {
  const resources = orderObjects(plan.items).map((it) => dryRunRecord(it));
  const pruned = opts.prune ? (await pruneCandidates(client, plan.items, opts, settingsOf(opts).conc)).map((c) => record(c.obj, 'pruned')) : [];
  return { dryRun: true, resources, pruned, namespaces: namespacesOf(plan.items) };
}

/**
 * Apply, phase by phase: namespaces and CRDs first (waiting until CRDs are established), then the
 * dry-run of what waited for them, then config, then workloads. Returns every object's record with
 * workload revisions; a refusal throws an ApplyError listing what was applied before it.
 */
export async function applyPlan(client: KubeClient, plan: DeployPlan, opts: DeployOptions): Promise<AppliedResource[]> {
  const s = settingsOf(opts);
  const { items, applied } = plan;
  const applyAll = async (list: PlannedObject[]) => {
    const failed: ApplyFailure[] = [];
    await pool(list, s.conc, async (it) => {
      try {
        if (it.same && it.live && it.dry && ownsSameFields(it.live, it.dry, s.fieldManager)) {
          // The server already said this apply changes nothing, not even field ownership.
          it.result = it.live;
          return;
        }
        it.result = await client.apply(it.resource as Resource, it.object, {
          fieldManager: s.fieldManager,
          force: s.force || it.reclaim === true,
          dryRun: false,
        });
        applied.push(label(it));
      } catch (e) {
        failed.push(failureOf(it, e));
      }
    });
    if (failed.length) throw new ApplyError('apply', sortFailures(failed, items), [...applied]);
  };
  const first = items.filter((i) => i.object.kind === 'Namespace' || i.object.kind === 'CustomResourceDefinition');
  await applyAll(first);
  await waitForCrds(client, first, s.crdTimeoutMs, s.sleep);
  const deferred = items.filter((i) => i.waitsFor);
  if (deferred.length) {
    for (const it of deferred.filter((i) => i.waitsFor === 'crd')) {
      // Discovery lags behind the Established condition by a moment: ask again until it serves the kind.
      const r = await discoverNewKind(client, it.object.apiVersion, it.object.kind, s.crdTimeoutMs, s.sleep);
      if (!r)
        throw new ApplyError(
          'apply',
          [{ object: label(it), reason: 'UnknownKind', message: `kind ${it.object.kind} is still not served after its CRD was established` }],
          [...applied],
        );
      it.resource = r;
    }
    const late = await dryRunItems(client, deferred, s);
    if (late.length) throw new ApplyError('dry-run', sortFailures(late, items), [...applied]);
  }
  for (const group of phases(items.filter((i) => !first.includes(i)))) await applyAll(group);
  return pool(orderObjects(items), s.conc, (it) => appliedRecord(client, it, s.revisionTimeoutMs, s.sleep));
}

/**
 * Prune: deletes objects of the same set that this run no longer holds (never namespaces, CRDs
 * or objects a controller owns). Run after applyPlan; a refusal throws an ApplyError.
 */
export async function prunePlan(client: KubeClient, plan: DeployPlan, opts: DeployOptions): Promise<AppliedResource[]> {
  const conc = settingsOf(opts).conc;
  const candidates = await pruneCandidates(client, plan.items, opts, conc);
  const pruned: AppliedResource[] = [];
  const failedPrune: ApplyFailure[] = [];
  await pool(candidates, conc, async (c) => {
    try {
      await client.delete(c.resource, c.obj.metadata.namespace, c.obj.metadata.name as string, false);
      pruned.push(record(c.obj, 'pruned'));
    } catch (e) {
      failedPrune.push({ object: describeObject(c.obj), ...reasonOf(e) });
    }
  });
  if (failedPrune.length) throw new ApplyError('prune', failedPrune, [...plan.applied]);
  return pruned;
}

function label(it: PlannedObject): string {
  return `${describeObject(it.object)}${it.source && !it.autoNamespace ? ` (${it.source})` : ''}`;
}

function reasonOf(e: unknown): { reason: string; message: string } {
  if (e instanceof ApiError) return { reason: e.reason, message: e.message };
  if (e instanceof Error) throw e;
  return { reason: 'Unknown', message: String(e) };
}

function failureOf(it: PlannedObject, e: unknown): ApplyFailure {
  // Network failures are not the object's fault: they end the run with their own error.
  const f: ApplyFailure = { object: label(it), ...reasonOf(e) };
  if (e instanceof ApiError && e.reason === 'Conflict') {
    const conflicts = conflictsOf(e.details);
    if (conflicts.length) f.conflicts = conflicts;
  }
  return f;
}

function sortFailures(f: ApplyFailure[], items: PlannedObject[]): ApplyFailure[] {
  const order = new Map(items.map((it, i) => [label(it), i]));
  return [...f].sort((a, b) => (order.get(a.object) ?? 0) - (order.get(b.object) ?? 0));
}

/** With the same content, the same fields owned by our manager means applying again is a no-op. */
function ownsSameFields(live: KubeObject, dry: KubeObject, manager: string): boolean {
  const mine = (o: KubeObject) =>
    canonicalJson(
      (Array.isArray(o.metadata.managedFields) ? o.metadata.managedFields : [])
        .filter((m) => isRecord(m) && m.manager === manager && m.operation === 'Apply')
        .map((m) => [m.apiVersion, m.subresource ?? '', m.fieldsV1]),
    );
  return mine(live) === mine(dry);
}

function crdKinds(items: PlannedObject[]): Map<string, { namespaced: boolean }> {
  const out = new Map<string, { namespaced: boolean }>();
  for (const it of items) {
    if (it.object.kind !== 'CustomResourceDefinition') continue;
    const spec = it.object.spec;
    if (!isRecord(spec) || typeof spec.group !== 'string' || !isRecord(spec.names) || typeof spec.names.kind !== 'string') continue;
    out.set(`${spec.group}|${spec.names.kind}`, { namespaced: spec.scope !== 'Cluster' });
  }
  return out;
}

function checkDuplicates(items: PlannedObject[]): void {
  const seen = new Map<string, PlannedObject>();
  const dup: ApplyFailure[] = [];
  for (const it of items) {
    const k = objectKey(it.object);
    const prev = seen.get(k);
    if (prev) dup.push({ object: label(it), reason: 'Duplicate', message: `the same object is also defined at ${prev.source}` });
    else seen.set(k, it);
  }
  if (dup.length) throw new ApplyError('dry-run', dup);
}

async function waitForCrds(client: KubeClient, group: PlannedObject[], timeoutMs: number, sleep: (ms: number) => Promise<void>): Promise<void> {
  const crds = group.filter((i) => i.object.kind === 'CustomResourceDefinition');
  const deadline = Date.now() + timeoutMs;
  for (const it of crds) {
    for (;;) {
      const live = await client.get(it.resource as Resource, undefined, it.object.metadata.name as string);
      const conds = isRecord(live?.status) && Array.isArray(live.status.conditions) ? live.status.conditions : [];
      if (conds.some((c) => isRecord(c) && c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline)
        throw new ApplyError('apply', [{ object: label(it), reason: 'Timeout', message: `CRD not established within ${Math.round(timeoutMs / 1000)} s` }]);
      await sleep(200);
    }
  }
}

async function discoverNewKind(
  client: KubeClient,
  apiVersion: string,
  kind: string,
  timeoutMs: number,
  sleep: (ms: number) => Promise<void>,
): Promise<Resource | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    client.forget(apiVersion);
    const r = await client.resourceFor(apiVersion, kind);
    if (r || Date.now() > deadline) return r;
    await sleep(200);
  }
}

function namespacesOf(items: PlannedObject[]): string[] {
  return [...new Set(items.map((i) => i.object.metadata.namespace).filter((n): n is string => !!n))].sort();
}

function record(o: KubeObject, action: ApplyAction): AppliedResource {
  return {
    apiVersion: o.apiVersion,
    kind: o.kind,
    namespace: o.metadata.namespace ?? null,
    name: o.metadata.name as string,
    uid: o.metadata.uid ?? null,
    generation: o.metadata.generation ?? null,
    action,
  };
}

const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'ReplicationController', 'Job', 'CronJob']);

/** The revision rollout tools show: Deployment's revision annotation, StatefulSet's update revision, else the generation. */
export function revisionOf(o: KubeObject | undefined): string | null {
  if (!o) return null;
  if (o.kind === 'Deployment') return o.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? null;
  if (o.kind === 'StatefulSet') return isRecord(o.status) && typeof o.status.updateRevision === 'string' ? o.status.updateRevision : null;
  return o.metadata.generation === undefined ? null : String(o.metadata.generation);
}

function dryRunRecord(it: PlannedObject): AppliedResource {
  const next = it.dry ?? it.object;
  const diff = diffObject(it.live, next);
  const action: ApplyAction = !it.live ? 'created' : diff === '' ? 'unchanged' : 'configured';
  const r: AppliedResource = {
    ...record({ ...next, metadata: { ...next.metadata, uid: it.live?.metadata.uid, generation: it.live?.metadata.generation } }, action),
    diff,
    validated: !it.waitsFor,
    source: it.source,
  };
  if (WORKLOADS.has(it.object.kind)) r.revision = { before: revisionOf(it.live), after: null };
  return r;
}

async function appliedRecord(client: KubeClient, it: PlannedObject, timeoutMs: number, sleep: (ms: number) => Promise<void>): Promise<AppliedResource> {
  const res = it.result as KubeObject;
  // Controllers write status (and bump resourceVersion) at any time, so "unchanged" is judged on
  // what apply sets: the dry-run result against the live object, without status and server fields.
  const action: ApplyAction = !it.live ? 'created' : it.same ? 'unchanged' : 'configured';
  const r: AppliedResource = { ...record({ ...res, apiVersion: it.object.apiVersion, kind: it.object.kind }, action), source: it.source };
  if (!WORKLOADS.has(it.object.kind)) return r;
  const before = revisionOf(it.live);
  if (action === 'unchanged') {
    r.revision = { before, after: before };
    return r;
  }
  r.revision = { before, after: await revisionAfter(client, it, res, before, timeoutMs, sleep) };
  return r;
}

/**
 * A Deployment's next revision is known without waiting: a new Deployment starts at 1, and a
 * changed pod template makes the controller number its ReplicaSet (new or reused) one above the
 * highest, which is the Deployment's current revision. Other spec changes keep the revision.
 * A StatefulSet's update revision is a hash the controller computes: that one is waited for.
 */
async function revisionAfter(
  client: KubeClient,
  it: PlannedObject,
  res: KubeObject,
  before: string | null,
  timeoutMs: number,
  sleep: (ms: number) => Promise<void>,
): Promise<string | null> {
  if (it.object.kind === 'Deployment') {
    if (!it.live) return '1';
    const template = (o: KubeObject | undefined) => canonicalJson(isRecord(o?.spec) ? o.spec.template : undefined);
    if (template(it.live) === template(res)) return before;
    return before !== null && /^\d+$/.test(before) ? String(Number(before) + 1) : null;
  }
  if (it.object.kind !== 'StatefulSet') return revisionOf(res);
  const deadline = Date.now() + timeoutMs;
  const gen = res.metadata.generation ?? 0;
  for (;;) {
    const live = await client.get(it.resource as Resource, res.metadata.namespace, res.metadata.name as string);
    const observed = isRecord(live?.status) && typeof live.status.observedGeneration === 'number' ? live.status.observedGeneration : -1;
    if (live && observed >= gen) return revisionOf(live);
    if (Date.now() > deadline) return null;
    await sleep(100);
  }
}

/**
 * Live objects by one LIST per kind and namespace where a run holds several of a kind (200
 * ConfigMaps cost one request, not 200); a map per key, or none where a list is not allowed.
 */
async function liveByList(client: KubeClient, list: PlannedObject[], conc: number): Promise<Map<string, Map<string, KubeObject>>> {
  const groups = new Map<string, { r: Resource; ns: string | undefined; n: number }>();
  for (const it of list) {
    const r = it.resource as Resource;
    const key = `${r.apiVersion}|${r.name}|${it.object.metadata.namespace ?? ''}`;
    const g = groups.get(key) ?? { r, ns: it.object.metadata.namespace, n: 0 };
    g.n++;
    groups.set(key, g);
  }
  const out = new Map<string, Map<string, KubeObject>>();
  await pool(
    [...groups].filter(([, g]) => g.n >= 3 && g.r.verbs.includes('list')),
    conc,
    async ([key, g]) => {
      try {
        out.set(key, new Map((await client.list(g.r, g.ns, '')).map((o) => [o.metadata.name as string, o])));
      } catch (e) {
        // Not allowed to list (a user with get only): fall back to one GET per object.
        if (!(e instanceof ApiError && (e.status === 403 || e.status === 404))) throw e;
      }
    },
  );
  return out;
}

async function pruneCandidates(
  client: KubeClient,
  items: PlannedObject[],
  opts: DeployOptions,
  conc: number,
): Promise<{ resource: Resource; obj: KubeObject }[]> {
  const selector = `${SET_LABEL}=${opts.set}`;
  const keep = new Set(items.map((i) => objectKey(i.object)));
  const types = new Map<string, Resource>();
  for (const it of items) if (it.resource && !NEVER_PRUNE.has(it.object.kind)) types.set(`${it.resource.apiVersion}|${it.resource.kind}`, it.resource);
  for (const [v, k] of PRUNE_KINDS) {
    const r = await client.resourceFor(v, k).catch(() => undefined);
    if (r && !types.has(`${v}|${k}`) && ![...types.values()].some((t) => groupOf(t.apiVersion) === groupOf(v) && t.kind === k)) types.set(`${v}|${k}`, r);
  }
  const namespaces = [...new Set([opts.defaultNamespace, ...namespacesOf(items)])];
  const lists: { r: Resource; ns: string | undefined }[] = [];
  for (const r of types.values()) {
    if (!r.verbs.includes('list') || !r.verbs.includes('delete')) continue;
    if (r.namespaced) for (const ns of namespaces) lists.push({ r, ns });
    else lists.push({ r, ns: undefined });
  }
  const found = await pool(lists, conc, async ({ r, ns }) => {
    try {
      return (await client.list(r, ns, selector)).map((obj) => ({ resource: r, obj }));
    } catch (e) {
      // A namespace-limited user cannot list every kind: pruning skips what it may not see.
      if (e instanceof ApiError && (e.status === 403 || e.status === 404)) {
        opts.log.warning(`prune: cannot list ${r.name}${ns ? ` in ${ns}` : ''} (${e.reason}); skipped`);
        return [];
      }
      throw e;
    }
  });
  return found
    .flat()
    .filter(({ obj }) => !keep.has(objectKey(obj)) && !NEVER_PRUNE.has(obj.kind) && !(obj.metadata.ownerReferences ?? []).some((o) => o.controller));
}
