// Cache modes, Actions cache keys and the local cache directory swap.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { actionsCacheConfigured, actionsKeys, chooseMode, localCacheSpec, pruneLocalCache, registryCacheSpec, saveKey } from './cache.ts';
import { writeSecretFiles } from './secrets.ts';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'shipline-cache-test-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('chooseMode', () => {
  const cases: [string, Parameters<typeof chooseMode>, string, boolean][] = [
    ['auto on GitHub', ['auto', { actionsAvailable: true, cacheRef: 'r/c:x' }], 'actions', false],
    ['auto on GitLab with a ref', ['auto', { actionsAvailable: false, cacheRef: 'r/c:x', cacheDir: 'd' }], 'registry', false],
    ['auto on GitLab with a dir', ['auto', { actionsAvailable: false, cacheDir: '.buildx-cache' }], 'local', false],
    ['auto with nothing', ['auto', { actionsAvailable: false }], 'none', false],
    ['actions where available', ['actions', { actionsAvailable: true }], 'actions', false],
    ['actions on GitLab: skipped with a notice', ['actions', { actionsAvailable: false }], 'none', true],
    ['registry as asked', ['registry', { actionsAvailable: true, cacheRef: 'r/c:x' }], 'registry', false],
    ['local as asked', ['local', { actionsAvailable: true, cacheDir: 'd' }], 'local', false],
    ['none as asked', ['none', { actionsAvailable: true }], 'none', false],
  ];
  it.each(cases)('%s', (_n, args, mode, notice) => {
    const c = chooseMode(...args);
    expect(c.mode).toBe(mode);
    expect(c.notice !== undefined).toBe(notice);
  });

  it('says where the cache service is missing in the notice', () => {
    expect(chooseMode('actions', { actionsAvailable: false }).notice).toMatch(/no Actions cache service .*e\.g\. GitLab/);
  });
});

describe('actionsCacheConfigured (as @actions/cache decides it)', () => {
  it.each([
    [{}, false],
    [{ ACTIONS_CACHE_URL: 'http://127.0.0.1:1234/' }, true],
    [{ ACTIONS_CACHE_SERVICE_V2: 'true', ACTIONS_CACHE_URL: 'http://x/' }, false],
    [{ ACTIONS_CACHE_SERVICE_V2: 'true', ACTIONS_RESULTS_URL: 'https://results/' }, true],
    [{ GITLAB_CI: 'true', CI_COMMIT_SHA: 'abc' }, false],
  ] as [Record<string, string>, boolean][])('%j → %s', (env, available) => expect(actionsCacheConfigured(env)).toBe(available));
});

describe('Actions cache keys', () => {
  const k = (o: Partial<Parameters<typeof actionsKeys>[0]> = {}) =>
    actionsKeys({ os: 'linux', file: 'Dockerfile', platforms: [], image: '127.0.0.1:5000/shop/orders', ...o });

  it('names the image and hashes what makes a build different', () => {
    const { prefix, restoreKeys } = k();
    expect(prefix).toMatch(/^shipline-buildx-linux-orders-[0-9a-f]{12}-$/);
    expect(restoreKeys).toEqual([prefix]);
  });

  it('is stable for the same build and differs for another Dockerfile, target or platform set', () => {
    expect(k().prefix).toBe(k().prefix);
    expect(k({ file: 'other/Dockerfile' }).prefix).not.toBe(k().prefix);
    expect(k({ target: 'test' }).prefix).not.toBe(k().prefix);
    expect(k({ platforms: ['linux/arm64'] }).prefix).not.toBe(k().prefix);
    expect(k({ platforms: ['linux/amd64', 'linux/386'] }).prefix).toBe(k({ platforms: ['linux/386', 'linux/AMD64'] }).prefix);
  });

  it('uses cache-scope as given', () => expect(k({ scope: 'Orders_API' }).prefix).toBe('shipline-buildx-linux-orders_api-'));

  it('keys a save by the content of the cache index', () => {
    const d = tmp();
    expect(saveKey('p-', d)).toBeUndefined();
    writeFileSync(join(d, 'index.json'), '{"manifests":[1]}');
    const a = saveKey('p-', d);
    expect(a).toMatch(/^p-[0-9a-f]{16}$/);
    expect(saveKey('p-', d)).toBe(a);
    writeFileSync(join(d, 'index.json'), '{"manifests":[2]}');
    expect(saveKey('p-', d)).not.toBe(a);
  });
});

describe('local cache directory', () => {
  it('imports only an existing cache and exports into the same directory', () => {
    const d = join(tmp(), 'cache');
    expect(localCacheSpec(d).spec).toEqual({ type: 'local', dest: d });
    mkdirSync(d);
    writeFileSync(join(d, 'index.json'), '{}');
    expect(localCacheSpec(d).spec).toEqual({ type: 'local', src: d, dest: d });
  });

  it('removes the blobs the new index no longer reaches, keeps every one it does', () => {
    const d = join(tmp(), 'cache');
    const blobs = join(d, 'blobs', 'sha256');
    mkdirSync(blobs, { recursive: true });
    const put = (content: string | Buffer) => {
      const hex = createHash('sha256').update(content).digest('hex');
      writeFileSync(join(blobs, hex), content);
      return `sha256:${hex}`;
    };
    const layer = put(Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3]));
    const staleLayer = put(Buffer.from([0x1f, 0x8b, 8, 0, 9, 9, 9]));
    const config = put(JSON.stringify({ layers: [{ blob: layer, parent: -1 }], records: [{ digest: `sha256:${'e'.repeat(64)}` }] }));
    const manifest = put(JSON.stringify({ config: { mediaType: 'application/vnd.buildkit.cacheconfig.v0', digest: config }, layers: [{ digest: layer }] }));
    const staleManifest = put(JSON.stringify({ layers: [{ digest: staleLayer }] }));
    writeFileSync(join(d, 'index.json'), JSON.stringify({ manifests: [{ digest: manifest }] }));
    expect(pruneLocalCache(d)).toEqual({ removed: 2 });
    const left = readdirSync(blobs)
      .map((n) => `sha256:${n}`)
      .sort();
    expect(left).toEqual([layer, config, manifest].sort());
    expect(left).not.toContain(staleManifest);
    expect(pruneLocalCache(d)).toEqual({ removed: 0 });
  });

  it('leaves a directory without a cache alone', () => {
    const d = tmp();
    writeFileSync(join(d, 'keep'), 'x');
    expect(pruneLocalCache(d)).toEqual({ removed: 0 });
    expect(existsSync(join(d, 'keep'))).toBe(true);
  });
});

describe('registry cache', () => {
  it('is insecure (plain HTTP) only on loopback', () => {
    expect(registryCacheSpec('127.0.0.1:5000/shop/orders:cache')).toEqual({ type: 'registry', ref: '127.0.0.1:5000/shop/orders:cache', insecure: true });
    expect(registryCacheSpec('localhost:5000/c:x')).toMatchObject({ insecure: true });
    expect(registryCacheSpec('registry.example.com/shop/orders:cache')).toMatchObject({ insecure: false });
  });
});

describe('secret files', () => {
  it('writes each value to a 0600 file in a 0700 dir and removes them', () => {
    const parent = tmp();
    const s = writeSecretFiles(
      [
        { id: 'npm_token', value: 's3cr3t-value' },
        { id: 'odd id=,x', value: 'two\nlines' },
      ],
      parent,
    );
    expect(s.files.map((f) => f.id)).toEqual(['npm_token', 'odd id=,x']);
    expect(statSync(s.dir as string).mode & 0o777).toBe(0o700);
    for (const f of s.files) {
      expect(statSync(f.path).mode & 0o777).toBe(0o600);
      expect(f.path).not.toContain('npm_token');
    }
    expect(readFileSync(s.files[1]?.path as string, 'utf8')).toBe('two\nlines');
    s.remove();
    expect(existsSync(s.dir as string)).toBe(false);
    s.remove();
  });

  it('makes no directory when there are no secrets', () => {
    const s = writeSecretFiles([], tmp());
    expect(s.dir).toBeUndefined();
    expect(s.files).toEqual([]);
  });
});
