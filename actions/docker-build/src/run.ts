import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ActionFailure, type Log, privateTempDir } from '@shipline/kit';
import { type BuilderDeps, pickBuilder } from './builder.ts';
import { type BuilderInfo, type BuildOptions, type Buildx, lastLines } from './buildx.ts';
import { actionsCacheConfigured, chooseMode } from './cache.ts';
import { type CacheDeps, type PreparedCache, prepareCache } from './cache-step.ts';
import { type Env, readCiContext } from './ci-context.ts';
import type { Inputs } from './inputs.ts';
import { readLayoutDigests } from './layout.ts';
import { cacheStats, ProgressReader } from './progress.ts';
import { writeSecretFiles } from './secrets.ts';
import { computeTags, fullTags, ociLabels } from './tags.ts';

export interface Deps extends BuilderDeps, CacheDeps {
  buildx: Buildx;
  log: Log;
  mask(secret: string): void;
  /** The CI variables, as data (GITHUB_* / CI_* / RUNNER_TEMP / ACTIONS_*). */
  env: Env;
  /** GitHub's event JSON, when there is one. */
  eventPayload: unknown;
  now(): Date;
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

/** The steps, in order: secrets masked, tags and labels, buildx found, builder, cache, build, identity. */
export async function run(inputs: Inputs, deps: Deps): Promise<BuildResult> {
  const started = performance.now();
  const { log } = deps;
  maskSecrets(inputs, deps);
  // Each docker CLI call costs a few hundred ms here; ask for the version while tags are worked out.
  const versionCheck = deps.buildx.version().then(
    (v) => ({ ok: true as const, v }),
    (e: unknown) => ({ ok: false as const, e }),
  );
  const { tags, labels } = await tagsAndLabels(inputs, deps);
  const version = await versionCheck;
  if (!version.ok) {
    throw new ActionFailure(
      `docker buildx is not available: ${(version.e as Error).message} — install the buildx CLI plugin (docker-buildx) and make sure DOCKER_HOST reaches a running dockerd`,
    );
  }

  const choice = chooseMode(inputs.cache, { actionsAvailable: actionsCacheConfigured(deps.env), cacheRef: inputs['cache-ref'], cacheDir: inputs['cache-dir'] });
  if (choice.notice) log.notice(choice.notice);
  const builder = await log.group('Builder', () => pickBuilder(inputs, choice, deps, version.v));
  // Asked while the cache is prepared (restored, in actions mode): see deferCacheExport.
  const holdsRecords =
    (choice.mode === 'local' || choice.mode === 'actions') && builder.driver !== 'docker' && !inputs['no-cache']
      ? deps.buildx.hasRecords(builder.name)
      : undefined;
  holdsRecords?.catch(() => {});
  const cache = await log.group('Cache', () => prepareCache(inputs, choice, deps));

  const built = await buildImage(inputs, { tags, labels, builder, cache, holdsRecords }, deps);
  const saved = await log.group('Cache', () => cache.finish());
  const stats = cacheStats(built.progress.steps());
  log.info(`cache: ${stats.cached} of ${stats.steps} build step(s) from cache (${choice.mode})`);
  return {
    ...imageIdentity(inputs, builder, built, deps),
    tags,
    labels,
    loaded: inputs.load,
    ociLayout: built.layout,
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
    warnings: built.progress.warnings,
    durationMs: Math.round(performance.now() - started),
    buildx: built.metadata,
  };
}

/** Masked first: a value must be unknown to no log line, including buildx's own output. */
function maskSecrets(inputs: Inputs, deps: Deps): void {
  for (const s of inputs.secrets) {
    deps.mask(s.value);
    if (s.value.length < 3) deps.log.warning(`secret ${s.id} is shorter than 3 characters and cannot be masked in logs`);
  }
}

/** Tags from the `tags` rules and the CI context; OCI labels from the context, then the `labels` input. */
async function tagsAndLabels(inputs: Inputs, deps: Deps): Promise<{ tags: string[]; labels: Record<string, string> }> {
  const { log } = deps;
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
  return { tags, labels };
}

interface BuildPlan {
  tags: string[];
  labels: Record<string, string>;
  builder: BuilderInfo;
  cache: PreparedCache;
  /** Whether the builder held build records before this build (see deferCacheExport). */
  holdsRecords: Promise<boolean> | undefined;
}

interface Built {
  /** buildx's metadata file, `{}` when it wrote none. */
  metadata: Record<string, unknown>;
  progress: ProgressReader;
  layout: string | undefined;
}

/**
 * The build itself, with the secret files and the metadata file in private temp dirs that are
 * gone when it returns; then, when the cache export was deferred, the cache-only pass.
 */
async function buildImage(inputs: Inputs, plan: BuildPlan, deps: Deps): Promise<Built> {
  const { log } = deps;
  const secrets = writeSecretFiles(inputs.secrets, deps.tmpDir);
  const work = privateTempDir('shipline-build-', deps.tmpDir);
  const metadataFile = join(work.path, 'metadata.json');
  const layout = inputs['oci-layout'] ? resolve(inputs['oci-layout']) : undefined;
  const progress = new ProgressReader((line) => log.info(line));
  let metadata: Record<string, unknown> = {};
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
      labels: plan.labels,
      annotations: inputs.annotations,
      tags: plan.tags,
      noCache: inputs['no-cache'],
      pull: inputs.pull,
      platforms: inputs.platforms,
      builder: plan.builder.name,
      cache: plan.cache.spec,
      load: inputs.load,
      ociLayout: layout,
      metadataFile,
    };
    const deferExport = await deferCacheExport(options, plan.holdsRecords);
    const r = await log.group(`Build ${inputs.context}${inputs.platforms.length ? ` for ${inputs.platforms.join(', ')}` : ''}`, () =>
      deps.buildx.build({ ...options, cacheExport: !deferExport }, (line) => progress.line(line)),
    );
    if (r.notFound) throw new ActionFailure('docker is not installed');
    if (r.code !== 0) {
      throw new ActionFailure(buildFailure(progress.errors(), progress.otherLines, r.stderr, inputs.platforms));
    }
    try {
      metadata = JSON.parse(readFileSync(metadataFile, 'utf8')) as Record<string, unknown>;
    } catch {
      log.warning('buildx wrote no metadata file; digest and image-id may be empty');
    }
    if (deferExport) await exportCache(options, progress, join(work.path, 'cache-metadata.json'), deps);
  } finally {
    secrets.remove();
    work.remove();
  }
  return { metadata, progress, layout };
}

/** The deferred cache export: skipped when every step came from the imported cache. */
async function exportCache(options: BuildOptions, progress: ProgressReader, metadataFile: string, deps: Deps): Promise<void> {
  const { log } = deps;
  const pass = cacheStats(progress.steps());
  if (pass.steps > 0 && pass.cached === pass.steps) {
    log.info('every step came from the imported cache, so it already holds this build: not exported again');
    return;
  }
  await log.group('Cache export', async () => {
    // Every step is in the builder now: this pass only writes the cache.
    const exportProgress = new ProgressReader((line) => log.info(line));
    const e = await deps.buildx.build({ ...options, cacheOnly: true, metadataFile }, (line) => exportProgress.line(line));
    if (e.code !== 0) log.warning(`the cache could not be exported (the image is built): ${lastLines(e.stderr || exportProgress.otherLines.join('\n'))}`);
  });
}

/** The digests and image ID of what was built, from the layout when there is one, else from buildx's metadata. */
function imageIdentity(inputs: Inputs, builder: BuilderInfo, built: Built, deps: Deps): Pick<BuildResult, 'imageId' | 'digest' | 'digests'> {
  const str = (k: string) => (typeof built.metadata[k] === 'string' ? (built.metadata[k] as string) : '');
  // dockerd's built-in BuildKit (docker driver, classic image store) writes no manifest: what it
  // reports as containerimage.digest is the image ID, so it is no digest to pull or push by.
  const classicStore = builder.driver === 'docker';
  let digest = classicStore ? '' : str('containerimage.digest');
  let digests: Record<string, string> = {};
  if (built.layout) {
    const d = readLayoutDigests(built.layout);
    digest = d.digest;
    digests = d.platforms;
  } else if (digest) {
    digests = { [inputs.platforms[0] ?? hostPlatform(deps)]: digest };
  }
  // In the classic image store an image's ID is its config digest.
  const imageId = inputs.load ? str('containerimage.config.digest') || (classicStore ? str('containerimage.digest') : '') : '';
  return { imageId, digest, digests };
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
