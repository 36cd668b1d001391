// docker buildx as a typed tool: option objects in, argument arrays out, one exec wrapper.
// Argument building is pure (unit-tested); the class only runs what it builds.
import type { Exec, ExecResult } from '@shipline/kit';

export const DEFAULT_BUILDKIT_IMAGE = 'moby/buildkit:buildx-stable-1';

export type CacheSpec = { type: 'local'; src?: string; dest: string } | { type: 'registry'; ref: string; insecure: boolean } | { type: 'none' };

export interface BuildOptions {
  context: string;
  file: string | undefined;
  target: string | undefined;
  buildArgs: readonly { name: string; value: string }[];
  /** id → path of a file holding the secret (never the value itself). */
  secretFiles: readonly { id: string; path: string }[];
  labels: Readonly<Record<string, string>>;
  annotations: readonly string[];
  tags: readonly string[];
  noCache: boolean;
  pull: boolean;
  platforms: readonly string[];
  builder: string | undefined;
  cache: CacheSpec;
  /** False: import the cache only (its export comes later, if at all). Default true. */
  cacheExport?: boolean;
  /** Export the cache and nothing else (`--output type=cacheonly`): no image is loaded or written. */
  cacheOnly?: boolean;
  load: boolean;
  ociLayout: string | undefined;
  metadataFile: string;
}

function csvField(s: string): string {
  // buildx reads --output/--cache-* values as CSV: quote a field holding a comma or quote.
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function kv(entries: [string, string][]): string {
  return entries.map(([k, v]) => csvField(`${k}=${v}`)).join(',');
}

/** `docker buildx create`: a docker-container builder from a BuildKit image. */
export interface CreateOptions {
  name: string;
  image: string;
}

/** `docker buildx inspect [--bootstrap] [name]`: the current builder when no name is given. */
export interface InspectOptions {
  name?: string;
  bootstrap?: boolean;
}

export interface BuilderInfo {
  name: string;
  driver: string;
  status: string | undefined;
  platforms: string[];
  buildkitVersion: string | undefined;
}

/** `linux/amd64` and `linux/amd64/v1`… are one platform to a builder; compare normalised. */
export function normalizePlatform(p: string): string {
  const parts = p.trim().toLowerCase().split('/');
  if (parts[1] === 'x86_64' || parts[1] === 'x86-64') parts[1] = 'amd64';
  if (parts[1] === 'aarch64') parts[1] = 'arm64';
  if (parts[1] === 'amd64' && parts[2] === 'v1') parts.length = 2;
  if (parts[1] === 'arm64' && parts[2] === 'v8') parts.length = 2;
  return parts.join('/');
}

/** Requested platforms the builder cannot run; `linux/arm` matches `linux/arm/v7` and the like. */
export function unsupportedPlatforms(requested: readonly string[], available: readonly string[]): string[] {
  const have = available.map(normalizePlatform);
  return requested.filter((r) => {
    const n = normalizePlatform(r);
    return !have.some((h) => h === n || h.startsWith(`${n}/`));
  });
}

/** What a build needs from its builder; the docker driver of a classic dockerd can do none of it. */
export interface BuilderNeeds {
  cacheExport: boolean;
  ociLayout: boolean;
  multiPlatform: boolean;
  annotations: boolean;
}

export function needsContainerDriver(n: BuilderNeeds): string | undefined {
  if (n.cacheExport) return 'cache export';
  if (n.ociLayout) return 'an OCI layout output';
  if (n.multiPlatform) return 'several platforms';
  if (n.annotations) return 'annotations';
  return undefined;
}

export class BuildxError extends Error {
  readonly result: ExecResult;
  constructor(message: string, result: ExecResult) {
    super(message);
    this.name = 'BuildxError';
    this.result = result;
  }
}

/**
 * The docker CLI with its buildx plugin, in the style of docker/actions-toolkit: typed option
 * objects in; argument arrays built by pure static functions; buildx's text read by pure static
 * parsers (tested against captured output); instances only run what the statics build, through
 * the kit's exec.
 */
export class Buildx {
  private readonly exec: Exec;
  private readonly docker: string;

  constructor(exec: Exec, docker = 'docker') {
    this.exec = exec;
    this.docker = docker;
  }

  /** The argument array of `docker buildx build` (without `docker`). */
  static buildArgs(o: BuildOptions): string[] {
    const a = ['buildx', 'build'];
    if (o.builder) a.push('--builder', o.builder);
    a.push('--progress', 'rawjson', '--metadata-file', o.metadataFile);
    // Attestations would turn a one-platform image into an index with an unknown/unknown entry;
    // registry-push and `docker run` want the image itself.
    a.push('--provenance', 'false', '--sbom', 'false');
    if (o.file) a.push('--file', o.file);
    if (o.target) a.push('--target', o.target);
    for (const b of o.buildArgs) a.push('--build-arg', `${b.name}=${b.value}`);
    for (const s of o.secretFiles)
      a.push(
        '--secret',
        kv([
          ['id', s.id],
          ['src', s.path],
        ]),
      );
    for (const [k, v] of Object.entries(o.labels)) a.push('--label', `${k}=${v}`);
    for (const an of o.annotations) a.push('--annotation', an);
    for (const t of o.tags) a.push('--tag', t);
    if (o.noCache) a.push('--no-cache');
    if (o.pull) a.push('--pull');
    if (o.platforms.length) a.push('--platform', o.platforms.join(','));
    const c = o.cache;
    if (c.type === 'local') {
      if (c.src)
        a.push(
          '--cache-from',
          kv([
            ['type', 'local'],
            ['src', c.src],
          ]),
        );
      if (o.cacheExport !== false)
        a.push(
          '--cache-to',
          kv([
            ['type', 'local'],
            ['dest', c.dest],
            ['mode', 'max'],
          ]),
        );
    } else if (c.type === 'registry') {
      const insecure: [string, string][] = c.insecure ? [['registry.insecure', 'true']] : [];
      a.push('--cache-from', kv([['type', 'registry'], ['ref', c.ref], ...insecure]));
      if (o.cacheExport !== false)
        a.push('--cache-to', kv([['type', 'registry'], ['ref', c.ref], ['mode', 'max'], ['image-manifest', 'true'], ['oci-mediatypes', 'true'], ...insecure]));
    }
    if (o.cacheOnly) {
      a.push('--output', 'type=cacheonly', o.context);
      return a;
    }
    if (o.load) a.push('--output', 'type=docker');
    if (o.ociLayout)
      a.push(
        '--output',
        kv([
          ['type', 'oci'],
          ['dest', o.ociLayout],
          ['tar', 'false'],
        ]),
      );
    a.push(o.context);
    return a;
  }

  static createArgs(o: CreateOptions): string[] {
    // network=host: the builder must reach registries on the runner's loopback (127.0.0.1:5000)
    // the same way dockerd does, as setup-buildx-action's users do with `driver-opts: network=host`.
    return [
      'buildx',
      'create',
      '--name',
      o.name,
      '--driver',
      'docker-container',
      '--driver-opt',
      `image=${o.image}`,
      '--driver-opt',
      'network=host',
      '--bootstrap',
    ];
  }

  static inspectArgs(o: InspectOptions = {}): string[] {
    const args = ['buildx', 'inspect'];
    if (o.bootstrap) args.push('--bootstrap');
    if (o.name) args.push(o.name);
    return args;
  }

  /**
   * Parses `docker buildx inspect` text. The first node's Status/Platforms count: builders made here
   * have one node, and the docker driver has exactly one.
   */
  static parseInspect(text: string): BuilderInfo | undefined {
    const field = (key: string) => {
      const m = new RegExp(`^${key}:[ \\t]*(.*)$`, 'mi').exec(text);
      return m ? (m[1] as string).trim() : undefined;
    };
    const name = field('Name');
    const driver = field('Driver');
    if (!name || !driver) return undefined;
    const platforms = (field('Platforms') ?? '')
      .split(',')
      .map((p) => p.trim().replace(/\*$/, ''))
      .filter((p) => p !== '');
    return { name, driver, status: field('Status'), platforms, buildkitVersion: field('BuildKit version') ?? field('BuildKit') };
  }

  /** `github.com/docker/buildx v0.38.2 …` → `v0.38.2` (Debian's `0.13.1+ds1-3` likewise). */
  static parseVersion(text: string): string {
    return /\bv?\d+\.\d+\.\d+\S*/.exec(text)?.[0] ?? text.trim();
  }

  /** `buildx inspect` of a name it does not know: the one failure that means "no such builder". */
  static isUnknownBuilder(stderr: string): boolean {
    return /no builder .* found|not found/i.test(stderr);
  }

  private async run(args: string[], what: string): Promise<ExecResult> {
    const r = await this.exec(this.docker, args);
    if (r.notFound) throw new BuildxError(`${this.docker} is not installed (needed to ${what})`, r);
    if (r.code !== 0) throw new BuildxError(`${this.docker} ${args.slice(0, 2).join(' ')} failed: ${lastLines(r.stderr || r.stdout)}`, r);
    return r;
  }

  /** The buildx version; throws when buildx is missing. */
  async version(): Promise<string> {
    const r = await this.run(['buildx', 'version'], 'find docker buildx');
    return Buildx.parseVersion(r.stdout);
  }

  /** The builder's facts, or undefined when no builder has that name. */
  async inspect(name?: string, bootstrap = false): Promise<BuilderInfo | undefined> {
    const r = await this.exec(this.docker, Buildx.inspectArgs({ ...(name ? { name } : {}), bootstrap }));
    if (r.notFound) throw new BuildxError(`${this.docker} is not installed`, r);
    if (r.code !== 0) {
      if (Buildx.isUnknownBuilder(r.stderr)) return undefined;
      throw new BuildxError(`docker buildx inspect failed: ${lastLines(r.stderr)}`, r);
    }
    return Buildx.parseInspect(r.stdout);
  }

  async create(options: CreateOptions): Promise<void> {
    await this.run(Buildx.createArgs(options), 'create a builder');
  }

  /**
   * Whether the builder holds any build records (`buildx du`): a pruned or new builder holds none,
   * so every step it reports cached came from the imported cache. Unknown counts as yes.
   */
  async hasRecords(name: string): Promise<boolean> {
    const r = await this.exec(this.docker, ['buildx', 'du', '--builder', name, '--format', 'json']);
    return r.code !== 0 || r.stdout.trim() !== '';
  }

  async imageExists(ref: string): Promise<boolean> {
    const r = await this.exec(this.docker, ['image', 'inspect', '--format', '{{.Id}}', ref]);
    return r.code === 0;
  }

  /** Runs a build; progress lines (rawjson) go to `onProgress`. Never throws for a failed build. */
  build(options: BuildOptions, onProgress: (line: string) => void): Promise<ExecResult> {
    return this.exec(this.docker, Buildx.buildArgs(options), { onStderrLine: onProgress, onStdoutLine: onProgress });
  }
}

export function lastLines(text: string, n = 5): string {
  return text
    .trim()
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(-n)
    .join(' | ');
}
