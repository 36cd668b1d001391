// run() with a scripted docker CLI: which builder is picked or created, what reaches buildx, how
// the Actions cache is restored and saved, and that secret files are gone afterwards. The real
// daemon is exercised in test/build.stack.test.ts.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Exec, type ExecOptions, MemoryHost, parseInputs, UserError } from '@shipline/kit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Buildx } from './buildx.ts';
import type { ActionsCache } from './cache.ts';
import { schema, validate } from './inputs.ts';
import { type Deps, run } from './run.ts';

const DOCKER_DRIVER = 'Name: default\nDriver: docker\n\nNodes:\nName: default\nStatus: running\nPlatforms: linux/amd64, linux/386\n';
const container = (name: string) =>
  `Name: ${name}\nDriver: docker-container\n\nNodes:\nName: ${name}0\nStatus: running\nBuildKit version: v0.34.2\nPlatforms: linux/amd64, linux/amd64/v2, linux/386\n`;
const CONFIG = `sha256:${'c'.repeat(64)}`;
const MANIFEST = `sha256:${'d'.repeat(64)}`;

interface Fake {
  calls: string[][];
  builders: Set<string>;
  current: string;
  /** Seen while the build ran: the secret files and their content. */
  secretsSeen: string[];
  cachedSteps: boolean;
  /** What `buildx du` finds in the builder. */
  records: boolean;
}

function fakeDocker(f: Fake): Exec {
  return async (_program, args, options: ExecOptions = {}) => {
    f.calls.push([...args]);
    const ok = (stdout = '') => ({ code: 0, stdout, stderr: '', notFound: false, timedOut: false });
    const [a, b] = args;
    if (a === 'buildx' && b === 'version') return ok('github.com/docker/buildx v0.38.2 pinned\n');
    if (a === 'image' && b === 'inspect') return ok('sha256:x');
    if (a === 'buildx' && b === 'inspect') {
      const name = args.filter((x) => !x.startsWith('--'))[2] ?? f.current;
      if (name === 'default') return ok(DOCKER_DRIVER);
      if (f.builders.has(name)) return ok(container(name));
      return { code: 1, stdout: '', stderr: `ERROR: no builder "${name}" found`, notFound: false, timedOut: false };
    }
    if (a === 'buildx' && b === 'du') return ok(f.records ? '{"ID":"r1","Size":1024}\n' : '');
    if (a === 'buildx' && b === 'create') {
      f.builders.add(args[args.indexOf('--name') + 1] as string);
      return ok('shipline\n');
    }
    if (a === 'buildx' && b === 'build') {
      for (let i = 0; i < args.length; i++) {
        if (args[i] === '--secret') {
          const src = /src=([^,]+)/.exec(args[i + 1] as string)?.[1] as string;
          f.secretsSeen.push(readFileSync(src, 'utf8'));
        }
        if (args[i] === '--cache-to') {
          const dest = /dest=([^,]+)/.exec(args[i + 1] as string)?.[1];
          if (dest) {
            mkdirSync(dest, { recursive: true });
            writeFileSync(join(dest, 'index.json'), '{"manifests":["same"]}');
          }
        }
      }
      const v = (digest: string, name: string) => JSON.stringify({ vertexes: [{ digest, name, completed: '2026-01-01T00:00:01Z', cached: f.cachedSteps }] });
      options.onStderrLine?.(v('a', '[1/2] FROM docker.io/library/alpine'));
      options.onStderrLine?.(v('b', '[2/2] COPY . .'));
      // dockerd's built-in BuildKit reports the image ID as containerimage.digest and nothing else.
      const classic = args[args.indexOf('--builder') + 1] === 'default';
      const metadata = classic ? { 'containerimage.digest': CONFIG } : { 'containerimage.config.digest': CONFIG, 'containerimage.digest': MANIFEST };
      writeFileSync(args[args.indexOf('--metadata-file') + 1] as string, JSON.stringify(metadata));
      return ok();
    }
    return { code: 1, stdout: '', stderr: `unexpected docker ${args.join(' ')}`, notFound: false, timedOut: false };
  };
}

let dir: string;
let ctxDir: string;
beforeEach(() => {
  dir = join(tmpdir(), `shipline-db-run-${process.pid}-${Math.random().toString(36).slice(2)}`);
  ctxDir = join(dir, 'ctx');
  mkdirSync(ctxDir, { recursive: true });
  writeFileSync(join(ctxDir, 'Dockerfile'), 'FROM alpine\nCOPY . .\n');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Keeps notices apart, so a test can tell a notice from an info line. */
class NoticeHost extends MemoryHost {
  readonly notices: string[] = [];
  override notice(message: string): void {
    this.notices.push(message);
  }
}

function harness(
  raw: Record<string, string>,
  opts: { env?: Record<string, string>; cache?: ActionsCache; builders?: string[]; cachedSteps?: boolean; records?: boolean } = {},
) {
  const f: Fake = {
    calls: [],
    builders: new Set(opts.builders ?? []),
    current: 'default',
    secretsSeen: [],
    cachedSteps: opts.cachedSteps ?? false,
    records: opts.records ?? false,
  };
  const host = new NoticeHost();
  const notices = host.notices;
  const inputs = parseInputs(schema, (n) => ({ context: ctxDir, ...raw })[n]);
  validate(inputs);
  const deps: Deps = {
    buildx: new Buildx(fakeDocker(f)),
    log: host,
    mask: (s) => host.mask(s),
    env: { GITHUB_ACTIONS: 'true', GITHUB_SHA: 'a'.repeat(40), GITHUB_REF: 'refs/heads/main', ...opts.env },
    eventPayload: { repository: { default_branch: 'main' } },
    now: () => new Date('2026-11-29T00:00:00Z'),
    loadActionsCache: async () => {
      if (!opts.cache) throw new Error('actions cache loaded without need');
      return opts.cache;
    },
    tmpDir: dir,
    cacheHome: dir,
    os: 'linux',
    arch: 'x64',
  };
  return { f, host, notices, go: () => run(inputs, deps) };
}

const buildCall = (f: Fake) => f.calls.find((c) => c[1] === 'build') as string[];
const buildCalls = (f: Fake) => f.calls.filter((c) => c[1] === 'build');
const after = (args: string[], flag: string) => args.flatMap((x, i) => (args[i - 1] === flag ? [x] : []));

describe('run', () => {
  it('uses the current docker-driver builder when nothing needs more, and reports facts from the metadata file', async () => {
    const h = harness({ image: 'r.example/shop/orders', cache: 'none' });
    const r = await h.go();
    expect(r.builder).toEqual({ name: 'default', driver: 'docker' });
    expect(h.f.calls.some((c) => c[1] === 'create')).toBe(false);
    expect(r.imageId).toBe(CONFIG);
    // The classic image store has no manifest: no digest rather than the image ID under that name.
    expect(r.digest).toBe('');
    expect(r.digests).toEqual({});
    expect(r.tags).toEqual(['r.example/shop/orders:main', 'r.example/shop/orders:sha-aaaaaaa', 'r.example/shop/orders:latest']);
    expect(after(buildCall(h.f), '--tag')).toEqual(r.tags);
    expect(after(buildCall(h.f), '--label')).toContain('org.opencontainers.image.created=2026-11-29T00:00:00.000Z');
    expect(r.cache).toMatchObject({ mode: 'none', hit: false, steps: 1, cachedSteps: 0 });
  });

  it('creates the shipline docker-container builder when the cache needs one, once', async () => {
    const h = harness({ cache: 'local', 'cache-dir': join(dir, 'cache') });
    const r = await h.go();
    expect(r.builder).toEqual({ name: 'shipline', driver: 'docker-container' });
    expect(h.f.calls.filter((c) => c[1] === 'create')).toHaveLength(1);
    expect(after(buildCall(h.f), '--builder')).toEqual(['shipline']);
    expect(existsSync(join(dir, 'cache', 'index.json'))).toBe(true);
    expect(r.imageId).toBe(CONFIG);
    expect(r.digest).toBe(MANIFEST);
    expect(r.digests).toEqual({ 'linux/amd64': MANIFEST });
    expect(after(buildCall(h.f), '--cache-to')).toEqual([`type=local,dest=${join(dir, 'cache')},mode=max`]);
    const again = harness({ cache: 'local', 'cache-dir': join(dir, 'cache') }, { builders: ['shipline'], cachedSteps: true });
    const r2 = await again.go();
    expect(again.f.calls.some((c) => c[1] === 'create')).toBe(false);
    expect(after(buildCall(again.f), '--cache-from')).toEqual([`type=local,src=${join(dir, 'cache')}`]);
    expect(r2.cache.hit).toBe(true);
  });

  describe('a local cache imported into an empty builder is exported only when the build added to it', () => {
    const warm = async (o: { cachedSteps: boolean; records?: boolean }) => {
      const cacheDir = join(dir, 'cache');
      await harness({ cache: 'local', 'cache-dir': cacheDir }).go();
      const h = harness({ cache: 'local', 'cache-dir': cacheDir }, { builders: ['shipline'], ...o });
      return { h, r: await h.go(), cacheDir };
    };
    it('every step from the cache: one build, nothing exported', async () => {
      const { h, r, cacheDir } = await warm({ cachedSteps: true });
      expect(buildCalls(h.f)).toHaveLength(1);
      expect(after(buildCall(h.f), '--cache-from')).toEqual([`type=local,src=${cacheDir}`]);
      expect(after(buildCall(h.f), '--cache-to')).toEqual([]);
      expect(after(buildCall(h.f), '--output')).toEqual(['type=docker']);
      expect(h.host.log.join('')).toContain('every step came from the imported cache, so it already holds this build: not exported again');
      expect(r.cache).toMatchObject({ hit: true, steps: 1, cachedSteps: 1 });
    });
    it('a step built: a second, cache-only pass exports the cache', async () => {
      const { h, cacheDir } = await warm({ cachedSteps: false });
      const [first, second] = buildCalls(h.f) as [string[], string[]];
      expect(buildCalls(h.f)).toHaveLength(2);
      expect(after(first, '--cache-to')).toEqual([]);
      expect(after(first, '--output')).toEqual(['type=docker']);
      expect(after(second, '--output')).toEqual(['type=cacheonly']);
      expect(after(second, '--cache-to')).toEqual([`type=local,dest=${cacheDir},mode=max`]);
      expect(after(second, '--cache-from')).toEqual([`type=local,src=${cacheDir}`]);
    });
    it('a builder that holds records of its own exports in the same pass', async () => {
      const { h, cacheDir } = await warm({ cachedSteps: true, records: true });
      expect(buildCalls(h.f)).toHaveLength(1);
      expect(after(buildCall(h.f), '--cache-to')).toEqual([`type=local,dest=${cacheDir},mode=max`]);
    });
  });

  it('refuses a named docker-driver builder for a cache export', async () => {
    const h = harness({ builder: 'default', cache: 'local', 'cache-dir': join(dir, 'c') });
    await expect(h.go()).rejects.toThrow(UserError);
    await expect(h.go()).rejects.toThrow(/builder default uses the docker driver, which cannot do cache export/);
  });

  it('refuses platforms the builder cannot run before building', async () => {
    const h = harness({ platforms: 'linux/arm64', cache: 'none' });
    await expect(h.go()).rejects.toThrow(/linux\/arm64 cannot be built here: builder default runs only linux\/amd64, linux\/386/);
    expect(h.f.calls.some((c) => c[1] === 'build')).toBe(false);
  });

  it('hands secrets over as files only, masks them, and removes the files', async () => {
    const h = harness({ secrets: 'npm_token=tok-123456\nother=value-two', cache: 'none' });
    await h.go();
    expect(h.f.secretsSeen).toEqual(['tok-123456', 'value-two']);
    const args = buildCall(h.f).join(' ');
    expect(args).not.toContain('tok-123456');
    expect(after(buildCall(h.f), '--secret').map((s) => s.split(',')[0])).toEqual(['id=npm_token', 'id=other']);
    expect(readdirSync(dir).filter((n) => n.startsWith('shipline-secrets-'))).toEqual([]);
    h.host.info('echo tok-123456');
    expect(h.host.log.join('')).not.toContain('tok-123456');
  });

  it('actions mode: restores by prefix, saves under the content key, skips an unchanged cache', async () => {
    const saved: string[] = [];
    const restoreCalls: [string, string[] | undefined][] = [];
    let stored: string | undefined;
    const cache: ActionsCache = {
      isFeatureAvailable: () => true,
      restoreCache: async (paths, key, restoreKeys) => {
        restoreCalls.push([key, restoreKeys]);
        if (stored) {
          mkdirSync(paths[0] as string, { recursive: true });
          writeFileSync(join(paths[0] as string, 'index.json'), '{"manifests":["same"]}');
        }
        return stored;
      },
      saveCache: async (_paths, key) => {
        saved.push(key);
        stored = key;
        return 1;
      },
    };
    const env = { ACTIONS_CACHE_URL: 'http://127.0.0.1:1/', RUNNER_TEMP: dir };
    const first = await harness({ image: '127.0.0.1:5000/shop/orders' }, { env, cache }).go();
    expect(first.cache.mode).toBe('actions');
    expect(restoreCalls[0]?.[0]).toMatch(/^shipline-buildx-linux-orders-[0-9a-f]{12}-$/);
    expect(restoreCalls[0]?.[1]).toEqual([restoreCalls[0]?.[0]]);
    expect(saved).toHaveLength(1);
    expect(saved[0]).toMatch(new RegExp(`^${restoreCalls[0]?.[0]}[0-9a-f]{16}$`));
    expect(first.cache.savedKey).toBe(saved[0]);

    const second = harness({ image: '127.0.0.1:5000/shop/orders' }, { env, cache, builders: ['shipline'] });
    const r2 = await second.go();
    expect(r2.cache.restoredKey).toBe(saved[0]);
    expect(after(buildCall(second.f), '--cache-from')[0]).toMatch(/^type=local,src=.*buildx-actions-cache/);
    expect(saved).toHaveLength(1);
    expect(second.host.log.join('')).toMatch(/cache unchanged .* not uploaded again/);
  });

  it('actions mode where the service is missing: a notice, no cache module loaded, a plain build', async () => {
    const h = harness({ cache: 'actions' }, { env: { GITLAB_CI: 'true' } });
    const r = await h.go();
    expect(h.notices).toEqual([expect.stringMatching(/cache: actions skipped — this runner offers no Actions cache service/)]);
    expect(r.cache.mode).toBe('none');
    expect(r.builder.driver).toBe('docker');
  });

  it('a restore failure costs the cache, not the build', async () => {
    const cache: ActionsCache = {
      isFeatureAvailable: () => true,
      restoreCache: async () => {
        throw new Error('service unavailable');
      },
      saveCache: async () => 1,
    };
    const h = harness({}, { env: { ACTIONS_CACHE_URL: 'http://127.0.0.1:1/' }, cache });
    const r = await h.go();
    expect(r.cache.mode).toBe('actions');
    expect(h.host.log.join('')).toMatch(/warning: actions cache restore failed, building without it: service unavailable/);
  });
});
