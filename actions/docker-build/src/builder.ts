// The builder step of docker-build: which buildx builder runs the build, created when needed.
import { createHash } from 'node:crypto';
import { ActionFailure, type Log, UserError } from '@shipline/kit';
import { type BuilderInfo, type Buildx, BuildxError, needsContainerDriver, unsupportedPlatforms } from './buildx.ts';
import type { ModeChoice } from './cache.ts';
import type { Inputs } from './inputs.ts';

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

export interface BuilderDeps {
  buildx: Buildx;
  log: Log;
  /** The environment's DOCKER_HOST: the managed builder is this endpoint's. */
  env: { DOCKER_HOST?: string | undefined };
}

/**
 * The builder for this build: the one named by `builder` (created when missing), else the current
 * one when it can do what was asked, else the managed docker-container builder of this endpoint.
 */
export async function pickBuilder(inputs: Inputs, choice: ModeChoice, deps: BuilderDeps, buildxVersion: string): Promise<BuilderInfo> {
  deps.log.info(`docker buildx ${buildxVersion}`);
  const need = needsContainerDriver({
    cacheExport: choice.mode !== 'none',
    ociLayout: !!inputs['oci-layout'],
    multiPlatform: inputs.platforms.length > 1,
    annotations: inputs.annotations.length > 0,
  });
  const info = inputs.builder
    ? await namedBuilder(inputs.builder, need, inputs['buildkit-image'], deps)
    : await defaultBuilder(need, inputs['buildkit-image'], deps);
  if (!info) throw new ActionFailure('the builder disappeared while starting');
  deps.log.info(
    `builder ${info.name}: ${info.driver} driver, BuildKit ${info.buildkitVersion ?? 'unknown'}, platforms ${info.platforms.join(', ') || 'unknown'}`,
  );
  checkPlatforms(info, inputs.platforms);
  return info;
}

/** Inspects (and boots) a builder; undefined when there is none of that name. */
function boot(name: string, deps: BuilderDeps): Promise<BuilderInfo | undefined> {
  return deps.buildx.inspect(name, true).catch((e: unknown) => {
    throw new ActionFailure(`builder ${name} does not start: ${(e as Error).message}`);
  });
}

/** `info` of a builder found by boot(), else a docker-container builder of that name, created and booted. */
async function orCreate(info: BuilderInfo | undefined, name: string, image: string, deps: BuilderDeps): Promise<BuilderInfo | undefined> {
  if (info) return info;
  await createBuilder(name, image, deps);
  return boot(name, deps);
}

/** The `builder` input: used as it is, created when missing, refused when its driver cannot do what was asked. */
async function namedBuilder(name: string, need: string | undefined, image: string, deps: BuilderDeps): Promise<BuilderInfo | undefined> {
  const info = await boot(name, deps);
  if (info?.driver === 'docker' && need) {
    throw new UserError(`builder ${name} uses the docker driver, which cannot do ${need}`, {
      input: 'builder',
      hint: 'name a docker-container builder, or leave `builder` empty to have one created',
    });
  }
  return orCreate(info, name, image, deps);
}

/** No `builder` input: the current builder when it will do, else this endpoint's managed one. */
async function defaultBuilder(need: string | undefined, image: string, deps: BuilderDeps): Promise<BuilderInfo | undefined> {
  const current = await deps.buildx.inspect();
  if (!current && !need) throw new ActionFailure('docker buildx found no current builder — check that DOCKER_HOST reaches a running dockerd');
  if (current && (!need || current.driver !== 'docker')) {
    deps.log.info(`using the current builder ${current.name} (${current.driver} driver)`);
    // dockerd's own BuildKit is always up; any other driver may need booting.
    return current.driver === 'docker' ? current : boot(current.name, deps);
  }
  const managed = managedBuilderName(deps.env.DOCKER_HOST);
  deps.log.info(`${need} needs a docker-container builder: using ${managed}`);
  return orCreate(await boot(managed, deps), managed, image, deps);
}

/** Platforms asked for that the builder cannot run are a bad `platforms` input, found before the build. */
function checkPlatforms(info: BuilderInfo, platforms: readonly string[]): void {
  if (!platforms.length || !info.platforms.length) return;
  const missing = unsupportedPlatforms(platforms, info.platforms);
  if (missing.length) {
    throw new UserError(`${missing.join(', ')} cannot be built here: builder ${info.name} runs only ${info.platforms.join(', ')}`, {
      input: 'platforms',
      hint: 'this machine has no emulator for it; install QEMU binfmt handlers (Debian: qemu-user-static / binfmt-support) or drop the platform',
    });
  }
}

async function createBuilder(name: string, image: string, deps: BuilderDeps): Promise<void> {
  const { buildx, log } = deps;
  if (!(await buildx.imageExists(image))) log.info(`BuildKit image ${image} is not in the local image store; buildx will try to pull it`);
  log.info(`creating docker-container builder ${name} from ${image}`);
  try {
    await buildx.create({ name, image });
  } catch (e) {
    // Another job on this daemon may have created it at the same moment; that one is as good.
    if (await buildx.inspect(name).catch(() => undefined)) return;
    throw new ActionFailure(`could not create builder ${name}: ${e instanceof BuildxError ? e.message : String(e)}`);
  }
}
