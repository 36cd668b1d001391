// Where BuildKit's cache comes from and goes to. `actions` and `local` both use a BuildKit local
// cache directory (the actions mode carries it between runs through the Actions cache service);
// `registry` keeps it next to the image. Keys and directory handling are pure or near-pure, so
// they are unit-tested here; the Actions cache itself is reached only through `ActionsCache`.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
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
 * cache dir exported into again and again only grows. Exporting into a fresh directory instead
 * would rewrite every blob on each build (seconds for a Node image); so the export goes into the
 * same directory, where blobs already present are skipped, and `commit` then deletes the blobs
 * the new index.json no longer reaches.
 */
export function localCacheSpec(dir: string): { spec: CacheSpec; commit(): { removed: number } } {
  const spec: CacheSpec = { type: 'local', dest: dir, ...(hasLocalCache(dir) ? { src: dir } : {}) };
  return { spec, commit: () => pruneLocalCache(dir) };
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;
const blobFile = (dir: string, digest: string) => join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length));

/** Deletes blobs of a BuildKit local cache (an OCI layout) that its index.json no longer reaches. */
export function pruneLocalCache(dir: string): { removed: number } {
  if (!hasLocalCache(dir)) return { removed: 0 };
  const reached = new Set<string>();
  const queue: unknown[] = [JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'))];
  while (queue.length) {
    const doc = queue.pop();
    // Every sha256 string in a manifest, index or cache config names a blob (`digest`, or `blob`
    // in buildkit's cacheconfig); layers are not JSON and end the walk.
    const visit = (v: unknown): void => {
      if (typeof v === 'string') {
        if (DIGEST.test(v) && !reached.has(v)) {
          reached.add(v);
          const file = blobFile(dir, v);
          if (existsSync(file) && statSync(file).size < 4 * 1024 * 1024) {
            try {
              queue.push(JSON.parse(readFileSync(file, 'utf8')));
            } catch {
              // A layer: binary, nothing to follow.
            }
          }
        }
      } else if (Array.isArray(v)) v.forEach(visit);
      else if (v && typeof v === 'object') Object.values(v).forEach(visit);
    };
    visit(doc);
  }
  let removed = 0;
  const blobs = join(dir, 'blobs', 'sha256');
  if (!existsSync(blobs)) return { removed };
  for (const name of readdirSync(blobs)) {
    if (!reached.has(`sha256:${name}`)) {
      rmSync(join(blobs, name), { force: true });
      removed++;
    }
  }
  return { removed };
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
