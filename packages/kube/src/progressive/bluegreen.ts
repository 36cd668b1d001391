// Blue-green: the colour that is not live (`X-blue` or `X-green`) is deployed beside the live one
// with a preview Service `X-preview`; the main Service X keeps its selector until promote, which
// switches it only once the new colour is fully available (switching earlier drops requests, Argo
// Rollouts #2641), keeps the old colour serving for a delay (endpoints and kube-proxy follow a
// moment later), then scales it to zero. The whole state is on Service X's annotations.
import { FIELD_MANAGER } from '../apply.ts';
import type { KubeClient } from '../client.ts';
import { isRecord, type KubeObject } from '../object.ts';
import { controllerUid } from '../status/fields.ts';
import { POD_TEMPLATE_HASH } from '../status/rollback.ts';
import type { PromoteResult, RejectResult } from './canary.ts';
import { deleteAndWait, deploymentTarget, mergePatch, pause, podOf, R, type StepOptions, verdictText, verify, waitForEndpoints } from './cluster.ts';
import {
  A,
  baseSelector,
  blueGreenState,
  COLOR_LABEL,
  type Color,
  colorName,
  colorObject,
  colorOf,
  colorSelector,
  mapPatch,
  nextColor,
  ProgressiveError,
  previewName,
  previewService,
  releaseOfTemplate,
  scaledWorkload,
  selectorOf,
  selects,
  templateLabels,
} from './objects.ts';
import type { Prepared, Release } from './prepare.ts';

/** A change of the main Service a deploy makes before the new colour exists. */
export interface ServicePin {
  namespace: string;
  service: string;
  patch: Record<string, unknown>;
}

export interface BlueGreenPlan {
  objects: KubeObject[];
  releases: Release[];
  pins: ServicePin[];
  /** `namespace/name` of the main Services (never applied by a blue-green deploy). */
  mainServices: Set<string>;
}

const replicasOf = (o: KubeObject | undefined): number | undefined =>
  o && isRecord(o.spec) && typeof o.spec.replicas === 'number' ? o.spec.replicas : undefined;

/** The colour, preview and Service pins of a blue-green deploy. Changes nothing. */
export async function planBlueGreen(client: KubeClient, prepared: Prepared): Promise<BlueGreenPlan> {
  const plan: BlueGreenPlan = { objects: [], releases: [], pins: [], mainServices: new Set() };
  const problems: { problem: 'no-service' | 'no-stable' | 'service-mismatch' | 'stable-not-ready'; text: string }[] = [];
  for (const d of prepared.deployments) {
    const ns = d.metadata.namespace as string;
    const app = d.metadata.name as string;
    plan.mainServices.add(`${ns}/${app}`);
    const svc = await client.get(R.services, ns, app);
    if (!svc) {
      problems.push({ problem: 'no-service', text: `Service ${ns}/${app} does not exist (blue-green switches the Service named like the Deployment)` });
      continue;
    }
    const state = blueGreenState(svc);
    const live = await client.get(R.deployments, ns, state.liveWorkload);
    if (!live) {
      problems.push({ problem: 'no-stable', text: `the live Deployment ${ns}/${state.liveWorkload} does not exist` });
      continue;
    }
    const selector = selectorOf(svc);
    const spec: Record<string, unknown> = {};
    if (state.liveColor === undefined) {
      // First blue-green release: the plain Deployment X is live. Service X selects the new
      // colour's pods too (they carry the same labels), so it is pinned first to the pods of X's
      // current ReplicaSet: the very endpoints it has now, no pod restarted.
      if (!selects(baseSelector(selector), templateLabels(live))) {
        problems.push({ problem: 'service-mismatch', text: `Service ${ns}/${app} does not select the pods of Deployment ${ns}/${app}` });
        continue;
      }
      const hash = await currentTemplateHash(client, live);
      if (!hash) {
        problems.push({ problem: 'stable-not-ready', text: `Deployment ${ns}/${app} is still rolling out (or has no ready pods)` });
        continue;
      }
      if (selector[POD_TEMPLATE_HASH] !== hash) spec.selector = { [POD_TEMPLATE_HASH]: hash };
    }
    const color = nextColor(state.liveColor);
    const workload = colorName(app, color);
    const colored = colorObject(d, color, replicasOf(live) ?? Number(live.metadata.annotations?.[A.replicasBefore] ?? 1));
    plan.objects.push(colored);
    const preview = previewService(svc, color);
    plan.objects.push(preview);
    const port = (preview.spec as { ports: { port?: unknown }[] }).ports[0]?.port;
    plan.releases.push({
      strategy: 'blue-green',
      namespace: ns,
      app,
      workload,
      preview: previewName(app),
      ...(typeof port === 'number' ? { previewPort: port } : {}),
      color,
      release: releaseOfTemplate(colored) as string,
    });
    plan.pins.push({
      namespace: ns,
      service: app,
      patch: {
        metadata: {
          resourceVersion: svc.metadata.resourceVersion,
          annotations: { [A.strategy]: 'blue-green', [A.liveWorkload]: state.liveWorkload, [A.liveColor]: state.liveColor ?? null, [A.newColor]: color },
        },
        ...(spec.selector ? { spec } : {}),
      },
    });
  }
  if (problems.length) {
    const first = (problems[0] as (typeof problems)[number]).problem;
    throw new ProgressiveError(
      first,
      `blue-green cannot start: ${problems.map((p) => p.text).join('; ')}`,
      first === 'stable-not-ready'
        ? 'wait until the Deployment is fully rolled out, then deploy again'
        : 'deploy the Deployment and its Service (named like it) with the rolling strategy first',
    );
  }
  return plan;
}

/** pod-template-hash of a fully rolled out Deployment's current ReplicaSet; undefined mid-rollout. */
async function currentTemplateHash(client: KubeClient, d: KubeObject): Promise<string | undefined> {
  const spec = isRecord(d.spec) ? d.spec : {};
  const status = isRecord(d.status) ? d.status : {};
  const want = typeof spec.replicas === 'number' ? spec.replicas : 1;
  const n = (k: string) => (typeof status[k] === 'number' ? status[k] : 0);
  const settled =
    n('observedGeneration') >= (d.metadata.generation ?? 0) &&
    n('updatedReplicas') === want &&
    n('availableReplicas') === want &&
    n('replicas') === want &&
    want > 0;
  if (!settled) return undefined;
  const revision = d.metadata.annotations?.['deployment.kubernetes.io/revision'];
  const rss = await client.list(R.replicaSets, d.metadata.namespace as string, '');
  const rs = rss.find((x) => controllerUid(x) === d.metadata.uid && x.metadata.annotations?.['deployment.kubernetes.io/revision'] === revision);
  return rs?.metadata.labels?.[POD_TEMPLATE_HASH];
}

/** Before the new colour is applied: Service X pinned (first time) and told what is coming. */
export async function applyPins(client: KubeClient, pins: readonly ServicePin[], log: (line: string) => void): Promise<void> {
  for (const p of pins) {
    await mergePatch(client, R.services, p.namespace, p.service, p.patch);
    const spec = p.patch.spec as { selector?: Record<string, string> } | undefined;
    if (spec?.selector)
      log(`Service ${p.namespace}/${p.service}: selector pinned to the live pods (${Object.entries(spec.selector).map(([k, v]) => `${k}=${v}`)})`);
  }
}

/** Main Services of blue-green releases: those named, or every one in the namespace. */
export async function findBlueGreen(
  client: KubeClient,
  namespace: string,
  apps: readonly { namespace: string; name: string }[] | undefined,
): Promise<KubeObject[]> {
  const isOurs = (s: KubeObject | undefined): s is KubeObject =>
    s?.metadata.annotations?.[A.strategy] === 'blue-green' && !s.metadata.annotations?.[A.previewOf];
  if (apps === undefined) return (await client.list(R.services, namespace, '')).filter(isOurs);
  const out: KubeObject[] = [];
  for (const a of apps) {
    const s = await client.get(R.services, a.namespace, a.name);
    if (isOurs(s)) out.push(s);
  }
  return out;
}

export interface BlueGreenOptions extends StepOptions {
  /** How long the old colour keeps running after a switch (endpoints and kube-proxy catch up). */
  scaleDownDelayMs: number;
}

/**
 * Promote: the new colour must be Current (the status engine's verdict); then Service X selects it,
 * the old colour keeps serving for `scaleDownDelayMs`, and is scaled to zero (its replicas noted,
 * for a reject). The preview Service goes: its release is live.
 */
export async function promoteBlueGreen(client: KubeClient, services: KubeObject[], opts: BlueGreenOptions): Promise<PromoteResult[]> {
  const log = opts.log ?? (() => {});
  const pending = services.flatMap((svc) => {
    const s = blueGreenState(svc);
    return s.newColor ? [{ svc, state: s, color: s.newColor, ns: svc.metadata.namespace as string, app: svc.metadata.name as string }] : [];
  });
  if (pending.length === 0)
    throw new ProgressiveError('nothing-to-promote', 'no blue-green release waits for promotion', 'deploy the new colour first with `strategy: blue-green`');
  const colours: KubeObject[] = [];
  for (const p of pending) {
    const w = await client.get(R.deployments, p.ns, colorName(p.app, p.color));
    if (!w)
      throw new ProgressiveError(
        'bad-state',
        `Service ${p.ns}/${p.app} waits for ${colorName(p.app, p.color)}, which does not exist`,
        'deploy again, or reject the release',
      );
    colours.push(w);
  }
  log(`checking ${colours.map((c) => c.metadata.name).join(', ')} before switching`);
  const v = await verify(client, colours.map(deploymentTarget), opts);
  if (v.status !== 'success')
    throw new ProgressiveError(
      'not-current',
      `the new colour is not fully available, not switching: ${verdictText(v)}`,
      'fix it and deploy again, or reject the release',
    );

  const results: PromoteResult[] = [];
  for (const p of pending) {
    const workload = colorName(p.app, p.color);
    const current = selectorOf(p.svc);
    await mergePatch(client, R.services, p.ns, p.app, {
      metadata: {
        resourceVersion: p.svc.metadata.resourceVersion,
        annotations: {
          [A.liveWorkload]: workload,
          [A.liveColor]: p.color,
          [A.newColor]: null,
          [A.previousWorkload]: p.state.liveWorkload,
          [A.previousColor]: p.state.liveColor ?? null,
          [A.previousSelector]: JSON.stringify(current),
          [A.switchedAt]: new Date().toISOString(),
        },
      },
      spec: { selector: mapPatch(current, colorSelector(current, p.color)) },
    });
    log(`Service ${p.ns}/${p.app}: switched from ${p.state.liveWorkload} to ${workload}`);
    const isNew = podOf(workload);
    const followed = await waitForEndpoints(client, p.ns, p.app, (e) => e.ready.length > 0 && [...e.ready, ...e.other].every(isNew), opts);
    if (!followed) log(`Service ${p.ns}/${p.app}: endpoints did not follow the switch within ${Math.round(opts.timeoutMs / 1000)} s`);
    await client.delete(R.services, p.ns, previewName(p.app), false);
  }
  if (opts.scaleDownDelayMs > 0) {
    log(`keeping the old colour(s) for ${Math.round(opts.scaleDownDelayMs / 1000)} s before scaling to zero`);
    await pause(opts.scaleDownDelayMs, opts.signal);
  }
  for (const p of pending) {
    const workload = colorName(p.app, p.color);
    // A reject by another run in the meantime switched back: the old colour is live again.
    const now = await client.get(R.services, p.ns, p.app);
    if (now?.metadata.annotations?.[A.liveWorkload] !== workload) {
      results.push({
        strategy: 'blue-green',
        namespace: p.ns,
        app: p.app,
        workload: now?.metadata.annotations?.[A.liveWorkload] ?? p.app,
        message: 'switched, then rejected by another run before the scale-down',
      });
      continue;
    }
    const old = await client.get(R.deployments, p.ns, p.state.liveWorkload);
    const before = replicasOf(old);
    if (old && before !== 0) {
      await scale(client, old, 0, before ?? 1);
      log(`Deployment ${p.ns}/${p.state.liveWorkload}: scaled to zero (was ${before ?? 1})`);
    }
    results.push({
      strategy: 'blue-green',
      namespace: p.ns,
      app: p.app,
      workload,
      message: `promoted: Service ${p.app} selects ${workload}; ${p.state.liveWorkload} scaled to zero`,
    });
  }
  return results;
}

/**
 * Reject. Before promote: the new colour and the preview Service are removed, Service X is not
 * touched. After promote: the old colour is scaled back up and verified, Service X selects it
 * again, and the rejected colour is removed once the endpoints (and `drainMs` later, kube-proxy)
 * have followed. Nothing to reject: says so and succeeds.
 */
export async function rejectBlueGreen(client: KubeClient, namespace: string, app: string, opts: StepOptions & { drainMs: number }): Promise<RejectResult> {
  const log = opts.log ?? (() => {});
  const svc = await client.get(R.services, namespace, app);
  const result = (rejected: boolean, message: string): RejectResult => ({ strategy: 'blue-green', namespace, workload: app, rejected, message });
  if (svc?.metadata.annotations?.[A.strategy] !== 'blue-green') return result(false, `Service ${app} carries no blue-green release: nothing to reject`);
  const state = blueGreenState(svc);
  if (state.newColor) {
    const w = colorName(app, state.newColor);
    const removed = await deleteAndWait(client, R.deployments, namespace, w, opts.signal);
    await client.delete(R.services, namespace, previewName(app), false);
    await mergePatch(client, R.services, namespace, app, { metadata: { resourceVersion: svc.metadata.resourceVersion, annotations: { [A.newColor]: null } } });
    await unpinWhenGone(client, namespace, app, state.newColor, opts);
    return result(true, `${removed ? `${w} deleted` : `${w} was already gone`} with ${previewName(app)}; Service ${app} still selects ${state.liveWorkload}`);
  }
  if (!state.previousWorkload || !state.previousSelector || state.liveWorkload === app)
    return result(false, `no blue-green release of ${app} to reject: ${state.liveWorkload} is live and nothing was switched`);

  const rejected = state.liveWorkload;
  const back = state.previousWorkload;
  let old = await client.get(R.deployments, namespace, back);
  if (!old)
    throw new ProgressiveError('bad-state', `cannot switch back: Deployment ${namespace}/${back} no longer exists`, 'deploy the previous version again');
  if (replicasOf(old) === 0) {
    const n = Number(old.metadata.annotations?.[A.replicasBefore] ?? 1) || 1;
    old = await scale(client, old, n, null);
    log(`Deployment ${namespace}/${back}: scaled back to ${n}`);
  }
  const v = await verify(client, [deploymentTarget(old)], opts);
  if (v.status !== 'success')
    throw new ProgressiveError('not-current', `cannot switch back: ${back} is not serving: ${verdictText(v)}; Service ${app} still selects ${rejected}`);
  const current = selectorOf(svc);
  await mergePatch(client, R.services, namespace, app, {
    metadata: {
      resourceVersion: svc.metadata.resourceVersion,
      annotations: {
        [A.liveWorkload]: back,
        [A.liveColor]: state.previousColor ?? null,
        [A.previousWorkload]: null,
        [A.previousColor]: null,
        [A.previousSelector]: null,
        [A.switchedAt]: new Date().toISOString(),
      },
    },
    spec: { selector: mapPatch(current, state.previousSelector) },
  });
  log(`Service ${namespace}/${app}: switched back from ${rejected} to ${back}`);
  const isRejected = podOf(rejected);
  const followed = await waitForEndpoints(client, namespace, app, (e) => e.ready.length > 0 && ![...e.ready, ...e.other].some(isRejected), opts);
  if (!followed) log(`Service ${namespace}/${app}: endpoints did not follow the switch back in time`);
  if (opts.drainMs > 0) await pause(opts.drainMs, opts.signal);
  await deleteAndWait(client, R.deployments, namespace, rejected, opts.signal);
  await client.delete(R.services, namespace, previewName(app), false);
  const rejectedColor = colorOf(rejected.slice(app.length + 1));
  if (rejectedColor) await unpinWhenGone(client, namespace, app, rejectedColor, opts);
  return result(true, `switched back to ${back} (verified serving); ${rejected} deleted`);
}

/**
 * Back on the plain Deployment X with no colour left: Service X gets its own selector again (the
 * pod-template-hash pin would lose every endpoint at X's next rolling deploy). Only once no pod of
 * the removed colour is left, since they carry X's labels too.
 */
async function unpinWhenGone(client: KubeClient, namespace: string, app: string, color: Color, opts: StepOptions): Promise<void> {
  const svc = await client.get(R.services, namespace, app);
  if (!svc) return;
  const selector = selectorOf(svc);
  if (!selector[POD_TEMPLATE_HASH] || (svc.metadata.annotations?.[A.liveWorkload] ?? app) !== app) return;
  const colourPods = Object.entries(colorSelector(selector, color))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const deadline = Date.now() + opts.timeoutMs;
  while ((await client.list(R.pods, namespace, colourPods)).length > 0) {
    if (Date.now() > deadline) {
      opts.log?.(
        `Service ${namespace}/${app}: pods of the ${color} colour are still there; the selector stays pinned to ${POD_TEMPLATE_HASH}=${selector[POD_TEMPLATE_HASH]}`,
      );
      return;
    }
    await pause(500, opts.signal);
  }
  await mergePatch(client, R.services, namespace, app, {
    metadata: { resourceVersion: svc.metadata.resourceVersion },
    spec: { selector: { [POD_TEMPLATE_HASH]: null } },
  });
  opts.log?.(`Service ${namespace}/${app}: selector back to its own (${Object.entries(baseSelector(selector)).map(([k, v]) => `${k}=${v}`)})`);
}

/**
 * Scales with Shipline's own field manager by server-side apply, so the next deploy of that
 * workload (a colour coming back, or a rolling deploy of X) sets its replicas without a conflict.
 */
function scale(client: KubeClient, live: KubeObject, replicas: number, before: number | null): Promise<KubeObject> {
  return client.apply(R.deployments, scaledWorkload(live, FIELD_MANAGER, replicas, before), { fieldManager: FIELD_MANAGER, force: false, dryRun: false });
}

/** The colour a Deployment of a blue-green release has, if it is one. */
export function releaseColor(o: KubeObject): Color | undefined {
  const c = o.metadata.labels?.[COLOR_LABEL];
  return c === 'blue' || c === 'green' ? c : undefined;
}
