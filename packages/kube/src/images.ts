// Image substitution: containers whose image names the same repository as a given ref are pinned
// to that ref. Matching is on the whole normalised repository (registry host[:port] + path), so
// `reg:5000/app` never touches `reg:5000/app-worker`, `reg:5000/app/sub` or `reg:5001/app`.
//
// Kube must not import @shipline/oci, so this is a small parser of its own that only needs to agree
// with oci's on the repository *name*; the action cross-checks the two on a table of refs.
import { ImageRefError } from './errors.ts';
import { describeObject, isRecord, type KubeObject } from './object.ts';

export interface ImageName {
  /** `registry[:port]/path`, with docker's defaults filled in (`nginx` → `docker.io/library/nginx`). */
  repository: string;
  tag?: string;
  digest?: string;
}

const DIGEST = /^sha(256:[a-f0-9]{64}|512:[a-f0-9]{128})$/;
const TAG = /^\w[\w.-]{0,127}$/;
const PATH_PART = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

/** Splits an image string; returns a reason instead of throwing so manifests' odd images can be skipped. */
export function parseImageName(image: string): ImageName | { error: string } {
  if (image === '' || /\s/.test(image)) return { error: 'it is empty or contains whitespace' };
  if (image.includes('://')) return { error: 'a URL scheme is not part of an image reference' };
  let rest = image;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) return { error: `digest "${digest}" is not sha256:<64 lowercase hex>` };
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) return { error: `tag "${tag}" is not valid` };
  }
  let registry = 'docker.io';
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    // The first component is a registry when it looks like a host: docker's rule.
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase()) {
      registry = first.toLowerCase();
      path = rest.slice(slash + 1);
    }
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = 'docker.io';
  if (path === '') return { error: 'repository name is missing' };
  for (const part of path.split('/'))
    if (!PATH_PART.test(part)) return { error: `repository component "${part}" is not valid (lowercase letters, digits, separators)` };
  if (registry === 'docker.io' && !path.includes('/')) path = `library/${path}`;
  const out: ImageName = { repository: `${registry}/${path}` };
  if (tag !== undefined) out.tag = tag;
  if (digest !== undefined) out.digest = digest;
  return out;
}

/** What a matching container's image becomes. */
export interface ImagePin {
  repository: string;
  /** The image string written into the manifest: the ref as given. */
  image: string;
  digest?: string;
}

/**
 * Turns refs (e.g. registry-push's `refs` output) into one pin per repository. Several refs of one
 * repository are fine when they name the same digest (tags of one push); different digests are
 * ambiguous and refused.
 */
export function planImages(refs: readonly string[]): Map<string, ImagePin> {
  const pins = new Map<string, ImagePin>();
  for (const ref of refs) {
    const p = parseImageName(ref);
    if ('error' in p) throw new ImageRefError(ref, p.error);
    const pin: ImagePin = { repository: p.repository, image: ref };
    if (p.digest) pin.digest = p.digest;
    const prev = pins.get(p.repository);
    if (prev) {
      if (prev.digest && pin.digest && prev.digest === pin.digest) continue;
      if (prev.image === pin.image) continue;
      throw new ImageRefError(
        ref,
        `repository ${p.repository} is also given as ${JSON.stringify(prev.image)}; give each repository once (or refs of one digest)`,
      );
    }
    pins.set(p.repository, pin);
  }
  return pins;
}

export interface ImageChange {
  object: string;
  container: string;
  from: string;
  to: string;
}

/** Where each pod-template kind keeps its pod spec. */
const POD_SPEC_PATHS: Record<string, string[]> = {
  Pod: ['spec'],
  PodTemplate: ['template', 'spec'],
  Deployment: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  ReplicationController: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};

const CONTAINER_LISTS = ['initContainers', 'containers', 'ephemeralContainers'] as const;

/** The pod spec of a pod-template kind, or undefined for other kinds. */
export function podSpecOf(o: KubeObject): Record<string, unknown> | undefined {
  const path = POD_SPEC_PATHS[o.kind];
  if (!path) return undefined;
  let cur: unknown = o;
  for (const k of path) {
    if (!isRecord(cur)) return undefined;
    cur = cur[k];
  }
  return isRecord(cur) ? cur : undefined;
}

/** The pod template's metadata (created when missing) of workload kinds, undefined for Pod and others. */
export function podTemplateMetaOf(o: KubeObject): Record<string, unknown> | undefined {
  const path = POD_SPEC_PATHS[o.kind];
  if (!path || o.kind === 'Pod') return undefined;
  let cur: unknown = o;
  for (const k of path.slice(0, -1)) {
    if (!isRecord(cur)) return undefined;
    cur = cur[k];
  }
  if (!isRecord(cur)) return undefined;
  if (!isRecord(cur.metadata)) cur.metadata = {};
  return cur.metadata as Record<string, unknown>;
}

export function isWorkload(kind: string): boolean {
  return kind in POD_SPEC_PATHS && kind !== 'Pod' && kind !== 'PodTemplate';
}

/** Rewrites matching images in place; returns what changed and which pins matched nothing. */
export function substituteImages(objects: readonly KubeObject[], pins: ReadonlyMap<string, ImagePin>): { changes: ImageChange[]; unused: string[] } {
  const changes: ImageChange[] = [];
  const used = new Set<string>();
  if (pins.size === 0) return { changes, unused: [] };
  for (const o of objects) {
    const spec = podSpecOf(o);
    if (!spec) continue;
    for (const list of CONTAINER_LISTS) {
      const containers = spec[list];
      if (!Array.isArray(containers)) continue;
      for (const c of containers) {
        if (!isRecord(c) || typeof c.image !== 'string') continue;
        const name = parseImageName(c.image);
        if ('error' in name) continue;
        const pin = pins.get(name.repository);
        if (!pin) continue;
        used.add(pin.repository);
        if (c.image === pin.image) continue;
        changes.push({
          object: describeObject(o),
          container: `${list === 'containers' ? '' : `${list}/`}${String(c.name ?? '?')}`,
          from: c.image,
          to: pin.image,
        });
        c.image = pin.image;
      }
    }
  }
  return { changes, unused: [...pins.values()].filter((p) => !used.has(p.repository)).map((p) => p.image) };
}
