// The cache step of docker-build: what buildx imports and exports, and (actions mode) the restore
// before and the upload after the build.
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Log } from '@shipline/kit';
import type { CacheSpec } from './buildx.ts';
import { type ActionsCache, actionsKeys, localCacheSpec, type ModeChoice, registryCacheSpec, saveKey } from './cache.ts';
import type { Env } from './ci-context.ts';
import type { Inputs } from './inputs.ts';

export interface CacheDeps {
  log: Log;
  env: Env;
  loadActionsCache(): Promise<ActionsCache>;
  tmpDir: string;
  /**
   * Where actions mode keeps the cache directory it restores into and saves from. @actions/cache
   * matches an entry only under the same path string it was saved with, so this must not change
   * from run to run: RUNNER_TEMP does (act gives each job a new one), the home directory doesn't.
   */
  cacheHome: string;
  os: string;
}

export interface PreparedCache {
  spec: CacheSpec;
  restoredKey?: string;
  /** After a successful build: keep the new cache (and upload it in actions mode); returns the saved key. */
  finish(): Promise<string | undefined>;
}

/** The cache step before the build: the spec buildx gets, restored first in actions mode. */
export async function prepareCache(inputs: Inputs, choice: ModeChoice, deps: CacheDeps): Promise<PreparedCache> {
  const { log } = deps;
  log.info(`cache mode ${choice.mode} (${choice.reason})`);
  const none: PreparedCache = { spec: { type: 'none' }, finish: async () => undefined };
  switch (choice.mode) {
    case 'none':
      return none;
    case 'registry': {
      const ref = inputs['cache-ref'] as string;
      log.info(`cache from and to ${ref}`);
      return { spec: registryCacheSpec(ref), finish: async () => undefined };
    }
    case 'local': {
      const dir = resolve(inputs['cache-dir'] as string);
      mkdirSync(join(dir, '..'), { recursive: true });
      const local = localCacheSpec(dir);
      log.info(local.spec.type === 'local' && local.spec.src ? `importing cache from ${dir}` : `no cache in ${dir} yet`);
      return {
        spec: local.spec,
        finish: async () => {
          const { removed } = local.commit();
          log.info(`cache kept in ${dir}${removed ? ` (${removed} unused blob(s) removed)` : ''}`);
          return undefined;
        },
      };
    }
    case 'actions': {
      const cache = await deps.loadActionsCache();
      if (!cache.isFeatureAvailable()) {
        log.notice('cache: actions skipped — the Actions cache service is not available here');
        return none;
      }
      const keys = actionsKeys({
        os: deps.os,
        scope: inputs['cache-scope'],
        image: inputs.image[0],
        file: inputs.file ?? join(inputs.context, 'Dockerfile'),
        target: inputs.target,
        platforms: inputs.platforms,
      });
      const dir = join(deps.cacheHome, 'buildx-actions-cache', keys.prefix.replace(/-$/, ''));
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(join(dir, '..'), { recursive: true });
      let restoredKey: string | undefined;
      try {
        restoredKey = await cache.restoreCache([dir], keys.prefix, keys.restoreKeys);
      } catch (e) {
        // A cache service hiccup must cost speed, never the build.
        log.warning(`actions cache restore failed, building without it: ${(e as Error).message}`);
      }
      log.info(restoredKey ? `restored Actions cache ${restoredKey}` : `no Actions cache under ${keys.prefix}*`);
      const local = localCacheSpec(dir);
      return {
        spec: local.spec,
        ...(restoredKey ? { restoredKey } : {}),
        finish: async () => {
          // The Actions cache is the copy that lasts; a self-hosted runner keeps no local one.
          try {
            local.commit();
            const key = saveKey(keys.prefix, dir);
            if (!key) return undefined;
            if (key === restoredKey) {
              log.info(`cache unchanged (${key}); not uploaded again`);
              return undefined;
            }
            try {
              await cache.saveCache([dir], key);
              log.info(`saved Actions cache ${key}`);
              return key;
            } catch (e) {
              log.warning(`actions cache save failed: ${(e as Error).message}`);
              return undefined;
            }
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
        },
      };
    }
  }
}
