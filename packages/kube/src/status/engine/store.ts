// The engine's view of the cluster: one feed per (resource, namespace), filled by a LIST and kept
// current by a WATCH from the list's resourceVersion. The reducer is pure; the I/O lives in
// verify.ts. A feed is `synced` only between a completed LIST and the loss of its stream, and no
// verdict is drawn from a feed that is not synced.
import type { Resource, WatchEvent } from '../../client.ts';
import type { KubeObject } from '../../object.ts';

export interface FeedState {
  synced: boolean;
  objects: ReadonlyMap<string, KubeObject>;
  resourceVersion: string;
}

export type FeedInput =
  | { type: 'listed'; items: KubeObject[]; resourceVersion: string }
  | { type: 'watch'; event: WatchEvent }
  /** The stream broke or the list failed: the view may miss changes from now on. */
  | { type: 'lost' };

export interface FeedStep {
  state: FeedState;
  /** The watch cannot go on from here (410 Gone or another ERROR event): list again. */
  relist: boolean;
}

export const EMPTY_FEED: FeedState = { synced: false, objects: new Map(), resourceVersion: '' };

export function objectName(o: KubeObject): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`;
}

export function reduceFeed(state: FeedState, input: FeedInput): FeedStep {
  switch (input.type) {
    case 'listed':
      return { state: { synced: true, objects: new Map(input.items.map((o) => [objectName(o), o])), resourceVersion: input.resourceVersion }, relist: false };
    case 'lost':
      return { state: { ...state, synced: false }, relist: true };
    case 'watch': {
      const { type, object } = input.event;
      if (type === 'ERROR' || !object || object.kind === 'Status') return { state: { ...state, synced: false }, relist: true };
      const o = object as KubeObject;
      const rv = o.metadata?.resourceVersion ?? state.resourceVersion;
      if (type === 'BOOKMARK') return { state: { ...state, resourceVersion: rv }, relist: false };
      const objects = new Map(state.objects);
      if (type === 'DELETED') objects.delete(objectName(o));
      else objects.set(objectName(o), o);
      return { state: { ...state, objects, resourceVersion: rv }, relist: false };
    }
  }
}

/** Resources of the related kinds: fixed in every cluster, so they need no discovery. */
export const RELATED_RESOURCES = {
  pods: { name: 'pods', namespaced: true, kind: 'Pod', apiVersion: 'v1', verbs: ['list', 'watch'] },
  replicaSets: { name: 'replicasets', namespaced: true, kind: 'ReplicaSet', apiVersion: 'apps/v1', verbs: ['list', 'watch'] },
  controllerRevisions: { name: 'controllerrevisions', namespaced: true, kind: 'ControllerRevision', apiVersion: 'apps/v1', verbs: ['list', 'watch'] },
} satisfies Record<string, Resource>;

export function feedKey(r: Resource, namespace: string | undefined): string {
  return `${r.apiVersion}|${r.name}|${r.namespaced ? (namespace ?? '') : ''}`;
}
