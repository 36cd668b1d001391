// Progressive delivery as pure transforms of objects: a manifest's Deployment into its canary or
// its colour, a Service into its preview, a canary back into the stable's template. Every state a
// later run needs is written onto the objects themselves (labels and annotations under
// shipline.dev/), so a run on another runner, with no memory of this one, can promote or reject.
import { createHash } from 'node:crypto';
import { KubeError } from '../errors.ts';
import { isRecord, type KubeObject } from '../object.ts';
import { POD_TEMPLATE_HASH } from '../status/rollback.ts';

export type Strategy = 'canary' | 'blue-green';
export type Color = 'blue' | 'green';

/** On canary pods and the canary Deployment: what keeps them apart from the stable's. */
export const TRACK_LABEL = 'shipline.dev/track';
/**
 * On the new pods of a canary or colour: a hash of the pod template as the manifest gave it. Metric
 * gates select on it (Prometheus' `release` label) so that a canary deployed soon after another is
 * not judged by the old one's samples still inside the query's rate window.
 */
export const RELEASE_LABEL = 'shipline.dev/release';

/** The release id of a pod template: 10 hex digits of the SHA-256 of its JSON. */
export function releaseId(template: unknown): string {
  return createHash('sha256').update(JSON.stringify(template)).digest('hex').slice(0, 10);
}
/** On colour pods and colour Deployments. */
export const COLOR_LABEL = 'shipline.dev/color';

export const A = {
  strategy: 'shipline.dev/strategy',
  /** Canary: the stable Deployment it is a canary of. */
  canaryOf: 'shipline.dev/canary-of',
  /** Canary: the stable's revision and generation when the canary was made. */
  stableRevision: 'shipline.dev/stable-revision',
  stableGeneration: 'shipline.dev/stable-generation',
  runUrl: 'shipline.dev/run-url',
  /** Colour Deployment and preview Service: the app (the main Service's and Deployment's name). */
  colorOf: 'shipline.dev/color-of',
  previewOf: 'shipline.dev/preview-of',
  // On the main Service: the blue-green state.
  /** The workload the main Service selects now (`X` the first time, then `X-blue`/`X-green`). */
  liveWorkload: 'shipline.dev/live-workload',
  liveColor: 'shipline.dev/live-color',
  /** A colour deployed and not promoted yet. */
  newColor: 'shipline.dev/new-color',
  /** After a promote: what was live before it, and the selector that served it. */
  previousWorkload: 'shipline.dev/previous-workload',
  previousColor: 'shipline.dev/previous-color',
  previousSelector: 'shipline.dev/previous-selector',
  switchedAt: 'shipline.dev/switched-at',
  /** On a workload scaled to zero after a switch: its replicas before, for a reject to restore. */
  replicasBefore: 'shipline.dev/replicas-before-scale-down',
} as const;

export type ProgressiveProblem =
  | 'no-stable'
  | 'stable-not-ready'
  | 'unsupported-kind'
  | 'no-service'
  | 'service-mismatch'
  | 'nothing-to-promote'
  | 'not-current'
  | 'bad-state';

/** A progressive step that cannot go on; `problem` tells the action which input to name. */
export class ProgressiveError extends KubeError {
  readonly problem: ProgressiveProblem;
  constructor(problem: ProgressiveProblem, message: string, hint?: string) {
    super(message, hint);
    this.name = 'ProgressiveError';
    this.problem = problem;
  }
}

/** `canary-replicas`: a count, or a percentage of the live stable's replicas. */
export type CanaryReplicas = { count: number } | { percent: number };

/** A percentage is of the stable's replicas, rounded up, and never below one pod. */
export function canaryReplicaCount(spec: CanaryReplicas, stableReplicas: number): number {
  if ('count' in spec) return spec.count;
  return Math.max(1, Math.ceil((stableReplicas * spec.percent) / 100 - 1e-9));
}

export const canaryName = (stable: string): string => `${stable}-canary`;
export const colorName = (app: string, color: Color): string => `${app}-${color}`;
export const previewName = (app: string): string => `${app}-preview`;

/** The colour to deploy next: the one that is not live (blue when the plain Deployment is). */
export function nextColor(live: Color | undefined): Color {
  return live === 'blue' ? 'green' : 'blue';
}

export function colorOf(text: string | undefined): Color | undefined {
  return text === 'blue' || text === 'green' ? text : undefined;
}

const labelsOf = (meta: unknown): Record<string, string> => (isRecord(meta) && isRecord(meta.labels) ? { ...(meta.labels as Record<string, string>) } : {});

/** A Deployment's selector with one more label: the controller then owns only pods that carry it. */
export function selectorWith(selector: unknown, key: string, value: string): Record<string, unknown> {
  const s = structuredClone(isRecord(selector) ? selector : {});
  s.matchLabels = { ...(isRecord(s.matchLabels) ? s.matchLabels : {}), [key]: value };
  return s;
}

export interface CanaryInput {
  /** The manifest's Deployment, images already substituted and provenance added. */
  manifest: KubeObject;
  /** The live stable Deployment of the same name. */
  stable: KubeObject;
  replicas: CanaryReplicas;
  runUrl?: string | undefined;
}

/**
 * `X-canary`: the manifest's spec under the stable's selector plus the track label, so the stable
 * Service (which selects on the pods' other labels) sends it traffic in proportion to pod counts,
 * while neither Deployment's controller ever counts the other's pods.
 */
export function canaryObject({ manifest, stable, replicas, runUrl }: CanaryInput): KubeObject {
  const name = manifest.metadata.name as string;
  const spec = structuredClone(isRecord(manifest.spec) ? manifest.spec : {});
  const template = structuredClone(isRecord(spec.template) ? spec.template : {});
  const tmeta = isRecord(template.metadata) ? template.metadata : {};
  template.metadata = { ...tmeta, labels: { ...labelsOf(tmeta), [TRACK_LABEL]: 'canary', [RELEASE_LABEL]: releaseId(template) } };
  const stableSpec = isRecord(stable.spec) ? stable.spec : {};
  const stableReplicas = typeof stableSpec.replicas === 'number' ? stableSpec.replicas : 1;
  const annotations: Record<string, string> = {
    ...manifest.metadata.annotations,
    [A.strategy]: 'canary',
    [A.canaryOf]: name,
    [A.stableRevision]: stable.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? '',
    [A.stableGeneration]: String(stable.metadata.generation ?? ''),
  };
  if (runUrl) annotations[A.runUrl] = runUrl;
  return {
    apiVersion: manifest.apiVersion,
    kind: 'Deployment',
    metadata: {
      name: canaryName(name),
      ...(manifest.metadata.namespace ? { namespace: manifest.metadata.namespace } : {}),
      labels: { ...manifest.metadata.labels, [TRACK_LABEL]: 'canary' },
      annotations,
    },
    spec: {
      ...spec,
      replicas: canaryReplicaCount(replicas, stableReplicas),
      selector: selectorWith(stableSpec.selector ?? spec.selector, TRACK_LABEL, 'canary'),
      template,
    },
  };
}

/** The canary's pod template as the stable's: the same pods (pinned images) without the track label. */
export function promotedTemplate(canary: KubeObject): Record<string, unknown> {
  const t = structuredClone(isRecord(canary.spec) && isRecord(canary.spec.template) ? canary.spec.template : {});
  const meta = isRecord(t.metadata) ? t.metadata : {};
  const labels = labelsOf(meta);
  delete labels[TRACK_LABEL];
  delete labels[RELEASE_LABEL];
  delete labels[POD_TEMPLATE_HASH];
  t.metadata = { ...meta, labels };
  return t;
}

// Annotations a promote copies from the canary onto the stable: who put the new template there.
const PROVENANCE_KEYS = ['shipline.dev/repository', 'shipline.dev/commit', 'shipline.dev/run-url', 'kubernetes.io/change-cause'];

/**
 * A live object cut down to what one field manager applied (top-level spec fields whole, labels
 * and annotations by key): applying it back with changes keeps every field that manager owns (a
 * server-side apply removes fields its manager no longer sends) and claims none of another's.
 */
export function ownedProjection(live: KubeObject, fieldManager: string): KubeObject & { spec: Record<string, unknown> } {
  const owned = ownedFields(live, fieldManager);
  const spec = isRecord(live.spec) ? live.spec : {};
  const outSpec: Record<string, unknown> = {};
  for (const k of owned.spec) if (k in spec) outSpec[k] = structuredClone(spec[k]);
  if (spec.selector !== undefined) outSpec.selector = structuredClone(spec.selector);
  const pick = (from: Record<string, string> | undefined, keys: Set<string>) => Object.fromEntries(Object.entries(from ?? {}).filter(([k]) => keys.has(k)));
  const labels = pick(live.metadata.labels, owned.labels);
  const annotations = pick(live.metadata.annotations, owned.annotations);
  const metadata: KubeObject['metadata'] = { name: live.metadata.name as string, namespace: live.metadata.namespace as string };
  if (Object.keys(labels).length) metadata.labels = labels;
  if (Object.keys(annotations).length) metadata.annotations = annotations;
  return { apiVersion: live.apiVersion, kind: live.kind, metadata, spec: outSpec };
}

/**
 * The stable as Shipline applies it at promote: what Shipline's field manager owns of it (so the
 * apply removes nothing) with the canary's template and provenance. Fields of other managers (an
 * HPA's replicas) are left out, so they stay theirs.
 */
export function promotedStable(stable: KubeObject, canary: KubeObject, fieldManager: string): KubeObject {
  const out = ownedProjection(stable, fieldManager);
  out.spec.template = promotedTemplate(canary);
  const annotations = { ...out.metadata.annotations };
  for (const k of PROVENANCE_KEYS) {
    const v = canary.metadata.annotations?.[k];
    if (v !== undefined) annotations[k] = v;
  }
  if (Object.keys(annotations).length) out.metadata.annotations = annotations;
  return out;
}

/**
 * A Deployment scaled by Shipline's own field manager (scale-down after a switch, scale-up on a
 * reject): the next apply of the manifests by the same manager sets replicas again without a
 * conflict. `replicasBefore` (or null to drop it) is what a reject restores.
 */
export function scaledWorkload(live: KubeObject, fieldManager: string, replicas: number, replicasBefore: number | null): KubeObject {
  const out = ownedProjection(live, fieldManager);
  out.spec.replicas = replicas;
  const annotations = { ...out.metadata.annotations };
  if (replicasBefore === null) delete annotations[A.replicasBefore];
  else annotations[A.replicasBefore] = String(replicasBefore);
  out.metadata.annotations = annotations;
  return out;
}

/** Top-level spec keys, labels and annotations a field manager owns by apply (from managedFields). */
export function ownedFields(o: KubeObject, manager: string): { spec: Set<string>; labels: Set<string>; annotations: Set<string> } {
  const out = { spec: new Set<string>(), labels: new Set<string>(), annotations: new Set<string>() };
  const entries = Array.isArray(o.metadata.managedFields) ? o.metadata.managedFields : [];
  const keys = (v: unknown) =>
    isRecord(v)
      ? Object.keys(v)
          .filter((k) => k.startsWith('f:'))
          .map((k) => k.slice(2))
      : [];
  for (const m of entries) {
    if (!isRecord(m) || m.manager !== manager || m.operation !== 'Apply' || !isRecord(m.fieldsV1)) continue;
    const f = m.fieldsV1;
    for (const k of keys(f['f:spec'])) out.spec.add(k);
    const meta = isRecord(f['f:metadata']) ? f['f:metadata'] : {};
    for (const k of keys(meta['f:labels'])) out.labels.add(k);
    for (const k of keys(meta['f:annotations'])) out.annotations.add(k);
  }
  return out;
}

/** `X-blue`/`X-green`: the manifest's Deployment whose pods (and selector) carry the colour. */
export function colorObject(manifest: KubeObject, color: Color, replicas: number | undefined): KubeObject {
  const app = manifest.metadata.name as string;
  const spec = structuredClone(isRecord(manifest.spec) ? manifest.spec : {});
  const template = structuredClone(isRecord(spec.template) ? spec.template : {});
  const tmeta = isRecord(template.metadata) ? template.metadata : {};
  template.metadata = { ...tmeta, labels: { ...labelsOf(tmeta), [COLOR_LABEL]: color, [RELEASE_LABEL]: releaseId(template) } };
  if (spec.replicas === undefined && replicas !== undefined) spec.replicas = replicas;
  return {
    apiVersion: manifest.apiVersion,
    kind: 'Deployment',
    metadata: {
      name: colorName(app, color),
      ...(manifest.metadata.namespace ? { namespace: manifest.metadata.namespace } : {}),
      labels: { ...manifest.metadata.labels, [COLOR_LABEL]: color },
      annotations: { ...manifest.metadata.annotations, [A.strategy]: 'blue-green', [A.colorOf]: app },
    },
    spec: { ...spec, selector: selectorWith(spec.selector, COLOR_LABEL, color), template },
  };
}

/**
 * The main Service's selector without what Shipline adds to pin it (the colour, or the plain
 * Deployment's pod-template-hash): what the user's Service selects.
 */
export function baseSelector(selector: unknown): Record<string, string> {
  const s: Record<string, string> = isRecord(selector) ? { ...(selector as Record<string, string>) } : {};
  delete s[COLOR_LABEL];
  delete s[POD_TEMPLATE_HASH];
  return s;
}

export const colorSelector = (selector: unknown, color: Color): Record<string, string> => ({ ...baseSelector(selector), [COLOR_LABEL]: color });

/** `X-preview`: the main Service's ports, selecting only the new colour's pods. */
export function previewService(main: KubeObject, color: Color): KubeObject {
  const app = main.metadata.name as string;
  const spec = isRecord(main.spec) ? main.spec : {};
  const ports = (Array.isArray(spec.ports) ? spec.ports : []).filter(isRecord).map((p) => {
    // A nodePort belongs to the main Service; the preview gets a ClusterIP of its own.
    const { nodePort: _n, ...rest } = p;
    return rest;
  });
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: previewName(app),
      ...(main.metadata.namespace ? { namespace: main.metadata.namespace } : {}),
      labels: { [COLOR_LABEL]: color },
      annotations: { [A.strategy]: 'blue-green', [A.previewOf]: app },
    },
    spec: { type: 'ClusterIP', selector: colorSelector(spec.selector, color), ports },
  };
}

/** True when every label of an (equality) selector is on the pod labels. */
export function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  const keys = Object.keys(selector);
  return keys.length > 0 && keys.every((k) => labels[k] === selector[k]);
}

/** The pod labels of a workload's template. */
export function templateLabels(o: KubeObject | undefined): Record<string, string> {
  return o && isRecord(o.spec) && isRecord(o.spec.template) ? labelsOf(o.spec.template.metadata) : {};
}

/** A Service's selector, for its annotation and its restore. */
export function selectorOf(service: KubeObject): Record<string, string> {
  return isRecord(service.spec) && isRecord(service.spec.selector) ? { ...(service.spec.selector as Record<string, string>) } : {};
}

/** A JSON merge patch that makes `from` into `to` (removed keys as null). */
export function mapPatch(from: Record<string, string>, to: Record<string, string>): Record<string, string | null> {
  const p: Record<string, string | null> = { ...to };
  for (const k of Object.keys(from)) if (!(k in to)) p[k] = null;
  return p;
}

/** The release state the main Service carries, read back; throws on values no run wrote. */
export interface BlueGreenState {
  liveWorkload: string;
  liveColor: Color | undefined;
  newColor: Color | undefined;
  previousWorkload: string | undefined;
  previousColor: Color | undefined;
  previousSelector: Record<string, string> | undefined;
}

export function blueGreenState(main: KubeObject): BlueGreenState {
  const a = main.metadata.annotations ?? {};
  const app = main.metadata.name as string;
  let previousSelector: Record<string, string> | undefined;
  const saved = a[A.previousSelector];
  if (saved) {
    try {
      const parsed: unknown = JSON.parse(saved);
      if (isRecord(parsed) && Object.values(parsed).every((v) => typeof v === 'string')) previousSelector = parsed as Record<string, string>;
    } catch {
      // handled below
    }
    if (!previousSelector)
      throw new ProgressiveError('bad-state', `Service ${app}: annotation ${A.previousSelector} is not a JSON map of labels`, 'restore the Service by hand');
  }
  return {
    liveWorkload: a[A.liveWorkload] || app,
    liveColor: colorOf(a[A.liveColor]),
    newColor: colorOf(a[A.newColor]),
    previousWorkload: a[A.previousWorkload] || undefined,
    previousColor: colorOf(a[A.previousColor]),
    previousSelector,
  };
}

/** The release id on a workload's pod template (undefined when it has none). */
export function releaseOfTemplate(o: KubeObject): string | undefined {
  const t = isRecord(o.spec) && isRecord(o.spec.template) ? o.spec.template : {};
  return labelsOf(isRecord(t.metadata) ? t.metadata : {})[RELEASE_LABEL];
}
