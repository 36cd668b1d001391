// The few cluster operations progressive delivery needs besides apply: merge patches (guarded by
// resourceVersion, so a concurrent run's change is never overwritten), deletes, the status
// engine's verdict on one or more workloads, and waiting until a Service's endpoints name only
// the pods it should.
import { untrusted } from '@shipline/kit/untrusted';
import { KubeClient, type Resource } from '../client.ts';
import { ApiError } from '../errors.ts';
import { isRecord, type KubeObject } from '../object.ts';
import { verifyRollout } from '../status/engine/verify.ts';
import { DEFAULT_VERIFY_OPTIONS, type Target, type VerifyOptions, type VerifyResult } from '../status/types.ts';

/** Field manager of Shipline's patches outside server-side apply (scale-down, selector switch). */
export const PROGRESSIVE_FIELD_MANAGER = 'shipline-progressive';

export const R = {
  deployments: { name: 'deployments', namespaced: true, kind: 'Deployment', apiVersion: 'apps/v1', verbs: [] },
  services: { name: 'services', namespaced: true, kind: 'Service', apiVersion: 'v1', verbs: [] },
  pods: { name: 'pods', namespaced: true, kind: 'Pod', apiVersion: 'v1', verbs: [] },
  replicaSets: { name: 'replicasets', namespaced: true, kind: 'ReplicaSet', apiVersion: 'apps/v1', verbs: [] },
  endpointSlices: { name: 'endpointslices', namespaced: true, kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1', verbs: [] },
} satisfies Record<string, Resource>;

export interface StepOptions {
  log?: ((line: string) => void) | undefined;
  /** One deadline for each verification. */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** Overrides of the status engine's options (graces, stableMs). */
  verify?: Partial<Omit<VerifyOptions, 'timeoutMs' | 'signal' | 'onProgress'>> | undefined;
}

export async function mergePatch(client: KubeClient, r: Resource, namespace: string, name: string, patch: unknown): Promise<KubeObject> {
  const res = await client.request<KubeObject>('PATCH', KubeClient.pathOf(r, namespace, name), {
    query: { fieldManager: PROGRESSIVE_FIELD_MANAGER },
    contentType: 'application/merge-patch+json',
    body: patch,
  });
  return res.body;
}

/**
 * Deletes in the foreground and waits until the object is gone: a workload then has no pods left
 * (with the default background deletion its pods keep serving until the garbage collector comes).
 */
export async function deleteAndWait(
  client: KubeClient,
  r: Resource,
  namespace: string,
  name: string,
  signal?: AbortSignal,
  timeoutMs = 180_000,
): Promise<boolean> {
  try {
    await client.request('DELETE', KubeClient.pathOf(r, namespace, name), {
      body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Foreground' },
    });
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return false;
    throw e;
  }
  const deadline = Date.now() + timeoutMs;
  while ((await client.get(r, namespace, name)) !== undefined) {
    if (Date.now() > deadline) break;
    await pause(250, signal);
  }
  return true;
}

/** The status engine's verdict, as rollout-verify gets it. */
export function verify(client: KubeClient, targets: Target[], opts: StepOptions): Promise<VerifyResult> {
  const log = opts.log;
  return verifyRollout(client, targets, {
    ...DEFAULT_VERIFY_OPTIONS,
    ...opts.verify,
    timeoutMs: opts.timeoutMs,
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(log ? { onProgress: (line: string) => log(untrusted(line, { oneLine: true, max: 400 })) } : {}),
  });
}

export const deploymentTarget = (o: KubeObject): Target => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  namespace: o.metadata.namespace ?? null,
  name: o.metadata.name as string,
  uid: o.metadata.uid ?? null,
  generation: o.metadata.generation ?? null,
});

/** `Deployment ns/web: Failed (CrashLoopBackOff) …`: the first target that is not Current. */
export function verdictText(v: VerifyResult): string {
  const bad = v.resources.find((r) => r.state !== 'current');
  return untrusted(bad ? `${bad.ref}: ${bad.state} (${bad.reason}) ${bad.message}` : `${v.status} (${v.reason}) ${v.message}`, { oneLine: true, max: 600 });
}

/** Sleeps, ending early (with the signal's reason) when the run is cancelled. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const done = () => {
      signal?.removeEventListener('abort', abort);
      resolve();
    };
    const abort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', abort, { once: true });
  });
}

/** Pod names behind a Service's EndpointSlices, ready or not. */
export async function endpointPods(client: KubeClient, namespace: string, service: string): Promise<{ ready: string[]; other: string[] }> {
  const slices = await client.list(R.endpointSlices, namespace, `kubernetes.io/service-name=${service}`);
  const out = { ready: [] as string[], other: [] as string[] };
  for (const s of slices) {
    for (const e of Array.isArray(s.endpoints) ? s.endpoints : []) {
      if (!isRecord(e) || !isRecord(e.targetRef) || typeof e.targetRef.name !== 'string') continue;
      const ready = !isRecord(e.conditions) || e.conditions.ready !== false;
      (ready ? out.ready : out.other).push(e.targetRef.name);
    }
  }
  return out;
}

/**
 * Waits until the Service's endpoints satisfy `ok` (the endpoint controller has followed a
 * selector change). kube-proxy follows the endpoints a moment later: callers keep the old pods
 * running for a while after this returns.
 */
export async function waitForEndpoints(
  client: KubeClient,
  namespace: string,
  service: string,
  ok: (pods: { ready: string[]; other: string[] }) => boolean,
  opts: StepOptions,
): Promise<boolean> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    if (ok(await endpointPods(client, namespace, service))) return true;
    if (Date.now() > deadline) return false;
    await pause(250, opts.signal);
  }
}

/** Pods of a Deployment are named `<deployment>-<template hash>-<suffix>`. */
export const podOf = (workload: string) => (pod: string) => pod.startsWith(`${workload}-`) && /^[a-z0-9]+-[a-z0-9]+$/.test(pod.slice(workload.length + 1));
