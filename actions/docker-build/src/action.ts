import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { type ActionDefinition, type Exec, exec, Summary, tempParent, UserError } from '@shipline/kit';
import { InvalidReferenceError, parseReference } from '@shipline/oci';
import { Buildx } from './buildx.ts';
import type { ActionsCache } from './cache.ts';
import { type Inputs, schema, validate } from './inputs.ts';
import { type BuildResult, run } from './run.ts';

function eventPayload(path: string | undefined): unknown {
  if (!path) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * The BuildKit image is used only when a builder has to be created, so a malformed one would pass
 * every run that finds its builder already there and fail the first run on a fresh runner. Found by
 * the bad-input corpus (issue 14).
 */
export function validateBuildkitImage(image: string): void {
  try {
    parseReference(image);
  } catch (e) {
    if (e instanceof InvalidReferenceError) throw new UserError(e.message, { input: 'buildkit-image', ...(e.hint ? { hint: e.hint } : {}) });
    throw e;
  }
}

// @actions/cache brings the Azure SDK along; it is loaded only when the actions cache mode runs.
const loadActionsCache = async (): Promise<ActionsCache> => (await import('@actions/cache')) as unknown as ActionsCache;

export const dockerBuild: ActionDefinition<typeof schema, BuildResult> = {
  name: 'docker-build',
  schema,
  validate: (inputs) => {
    validate(inputs);
    validateBuildkitImage(inputs['buildkit-image']);
  },
  run: (inputs: Inputs, ctx) => {
    // Every docker call's command line goes to the debug log (masked); the job's cancellation kills it.
    const docker: Exec = (program, args, options) => exec(program, args, { log: ctx.log, ...options });
    return run(inputs, {
      buildx: new Buildx(docker),
      log: ctx.log,
      mask: ctx.mask,
      env: { ...process.env },
      eventPayload: eventPayload(process.env.GITHUB_EVENT_PATH),
      now: () => new Date(),
      loadActionsCache,
      tmpDir: tempParent(),
      cacheHome: join(homedir(), '.cache', 'shipline'),
      os: process.platform,
      arch: process.arch,
    });
  },
  outputs: (r) => ({
    'image-id': r.imageId,
    digest: r.digest,
    digests: JSON.stringify(r.digests),
    tags: r.tags.join('\n'),
    metadata: JSON.stringify(metadata(r)),
    'cache-hit': String(r.cache.hit),
    'oci-layout': r.ociLayout ?? '',
  }),
  summary: (r) => {
    const s = new Summary().heading(`Image built in ${(r.durationMs / 1000).toFixed(1)} s`);
    const rows: string[][] = [];
    if (r.imageId) rows.push(['Image ID', r.imageId]);
    if (r.digest) rows.push(['Digest', r.digest]);
    for (const [p, d] of Object.entries(r.digests)) if (Object.keys(r.digests).length > 1) rows.push([`Digest ${p}`, d]);
    rows.push(['Builder', `${r.builder.name} (${r.builder.driver})`]);
    rows.push(['Cache', `${r.cache.mode}: ${r.cache.cachedSteps} of ${r.cache.steps} steps cached${r.cache.hit ? ' (hit)' : ''}`]);
    if (r.cache.restoredKey) rows.push(['Cache restored', r.cache.restoredKey]);
    if (r.cache.savedKey) rows.push(['Cache saved', r.cache.savedKey]);
    rows.push(['Loaded into docker', r.loaded ? 'yes' : 'no']);
    if (r.ociLayout) rows.push(['OCI layout', r.ociLayout]);
    s.table(['', ''], rows);
    if (r.tags.length)
      s.table(
        ['Tag'],
        r.tags.map((t) => [t]),
      );
    s.table(['Label', 'Value'], Object.entries(r.labels));
    return s;
  },
};

/** The `metadata` output: what was built and how, for later steps and for people. */
export function metadata(r: BuildResult) {
  return {
    imageId: r.imageId,
    digest: r.digest,
    digests: r.digests,
    tags: r.tags,
    labels: r.labels,
    loaded: r.loaded,
    ociLayout: r.ociLayout ?? null,
    builder: r.builder,
    cache: r.cache,
    durationMs: r.durationMs,
    // The provenance buildx adds to its metadata file is large and says nothing the fields above don't.
    buildx: Object.fromEntries(Object.entries(r.buildx).filter(([k]) => k !== 'buildx.build.provenance')),
  };
}
