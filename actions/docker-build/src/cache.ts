// Where BuildKit's cache comes from and goes to. `actions` and `local` both use a BuildKit local
// cache directory (the actions mode carries it between runs through the Actions cache service);
// `registry` keeps it next to the image. Keys and directory handling are pure or near-pure, so
// they are unit-tested here; the Actions cache itself is reached only through `ActionsCache`.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { isLoopbackRegistry, parseReference } from '@shipline/oci';
import type { CacheSpec } from './buildx.ts';

export const CACHE_MODES = ['auto', 'actions', 'registry', 'local', 'none'] as const;
export type CacheMode = (typeof CACHE_MODES)[number];
export type ResolvedMode = Exclude<CacheMode, 'auto'>;

export interface ModeChoice {
  mode: ResolvedMode;
  /** Why this mode, for the log. */
  reason: string;
  /** Set when `actions` was asked for but cannot be used here (the run goes on without cache). */
  notice?: string;
}

/** `auto`: the Actions cache where the runner offers one, else the registry ref, else the dir, else none. */
export function chooseMode(asked: CacheMode, o: { actionsAvailable: boolean; cacheRef?: string; cacheDir?: string }): ModeChoice {
  if (asked === 'actions') {
    if (o.actionsAvailable) return { mode: 'actions', reason: 'cache: actions' };
    return {
      mode: 'none',
      reason: 'the Actions cache service is not available here',
      notice:
        'cache: actions skipped — this runner offers no Actions cache service (ACTIONS_CACHE_URL / ACTIONS_RESULTS_URL unset, e.g. GitLab); building without an imported cache',
    };
  }
  if (asked !== 'auto') return { mode: asked, reason: `cache: ${asked}` };
  if (o.actionsAvailable) return { mode: 'actions', reason: 'auto: the Actions cache service is available' };
  if (o.cacheRef) return { mode: 'registry', reason: 'auto: cache-ref is set' };
  if (o.cacheDir) return { mode: 'local', reason: 'auto: cache-dir is set' };
  return { mode: 'none', reason: 'auto: no Actions cache service, cache-ref or cache-dir' };
}

/** True when a directory holds a BuildKit local cache (its index.json), i.e. something to import. */
export function hasLocalCache(dir: string): boolean {
  return existsSync(`${dir}/index.json`);
}

/**
 * BuildKit's local cache exporter adds blobs to its destination and never removes old ones, so a
 * cache dir exported into repeatedly only grows. Exporting into a fresh sibling and swapping it in
 * afterwards keeps exactly what the last build used.
 */
export function localCacheSpec(dir: string): { spec: CacheSpec; commit(): void; discard(): void } {
  const next = `${dir}.next`;
  rmSync(next, { recursive: true, force: true });
  const spec: CacheSpec = { type: 'local', dest: next, ...(hasLocalCache(dir) ? { src: dir } : {}) };
  return {
    spec,
    commit() {
      if (!hasLocalCache(next)) return;
      rmSync(dir, { recursive: true, force: true });
      renameSync(next, dir);
    },
    discard() {
      rmSync(next, { recursive: true, force: true });
    },
  };
}

export function registryCacheSpec(ref: string): CacheSpec {
  const r = parseReference(ref);
  // BuildKit talks HTTPS unless told otherwise; a loopback registry is the runner's own, plain HTTP.
  return { type: 'registry', ref, insecure: isLoopbackRegistry(r.registry) };
}

const keyPart = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60);

export interface ActionsKeys {
  /** Every key of this scope starts with it; restore looks it up as a prefix. */
  prefix: string;
  restoreKeys: string[];
}

/**
 * Keys of the Actions cache: `shipline-buildx-<os>-<scope>-<content>`. The scope separates builds
 * that share nothing (another Dockerfile, target or platform set); `content` is a hash of the
 * exported cache's index.json, so an unchanged cache is not uploaded again under a new key.
 */
export function actionsKeys(o: { os: string; scope?: string; image?: string; file: string; target?: string; platforms: readonly string[] }): ActionsKeys {
  const identity = JSON.stringify([o.file, o.target ?? '', [...o.platforms].map((p) => p.toLowerCase()).sort()]);
  const hash = createHash('sha256').update(identity).digest('hex').slice(0, 12);
  const readable = o.scope ? keyPart(o.scope) : `${keyPart((o.image ?? 'image').split('/').pop() ?? 'image') || 'image'}-${hash}`;
  const prefix = `shipline-buildx-${keyPart(o.os)}-${readable}-`;
  return { prefix, restoreKeys: [prefix] };
}

export function saveKey(prefix: string, dir: string): string | undefined {
  if (!hasLocalCache(dir)) return undefined;
  return `${prefix}${createHash('sha256')
    .update(readFileSync(`${dir}/index.json`))
    .digest('hex')
    .slice(0, 16)}`;
}

/** The part of @actions/cache this action uses; loaded only in actions mode (it is large). */
export interface ActionsCache {
  isFeatureAvailable(): boolean;
  restoreCache(paths: string[], primaryKey: string, restoreKeys?: string[]): Promise<string | undefined>;
  saveCache(paths: string[], key: string): Promise<number>;
}

/** True where @actions/cache would find a cache service, without loading it. */
export function actionsCacheConfigured(env: Readonly<Record<string, string | undefined>>): boolean {
  return env.ACTIONS_CACHE_SERVICE_V2 ? !!env.ACTIONS_RESULTS_URL : !!env.ACTIONS_CACHE_URL;
}
