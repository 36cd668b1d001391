import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ActionFailure, type Log, privateTempDir, UserError } from '@shipline/kit';
import {
  type BuilderInfo,
  type BuildOptions,
  type Buildx,
  BuildxError,
  type CacheSpec,
  lastLines,
  needsContainerDriver,
  unsupportedPlatforms,
} from './buildx.ts';
import { type ActionsCache, actionsCacheConfigured, actionsKeys, chooseMode, localCacheSpec, type ModeChoice, registryCacheSpec, saveKey } from './cache.ts';
import { type Env, readCiContext } from './ci-context.ts';
import type { Inputs } from './inputs.ts';
import { readLayoutDigests } from './layout.ts';
import { cacheStats, ProgressReader } from './progress.ts';
import { writeSecretFiles } from './secrets.ts';
import { computeTags, fullTags, ociLabels } from './tags.ts';

/** The builder this action creates when the current one cannot do what was asked. */
export const MANAGED_BUILDER = 'shipline';

/**
 * The builder Shipline creates, one per Docker endpoint: buildx keeps builders in ~/.docker, so a
 * builder made for another daemon (another DOCKER_HOST, a socket since removed) would otherwise be
 * picked up and fail to connect.
 */
export function managedBuilderName(dockerHost: string | undefined): string {
  if (!dockerHost) return MANAGED_BUILDER;
  return `${MANAGED_BUILDER}-${createHash('sha256').update(dockerHost).digest('hex').slice(0, 8)}`;
}

export interface Deps {
  buildx: Buildx;
  log: Log;
  mask(secret: string): void;
  /** A notice annotation where the host has one (the kit's Log has none; see report). */
  notice(message: string): void;
  /** The CI variables, as data (GITHUB_* / CI_* / RUNNER_TEMP / ACTIONS_*). */
  env: Env;
  /** GitHub's event JSON, when there is one. */
  eventPayload: unknown;
  now(): Date;
  /** Loads @actions/cache; called only in actions mode. */
  loadActionsCache(): Promise<ActionsCache>;
  tmpDir: string;
  /** process.platform and process.arch of the runner. */
  os: string;
  arch: string;
}

export interface BuildResult {
  imageId: string;
  digest: string;
  /** platform → manifest digest. */
  digests: Record<string, string>;
  tags: string[];
  labels: Record<string, string>;
  loaded: boolean;
  ociLayout: string | undefined;
  builder: { name: string; driver: string };
  cache: {
    mode: string;
    reason: string;
    hit: boolean;
    steps: number;
    cachedSteps: number;
    restoredKey?: string;
    savedKey?: string;
  };
  warnings: string[];
  durationMs: number;
  buildx: Record<string, unknown>;
}

export async function run(inputs: Inputs, deps: Deps): Promise<BuildResult> {
  const started = performance.now();
  const { log } = deps;
  // Masked first: a value must be unknown to no log line, including buildx's own output.
  for (const s of inputs.secrets) {
    deps.mask(s.value);
    if (s.value.length < 3) log.warning(`secret ${s.id} is shorter than 3 characters and cannot be masked in logs`);
  }

  // Each docker CLI call costs a few hundred ms here; ask for the version while tags are worked out.
  const versionCheck = deps.buildx.version().then(
    (v) => ({ ok: true as const, v }),
    (e: unknown) => ({ ok: false as const, e }),
  );
  const ci = readCiContext(deps.env, deps.eventPayload, inputs['default-branch']);
  const computed = computeTags(inputs.tags, ci);
  const tags = fullTags(inputs.image, computed.tags);
  const labels: Record<string, string> = { ...ociLabels(ci, computed.version, deps.now()) };
  for (const l of inputs.labels) labels[l.name] = l.value;
  await log.group('Tags and labels', async () => {
    log.info(
      `CI context: ${ci.provider}${ci.branch ? `, branch ${ci.branch}` : ''}${ci.tag ? `, tag ${ci.tag}` : ''}${ci.pullRequest !== undefined ? `, pull request ${ci.pullRequest}` : ''}${ci.sha ? `, commit ${ci.sha.slice(0, 12)}` : ''}`,
    );
    for (const n of computed.notes) log.info(n);
    if (!inputs.image.length) log.info('no `image` given: the image is built without tags (use its image-id or digest)');
    for (const t of tags) log.info(`tag ${t}`);
    for (const [k, v] of Object.entries(labels)) log.info(`label ${k}=${v}`);
  });

  const version = await versionCheck;
  if (!version.ok) {
    throw new ActionFailure(
      `docker buildx is not available: ${(version.e as Error).message} — install the buildx CLI plugin (docker-buildx) and make sure DOCKER_HOST reaches a running dockerd`,
    );
  }
  const buildxVersion = version.v;

  const choice = chooseMode(inputs.cache, { actionsAvailable: actionsCacheConfigured(deps.env), cacheRef: inputs['cache-ref'], cacheDir: inputs['cache-dir'] });
  if (choice.notice) deps.notice(choice.notice);
  const builder = await log.group('Builder', () => pickBuilder(inputs, choice, deps, buildxVersion));
  // Asked while the cache is prepared (restored, in actions mode): see deferCacheExport.
  const holdsRecords =
    (choice.mode === 'local' || choice.mode === 'actions') && builder.driver !== 'docker' && !inputs['no-cache']
      ? deps.buildx.hasRecords(builder.name)
      : undefined;
  holdsRecords?.catch(() => {});

  const cache = await log.group('Cache', () => prepareCache(inputs, choice, deps));
  const secrets = writeSecretFiles(inputs.secrets, deps.tmpDir);
  const work = privateTempDir('shipline-build-', deps.tmpDir);
  const metadataFile = join(work.path, 'metadata.json');
  const layout = inputs['oci-layout'] ? resolve(inputs['oci-layout']) : undefined;
  let buildxMeta: Record<string, unknown> = {};
  const progress = new ProgressReader((line) => log.info(line));
  try {
    if (layout) {
      // validate() allowed only an empty dir or an earlier layout here: replace it whole.
      rmSync(layout, { recursive: true, force: true });
      mkdirSync(join(layout, '..'), { recursive: true });
    }
    const options: BuildOptions = {
      context: inputs.context,
      file: inputs.file,
      target: inputs.target,
      buildArgs: inputs['build-args'],
      secretFiles: secrets.files,
      labels,
      annotations: inputs.annotations,
      tags,
      noCache: inputs['no-cache'],
      pull: inputs.pull,
      platforms: inputs.platforms,
      builder: builder.name,
      cache: cache.spec,
      load: inputs.load,
      ociLayout: layout,
      metadataFile,
    };
    const deferExport = await deferCacheExport(options, holdsRecords);
    const r = await log.group(`Build ${inputs.context}${inputs.platforms.length ? ` for ${inputs.platforms.join(', ')}` : ''}`, () =>
      deps.buildx.build({ ...options, cacheExport: !deferExport }, (line) => progress.line(line)),
    );
    if (r.notFound) throw new ActionFailure('docker is not installed');
    if (r.code !== 0) {
      throw new ActionFailure(buildFailure(progress.errors(), progress.otherLines, r.stderr, inputs.platforms));
    }
    try {
      buildxMeta = JSON.parse(readFileSync(metadataFile, 'utf8')) as Record<string, unknown>;
    } catch {
      log.warning('buildx wrote no metadata file; digest and image-id may be empty');
    }
    if (deferExport) {
      const pass = cacheStats(progress.steps());
      if (pass.steps > 0 && pass.cached === pass.steps) {
        log.info('every step came from the imported cache, so it already holds this build: not exported again');
      } else {
        await log.group('Cache export', async () => {
          // Every step is in the builder now: this pass only writes the cache.
          const exportProgress = new ProgressReader((line) => log.info(line));
          const e = await deps.buildx.build({ ...options, cacheOnly: true, metadataFile: join(work.path, 'cache-metadata.json') }, (line) =>
            exportProgress.line(line),
          );
          if (e.code !== 0) log.warning(`the cache could not be exported (the image is built): ${lastLines(e.stderr || exportProgress.otherLines.join('\n'))}`);
        });
      }
    }
  } finally {
    secrets.remove();
    work.remove();
  }

  const stats = cacheStats(progress.steps());
  const saved = await log.group('Cache', () => cache.finish());

  const str = (k: string) => (typeof buildxMeta[k] === 'string' ? (buildxMeta[k] as string) : '');
  // dockerd's built-in BuildKit (docker driver, classic image store) writes no manifest: what it
  // reports as containerimage.digest is the image ID, so it is no digest to pull or push by.
  const classicStore = builder.driver === 'docker';
  let digest = classicStore ? '' : str('containerimage.digest');
  let digests: Record<string, string> = {};
  if (layout) {
    const d = readLayoutDigests(layout);
    digest = d.digest;
    digests = d.platforms;
  } else if (digest) {
    digests = { [inputs.platforms[0] ?? hostPlatform(deps)]: digest };
  }
  // In the classic image store an image's ID is its config digest.
  const imageId = inputs.load ? str('containerimage.config.digest') || (classicStore ? str('containerimage.digest') : '') : '';

  log.info(`cache: ${stats.cached} of ${stats.steps} build step(s) from cache (${choice.mode})`);
  return {
    imageId,
    digest,
    digests,
    tags,
    labels,
    loaded: inputs.load,
    ociLayout: layout,
    builder: { name: builder.name, driver: builder.driver },
    cache: {
      mode: choice.mode,
      reason: choice.reason,
      hit: stats.hit,
      steps: stats.steps,
      cachedSteps: stats.cached,
      ...(cache.restoredKey ? { restoredKey: cache.restoredKey } : {}),
      ...(saved ? { savedKey: saved } : {}),
    },
    warnings: progress.warnings,
    durationMs: Math.round(performance.now() - started),
    buildx: buildxMeta,
  };
}

/**
 * A local cache dir is read lazily: exporting it again makes the builder fetch every blob it did
 * not need for the image back from the runner (~3 s for a Node service), only to find each one
 * already there. So with a cache to import into an empty builder, the build runs without the
 * export; when every step came from that cache the cache is complete as it is, and otherwise a
 * second, cache-only pass exports it (from the builder, where everything now is). A builder that
 * already held records could have served steps the cache lacks: it exports in the same pass.
 */
async function deferCacheExport(options: BuildOptions, holdsRecords: Promise<boolean> | undefined): Promise<boolean> {
  if (options.cache.type !== 'local' || !options.cache.src || !holdsRecords) return false;
  return !(await holdsRecords.catch(() => true));
}

function hostPlatform(deps: Deps): string {
  const arch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', s390x: 's390x', ppc64: 'ppc64le' };
  return `linux/${arch[deps.arch] ?? deps.arch}`;
}

async function pickBuilder(inputs: Inputs, choice: ModeChoice, deps: Deps, buildxVersion: string): Promise<BuilderInfo> {
  const { buildx, log } = deps;
  log.info(`docker buildx ${buildxVersion}`);
  const need = needsContainerDriver({
    cacheExport: choice.mode !== 'none',
    ociLayout: !!inputs['oci-layout'],
    multiPlatform: inputs.platforms.length > 1,
    annotations: inputs.annotations.length > 0,
  });
  const boot = (n: string) =>
    buildx.inspect(n, true).catch((e: unknown) => {
      throw new ActionFailure(`builder ${n} does not start: ${(e as Error).message}`);
    });
  let info: BuilderInfo | undefined;
  if (inputs.builder) {
    info = await boot(inputs.builder);
    if (info?.driver === 'docker' && need) {
      throw new UserError(`builder ${inputs.builder} uses the docker driver, which cannot do ${need}`, {
        input: 'builder',
        hint: 'name a docker-container builder, or leave `builder` empty to have one created',
      });
    }
    if (!info) {
      await createBuilder(inputs.builder, inputs['buildkit-image'], deps);
      info = await boot(inputs.builder);
    }
  } else {
    const current = await buildx.inspect();
    if (!current && !need) throw new ActionFailure('docker buildx found no current builder — check that DOCKER_HOST reaches a running dockerd');
    if (current && (!need || current.driver !== 'docker')) {
      log.info(`using the current builder ${current.name} (${current.driver} driver)`);
      // dockerd's own BuildKit is always up; any other driver may need booting.
      info = current.driver === 'docker' ? current : await boot(current.name);
    } else {
      const managed = managedBuilderName(deps.env.DOCKER_HOST);
      log.info(`${need} needs a docker-container builder: using ${managed}`);
      info = await boot(managed);
      if (!info) {
        await createBuilder(managed, inputs['buildkit-image'], deps);
        info = await boot(managed);
      }
    }
  }
  if (!info) throw new ActionFailure('the builder disappeared while starting');
  log.info(`builder ${info.name}: ${info.driver} driver, BuildKit ${info.buildkitVersion ?? 'unknown'}, platforms ${info.platforms.join(', ') || 'unknown'}`);
  if (inputs.platforms.length && info.platforms.length) {
    const missing = unsupportedPlatforms(inputs.platforms, info.platforms);
    if (missing.length) {
      throw new UserError(`${missing.join(', ')} cannot be built here: builder ${info.name} runs only ${info.platforms.join(', ')}`, {
        input: 'platforms',
        hint: 'this machine has no emulator for it; install QEMU binfmt handlers (Debian: qemu-user-static / binfmt-support) or drop the platform',
      });
    }
  }
  return info;
}

async function createBuilder(name: string, image: string, deps: Deps): Promise<void> {
  const { buildx, log } = deps;
  if (!(await buildx.imageExists(image))) log.info(`BuildKit image ${image} is not in the local image store; buildx will try to pull it`);
  log.info(`creating docker-container builder ${name} from ${image}`);
  try {
    await buildx.create(name, image);
  } catch (e) {
    // Another job on this daemon may have created it at the same moment; that one is as good.
    if (await buildx.inspect(name).catch(() => undefined)) return;
    throw new ActionFailure(`could not create builder ${name}: ${e instanceof BuildxError ? e.message : String(e)}`);
  }
}

interface PreparedCache {
  spec: CacheSpec;
  restoredKey?: string;
  /** After a successful build: keep the new cache (and upload it in actions mode); returns the saved key. */
  finish(): Promise<string | undefined>;
}

async function prepareCache(inputs: Inputs, choice: ModeChoice, deps: Deps): Promise<PreparedCache> {
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
        deps.notice('cache: actions skipped — the Actions cache service is not available here');
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
      const dir = join(deps.env.RUNNER_TEMP || deps.tmpDir, 'shipline-buildx-cache', keys.prefix.replace(/-$/, ''));
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
        },
      };
    }
  }
}

/** One message that says what failed and, where it can tell, what to do. */
export function buildFailure(vertexErrors: string[], otherLines: string[], stderr: string, platforms: readonly string[]): string {
  const text = [...vertexErrors, ...otherLines, stderr].join('\n');
  let hint = '';
  if (/exec format error/i.test(text)) {
    hint = ` — a RUN step executed a binary for another CPU (${platforms.join(', ') || 'a foreign platform'}); this machine cannot emulate it: install QEMU binfmt handlers or drop the platform`;
  } else if (/failed to (do request|resolve|authorize)|pull access denied|not found: not found|connection refused/i.test(text)) {
    hint = ' — a base image or cache could not be fetched; check the FROM image and that its registry is reachable';
  }
  const what = vertexErrors.length ? vertexErrors.slice(-3).join(' | ') : lastLines(otherLines.filter((l) => /error/i.test(l)).join('\n') || stderr);
  return `build failed: ${what}${hint}`;
}
