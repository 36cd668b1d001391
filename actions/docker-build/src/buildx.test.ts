// Argument arrays for docker buildx, and parsing of what buildx prints about builders.
import { describe, expect, it } from 'vitest';
import { type BuildOptions, Buildx, needsContainerDriver, normalizePlatform, unsupportedPlatforms } from './buildx.ts';

const { buildArgs, createArgs, parseInspect } = Buildx;

const base: BuildOptions = {
  context: 'app',
  file: undefined,
  target: undefined,
  buildArgs: [],
  secretFiles: [],
  labels: {},
  annotations: [],
  tags: [],
  noCache: false,
  pull: false,
  platforms: [],
  builder: undefined,
  cache: { type: 'none' },
  load: true,
  ociLayout: undefined,
  metadataFile: '/tmp/m.json',
};

describe('buildArgs', () => {
  it('builds the minimal command', () => {
    expect(buildArgs(base)).toEqual([
      'buildx',
      'build',
      '--progress',
      'rawjson',
      '--metadata-file',
      '/tmp/m.json',
      '--provenance',
      'false',
      '--sbom',
      'false',
      '--output',
      'type=docker',
      'app',
    ]);
  });

  it('passes every option as its own argument, values untouched by any shell', () => {
    const a = buildArgs({
      ...base,
      builder: 'shipline',
      file: 'app/Dockerfile.prod',
      target: 'runtime',
      buildArgs: [
        { name: 'BASE_IMAGE', value: '127.0.0.1:5000/shipline/node:24' },
        { name: 'GREETING', value: 'hello $(whoami) `id`; rm -rf /' },
      ],
      secretFiles: [{ id: 'npm_token', path: '/tmp/s/secret-0' }],
      labels: { 'org.opencontainers.image.revision': 'abc', team: 'shop, orders' },
      annotations: ['manifest:org.opencontainers.image.description=Orders'],
      tags: ['r/orders:main', 'r/orders:sha-abc1234'],
      noCache: true,
      pull: true,
      platforms: ['linux/amd64', 'linux/386'],
    });
    expect(a.slice(0, 4)).toEqual(['buildx', 'build', '--builder', 'shipline']);
    const pairs = (flag: string) => a.flatMap((x, i) => (x === flag ? [a[i + 1]] : []));
    expect(pairs('--file')).toEqual(['app/Dockerfile.prod']);
    expect(pairs('--target')).toEqual(['runtime']);
    expect(pairs('--build-arg')).toEqual(['BASE_IMAGE=127.0.0.1:5000/shipline/node:24', 'GREETING=hello $(whoami) `id`; rm -rf /']);
    expect(pairs('--secret')).toEqual(['id=npm_token,src=/tmp/s/secret-0']);
    expect(pairs('--label')).toEqual(['org.opencontainers.image.revision=abc', 'team=shop, orders']);
    expect(pairs('--annotation')).toEqual(['manifest:org.opencontainers.image.description=Orders']);
    expect(pairs('--tag')).toEqual(['r/orders:main', 'r/orders:sha-abc1234']);
    expect(pairs('--platform')).toEqual(['linux/amd64,linux/386']);
    expect(a).toContain('--no-cache');
    expect(a).toContain('--pull');
    expect(a.at(-1)).toBe('app');
  });

  it('never puts a secret value in the arguments', () => {
    const a = buildArgs({ ...base, secretFiles: [{ id: 'tok', path: '/tmp/x/secret-0' }] });
    expect(a.join(' ')).not.toMatch(/value|env=/);
  });

  it('quotes CSV fields that hold commas', () => {
    const a = buildArgs({ ...base, secretFiles: [{ id: 'a', path: '/tmp/odd,dir/secret-0' }], load: false, ociLayout: '/out/lay"out' });
    expect(a).toContain('id=a,"src=/tmp/odd,dir/secret-0"');
    expect(a).toContain('type=oci,"dest=/out/lay""out",tar=false');
  });

  it('local cache: import only when there is one, export mode=max to the fresh dir', () => {
    const cold = buildArgs({ ...base, cache: { type: 'local', dest: '/c.next' } });
    expect(cold).not.toContain('--cache-from');
    expect(cold[cold.indexOf('--cache-to') + 1]).toBe('type=local,dest=/c.next,mode=max');
    const warm = buildArgs({ ...base, cache: { type: 'local', src: '/c', dest: '/c.next' } });
    expect(warm[warm.indexOf('--cache-from') + 1]).toBe('type=local,src=/c');
  });

  it('import-only builds leave out --cache-to; a cache-only pass writes no image', () => {
    const importOnly = buildArgs({ ...base, cache: { type: 'local', src: '/c', dest: '/c' }, cacheExport: false });
    expect(importOnly).toContain('--cache-from');
    expect(importOnly).not.toContain('--cache-to');
    const exportOnly = buildArgs({ ...base, ociLayout: '/out/layout', cache: { type: 'local', src: '/c', dest: '/c' }, cacheOnly: true });
    expect(exportOnly[exportOnly.indexOf('--cache-to') + 1]).toBe('type=local,dest=/c,mode=max');
    expect(exportOnly.filter((_x, i) => exportOnly[i - 1] === '--output')).toEqual(['type=cacheonly']);
    expect(exportOnly.at(-1)).toBe(base.context);
  });

  it('registry cache: same ref both ways, insecure only for loopback', () => {
    const a = buildArgs({ ...base, cache: { type: 'registry', ref: '127.0.0.1:5000/c:cache', insecure: true } });
    expect(a[a.indexOf('--cache-from') + 1]).toBe('type=registry,ref=127.0.0.1:5000/c:cache,registry.insecure=true');
    expect(a[a.indexOf('--cache-to') + 1]).toBe(
      'type=registry,ref=127.0.0.1:5000/c:cache,mode=max,image-manifest=true,oci-mediatypes=true,registry.insecure=true',
    );
    const b = buildArgs({ ...base, cache: { type: 'registry', ref: 'ghcr.io/a/c:cache', insecure: false } });
    expect(b.join(' ')).not.toContain('insecure');
  });

  it('loads and writes a layout at once, or only one of them', () => {
    const both = buildArgs({ ...base, ociLayout: '/out/layout' });
    expect(both.filter((_x, i) => both[i - 1] === '--output')).toEqual(['type=docker', 'type=oci,dest=/out/layout,tar=false']);
    const layoutOnly = buildArgs({ ...base, load: false, ociLayout: '/out/layout' });
    expect(layoutOnly.filter((_x, i) => layoutOnly[i - 1] === '--output')).toEqual(['type=oci,dest=/out/layout,tar=false']);
  });

  it('creates a docker-container builder on the host network from the given image', () => {
    expect(createArgs({ name: 'shipline', image: 'moby/buildkit:buildx-stable-1' })).toEqual([
      'buildx',
      'create',
      '--name',
      'shipline',
      '--driver',
      'docker-container',
      '--driver-opt',
      'image=moby/buildkit:buildx-stable-1',
      '--driver-opt',
      'network=host',
      '--bootstrap',
    ]);
  });
});

describe('builder facts', () => {
  const container = `Name:          shipline
Driver:        docker-container
Last Activity: 2026-11-29 00:40:00 +0000 UTC

Nodes:
Name:                  shipline0
Endpoint:              unix:///run/docker.sock
Driver Options:        image="moby/buildkit:buildx-stable-1" network="host"
Status:                running
BuildKit daemon flags: --allow-insecure-entitlement=network.host
BuildKit version:      v0.34.2
Platforms:             linux/amd64, linux/amd64/v2, linux/amd64/v3, linux/386
Labels:
 org.mobyproject.buildkit.worker.executor:    oci
`;
  const docker = `Name:   default
Driver: docker

Nodes:
Name:      default
Endpoint:  default
Status:    running
Buildkit:  20.10.24
Platforms: linux/amd64, linux/386
`;

  it('parses a docker-container builder', () => {
    expect(parseInspect(container)).toEqual({
      name: 'shipline',
      driver: 'docker-container',
      status: 'running',
      platforms: ['linux/amd64', 'linux/amd64/v2', 'linux/amd64/v3', 'linux/386'],
      buildkitVersion: 'v0.34.2',
    });
  });

  it('parses the docker driver of an older dockerd', () => {
    expect(parseInspect(docker)).toMatchObject({ name: 'default', driver: 'docker', buildkitVersion: '20.10.24', platforms: ['linux/amd64', 'linux/386'] });
  });

  it('reads platforms marked as configured (*)', () => {
    expect(parseInspect(container.replace('linux/386', 'linux/arm64*'))?.platforms).toContain('linux/arm64');
  });

  it('gives undefined for text that is not a builder', () => expect(parseInspect('ERROR: no builder "x" found')).toBeUndefined());

  const platformCases: [string[], string[], string[]][] = [
    [['linux/amd64'], ['linux/amd64', 'linux/386'], []],
    [['linux/amd64', 'linux/arm64'], ['linux/amd64', 'linux/386'], ['linux/arm64']],
    [['linux/x86_64'], ['linux/amd64'], []],
    [['linux/amd64/v2'], ['linux/amd64', 'linux/amd64/v2'], []],
    [['linux/arm64/v8'], ['linux/arm64'], []],
    [['linux/arm'], ['linux/arm/v7', 'linux/arm/v6'], []],
    [['linux/arm/v7'], ['linux/arm/v6'], ['linux/arm/v7']],
    [['windows/amd64'], ['linux/amd64'], ['windows/amd64']],
  ];
  it.each(platformCases)('platforms %j on a builder with %j lack %j', (asked, have, missing) => {
    expect(unsupportedPlatforms(asked, have)).toEqual(missing);
  });

  it('normalises platform spellings', () => {
    expect(normalizePlatform('Linux/AMD64/v1')).toBe('linux/amd64');
    expect(normalizePlatform('linux/aarch64')).toBe('linux/arm64');
  });

  it('names what needs a docker-container builder', () => {
    const none = { cacheExport: false, ociLayout: false, multiPlatform: false, annotations: false };
    expect(needsContainerDriver(none)).toBeUndefined();
    expect(needsContainerDriver({ ...none, cacheExport: true })).toBe('cache export');
    expect(needsContainerDriver({ ...none, ociLayout: true })).toBe('an OCI layout output');
    expect(needsContainerDriver({ ...none, multiPlatform: true })).toBe('several platforms');
    expect(needsContainerDriver({ ...none, annotations: true })).toBe('annotations');
  });
});

// The v0.38.2 and "no builder" lines are captured from this machine's docker CLI (buildx built from
// its Go module); the second version line has the shape of a distribution build (no leading v).
describe('buildx version and inspect', () => {
  it('reads the version of a Go-built plugin and of a Debian-packaged one', () => {
    expect(Buildx.parseVersion('github.com/docker/buildx v0.38.2 pinned\n')).toBe('v0.38.2');
    expect(Buildx.parseVersion('github.com/docker/buildx 0.13.1+ds1-3 0.13.1+ds1-3\n')).toBe('0.13.1+ds1-3');
  });

  it('tells an unknown builder from another failure of inspect', () => {
    expect(Buildx.isUnknownBuilder('ERROR: no builder "nonexistent-shape-xyz" found\n')).toBe(true);
    expect(Buildx.isUnknownBuilder('ERROR: Cannot connect to the Docker daemon at unix:///run/docker.sock. Is the docker daemon running?\n')).toBe(false);
  });

  it('asks for the current builder without a name, and boots a named one on request', () => {
    expect(Buildx.inspectArgs()).toEqual(['buildx', 'inspect']);
    expect(Buildx.inspectArgs({ name: 'shipline', bootstrap: true })).toEqual(['buildx', 'inspect', '--bootstrap', 'shipline']);
  });
});
