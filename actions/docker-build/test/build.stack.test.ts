// The bundled docker-build against the stack's real dockerd, buildx and registry A: builds, tags and
// labels from GitHub and GitLab variables, secrets kept out of history, layers and logs, caches
// that really hit, OCI layouts that other tools read, several platforms, and clear failures.
// Builds that need more than dockerd's built-in BuildKit get the docker-container builder the
// action creates (`shipline`, from the stack's local buildkit image).
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readOciLayout } from '@shipline/oci';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docker, nodeImage, nodeServiceContext, pruneBuilder, scratchContext, tempDir } from '../../../test/support/build-contexts.ts';
import { type Run, runGitHubAction, stackLines } from '../../../test/support/run-action.ts';
import { managedBuilderName } from '../src/builder.ts';

const REGISTRY = process.env.SHIPLINE_REGISTRY ?? '127.0.0.1:5000';
const run = randomBytes(3).toString('hex');
const repo = (name: string) => `${REGISTRY}/shipline-test/db-${name}-${run}`;
const images: string[] = [];
const dirs: string[] = [];
let work: string;
let eventFile: string;
const BUILDER = managedBuilderName(process.env.DOCKER_HOST);

const sha = () => randomBytes(20).toString('hex');

function github(commit: string, ref = 'refs/heads/main'): NodeJS.ProcessEnv {
  return {
    DOCKER_HOST: process.env.DOCKER_HOST,
    RUNNER_TEMP: work,
    GITHUB_SHA: commit,
    GITHUB_REF: ref,
    GITHUB_REF_NAME: ref.replace(/^refs\/(heads|tags)\//, ''),
    GITHUB_EVENT_NAME: 'push',
    GITHUB_EVENT_PATH: eventFile,
    GITHUB_REPOSITORY: 'acme/orders',
    GITHUB_SERVER_URL: 'https://github.com',
  };
}

async function build(inputs: Record<string, string>, env: NodeJS.ProcessEnv): Promise<Run> {
  const r = await runGitHubAction('docker-build', inputs, { env, timeoutMs: 280_000 });
  for (const t of (r.outputs.tags ?? '').split('\n')) if (t) images.push(t);
  return r;
}

const errorLines = (r: Run) => r.stdout.split('\n').filter((l) => l.startsWith('::error'));
const meta = (r: Run) => JSON.parse(r.outputs.metadata ?? '{}');
const ok = (r: Run) => expect(r.code, `${r.stdout.slice(-4000)}\n${r.stderr}`).toBe(0);

beforeAll(async () => {
  work = tempDir('stack');
  dirs.push(work);
  eventFile = join(work, 'event.json');
  writeFileSync(eventFile, JSON.stringify({ repository: { default_branch: 'main' } }));
});

afterAll(async () => {
  for (const i of new Set(images)) docker(['image', 'rm', '--force', i], { allowFail: true });
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('docker-build on the local stack', () => {
  it('builds FROM scratch on the current builder, with tags and OCI labels from GitHub variables', async () => {
    const ctx = scratchContext(`hello ${run}\n`);
    dirs.push(ctx);
    const commit = sha();
    const image = repo('scratch');
    const r = await build({ context: ctx, image, cache: 'none' }, github(commit));
    ok(r);
    const short = commit.slice(0, 7);
    expect(r.outputs.tags).toBe(`${image}:main\n${image}:sha-${short}\n${image}:latest`);
    const inspected = JSON.parse(docker(['image', 'inspect', `${image}:sha-${short}`]))[0];
    expect(r.outputs['image-id']).toBe(inspected.Id);
    expect(inspected.Config.Labels).toMatchObject({
      'org.opencontainers.image.source': 'https://github.com/acme/orders',
      'org.opencontainers.image.revision': commit,
      'org.opencontainers.image.version': 'main',
    });
    expect(Date.parse(inspected.Config.Labels['org.opencontainers.image.created'])).toBeGreaterThan(Date.now() - 600_000);
    expect(meta(r).cache).toMatchObject({ mode: 'none', steps: 1 });
    expect(r.outputs['cache-hit']).toBe('false');
    expect(r.summary).toContain('| Tag |');
    expect(r.stdout).toContain('::group::Build');
  });

  it('reads GitLab variables alike: a v-tag pipeline gives semver tags and version label', async () => {
    const ctx = scratchContext(`gitlab ${run}\n`);
    dirs.push(ctx);
    const commit = sha();
    const image = repo('gitlab');
    const env = {
      DOCKER_HOST: process.env.DOCKER_HOST,
      RUNNER_TEMP: work,
      GITHUB_ACTIONS: 'false',
      GITLAB_CI: 'true',
      CI_COMMIT_SHA: commit,
      CI_COMMIT_TAG: 'v1.4.2',
      CI_DEFAULT_BRANCH: 'main',
      CI_PROJECT_URL: 'https://gitlab.example.com/acme/orders',
    };
    const r = await build(
      { context: ctx, image, tags: 'type=semver,pattern={{version}}\ntype=semver,pattern={{major}}.{{minor}}\ntype=sha\ntype=latest', cache: 'none' },
      env,
    );
    ok(r);
    expect(r.outputs.tags?.split('\n')).toEqual([`${image}:1.4.2`, `${image}:1.4`, `${image}:sha-${commit.slice(0, 7)}`]);
    const labels = JSON.parse(docker(['image', 'inspect', `${image}:1.4.2`]))[0].Config.Labels;
    expect(labels['org.opencontainers.image.version']).toBe('1.4.2');
    expect(labels['org.opencontainers.image.source']).toBe('https://gitlab.example.com/acme/orders');
  });

  it('builds a Node service with dependencies into the image store and an OCI layout; the second build with the restored cache is a cache hit', async () => {
    const ctx = nodeServiceContext();
    const cacheDir = join(work, 'node-cache');
    const layout = join(work, 'node-layout');
    dirs.push(ctx);
    const image = repo('node');
    const inputs = {
      context: ctx,
      image,
      'build-args': `BASE_IMAGE=${nodeImage()}`,
      cache: 'local',
      'cache-dir': cacheDir,
      'oci-layout': layout,
      tags: 'type=sha',
    };
    pruneBuilder(BUILDER);
    const commit = sha();
    const cold = await build(inputs, github(commit));
    ok(cold);
    expect(cold.outputs['cache-hit']).toBe('false');
    expect(meta(cold).builder).toMatchObject({ name: BUILDER, driver: 'docker-container' });
    expect(meta(cold).cache.cachedSteps).toBeLessThan(meta(cold).cache.steps);
    expect(cold.stdout).toMatch(/installed typescript \(\d+ files\)/);
    const tag = `${image}:sha-${commit.slice(0, 7)}`;
    expect(docker(['run', '--rm', '--entrypoint', 'node', tag, 'dist/server.js', '--print-config'])).toContain('service: orders');
    expect(docker(['run', '--rm', '--entrypoint', 'node', tag, '-e', "require('fs').statSync('node_modules/typescript')"], { allowFail: true })).toBe('');
    expect(JSON.parse(docker(['image', 'inspect', tag]))[0].Id).toBe(cold.outputs['image-id']);

    // The layout: index.json + blobs that @shipline/oci and skopeo both read, digests as output.
    expect(cold.outputs['oci-layout']).toBe(layout);
    expect(existsSync(join(layout, 'oci-layout'))).toBe(true);
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
    expect(index.manifests[0].digest).toBe(cold.outputs.digest);
    expect(JSON.parse(cold.outputs.digests ?? '{}')).toEqual({ 'linux/amd64': cold.outputs.digest });
    const read = await readOciLayout(layout);
    expect(read.blobs.length).toBeGreaterThanOrEqual(3);
    const skopeo = JSON.parse(execText('skopeo', ['inspect', `oci:${layout}`]));
    expect(skopeo.Digest).toBe(cold.outputs.digest);
    expect(skopeo.Labels['org.opencontainers.image.revision']).toBe(commit);
    expect(existsSync(join(cacheDir, 'index.json'))).toBe(true);

    // A fresh runner: nothing in the builder, the cache dir restored.
    pruneBuilder(BUILDER);
    docker(['image', 'rm', '--force', tag], { allowFail: true });
    const warm = await build(inputs, github(commit));
    ok(warm);
    expect(warm.outputs['cache-hit']).toBe('true');
    expect(meta(warm).cache.cachedSteps).toBe(meta(warm).cache.steps);
    expect(meta(warm).cache.steps).toBeGreaterThanOrEqual(8);
    expect(warm.stdout).not.toMatch(/installed typescript/);
    expect(docker(['run', '--rm', '--entrypoint', 'node', tag, 'dist/server.js', '--print-config'])).toContain('service: orders');
    // Nothing new: the imported cache already holds the build and is not exported again.
    expect(warm.stdout).toContain('every step came from the imported cache');
    expect(warm.stdout).not.toContain('::group::Cache export');

    // A source change on a fresh runner: dependencies from the cache, the compile step rebuilt, and
    // the cache exported by a second, cache-only pass, so the next fresh runner hits every step.
    appendFileSync(join(ctx, 'src', 'server.ts'), '\nexport const rebuilt = true;\n');
    pruneBuilder(BUILDER);
    const changed = await build(inputs, github(commit));
    ok(changed);
    expect(changed.outputs['cache-hit']).toBe('false');
    expect(changed.stdout).not.toMatch(/installed typescript/);
    expect(changed.stdout).toContain('::group::Cache export');
    expect(changed.stdout).not.toMatch(/::warning::the cache could not be exported/);
    pruneBuilder(BUILDER);
    const after = await build(inputs, github(commit));
    ok(after);
    expect(after.outputs['cache-hit']).toBe('true');
  });

  it('keeps build secrets out of image history, layers, labels and logs', async () => {
    const secret = `s3cr3t-${randomBytes(12).toString('hex')}`;
    const ctx = scratchContext(
      'x',
      [
        `FROM ${nodeImage()}`,
        `RUN --mount=type=secret,id=npm_token ["node", "-e", "const s=require('fs').readFileSync('/run/secrets/npm_token','utf8'); require('fs').writeFileSync('/token.sha256', require('crypto').createHash('sha256').update(s).digest('hex')); console.log('token length', s.length)"]`,
        // A careless step that prints the secret: the log must show it masked.
        `RUN --mount=type=secret,id=npm_token ["node", "-e", "console.log('leak:', require('fs').readFileSync('/run/secrets/npm_token','utf8'))"]`,
        '',
      ].join('\n'),
    );
    dirs.push(ctx);
    const image = repo('secret');
    const r = await build({ context: ctx, image, secrets: `npm_token=${secret}`, tags: 'type=raw,value=s', cache: 'none', 'no-cache': 'true' }, github(sha()));
    ok(r);
    const tag = `${image}:s`;
    expect(r.stdout).toContain(`token length ${secret.length}`);
    expect(r.stdout).toContain('leak: ***');
    expect(r.stdout.replace(/^::add-mask::.*$/gm, '')).not.toContain(secret);
    expect(r.stderr).not.toContain(secret);
    expect(r.outputs.metadata).not.toContain(secret);
    expect(r.summary).not.toContain(secret);
    const inImage = docker(['run', '--rm', '--entrypoint', 'node', tag, '-e', "process.stdout.write(require('fs').readFileSync('/token.sha256','utf8'))"]);
    expect(inImage).toBe(createHash('sha256').update(secret).digest('hex'));
    expect(docker(['history', '--no-trunc', tag])).not.toContain(secret);
    expect(docker(['image', 'inspect', tag])).not.toContain(secret);
    const saved = join(work, 'secret-image.tar');
    docker(['image', 'save', '--output', saved, tag]);
    expect(readFileSync(saved).includes(Buffer.from(secret))).toBe(false);
    expect(readdirSync(work).filter((n) => n.startsWith('shipline-secrets-'))).toEqual([]);
  });

  it('builds several platforms into one OCI layout with a digest per platform and an annotation', async () => {
    const ctx = scratchContext(`multi ${run}\n`);
    const layout = join(work, 'multi-layout');
    dirs.push(ctx);
    const r = await build(
      {
        context: ctx,
        platforms: 'linux/amd64,linux/amd64/v3',
        load: 'false',
        'oci-layout': layout,
        annotations: 'index,manifest:org.opencontainers.image.description=multi-platform fixture',
        cache: 'none',
      },
      github(sha()),
    );
    ok(r);
    const digests = JSON.parse(r.outputs.digests ?? '{}');
    expect(Object.keys(digests).sort()).toEqual(['linux/amd64', 'linux/amd64/v3']);
    const raw = JSON.parse(execText('skopeo', ['inspect', '--raw', `oci:${layout}`]));
    expect(raw.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(raw.annotations['org.opencontainers.image.description']).toBe('multi-platform fixture');
    expect(raw.manifests.map((m: { digest: string }) => m.digest).sort()).toEqual(Object.values(digests).sort());
    expect(r.outputs.digest).toBe(JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')).manifests[0].digest);
    expect(r.outputs['image-id']).toBe('');
  });

  it('refuses a platform the builder cannot run, naming what it can', async () => {
    const ctx = scratchContext('x', 'FROM scratch\nCOPY hello.txt /\n');
    dirs.push(ctx);
    const layout = join(work, 'never-written');
    const r = await build({ context: ctx, platforms: 'linux/amd64,linux/s390x', load: 'false', 'oci-layout': layout, cache: 'none' }, github(sha()));
    expect(r.code).toBe(1);
    const errors = errorLines(r);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(new RegExp(`input "platforms": linux/s390x cannot be built here: builder ${BUILDER} runs only linux/amd64.*install QEMU binfmt`));
    expect(stackLines(r.stdout + r.stderr)).toEqual([]);
    expect(existsSync(layout)).toBe(false);
  });

  it('uses a registry cache: a second build on an empty builder hits it; no-cache misses on purpose', async () => {
    const ctx = scratchContext(
      `registry cache ${run}\n`,
      `FROM ${nodeImage()}\nRUN ["node", "-e", "require('fs').writeFileSync('/built', String(Date.now()))"]\nCOPY hello.txt /\n`,
    );
    dirs.push(ctx);
    const cacheRef = `${repo('cache')}:buildcache`;
    const inputs = { context: ctx, image: repo('regcache'), tags: 'type=raw,value=1', 'cache-ref': cacheRef };
    pruneBuilder(BUILDER);
    const first = await build(inputs, github(sha()));
    ok(first);
    expect(meta(first).cache).toMatchObject({ mode: 'registry', hit: false });
    expect(JSON.parse(execText('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${cacheRef}`])).mediaType).toMatch(/image\.(index|manifest)/);
    pruneBuilder(BUILDER);
    const second = await build(inputs, github(sha()));
    ok(second);
    expect(second.outputs['cache-hit']).toBe('true');
    const third = await build({ ...inputs, 'no-cache': 'true' }, github(sha()));
    ok(third);
    expect(third.outputs['cache-hit']).toBe('false');
  });

  it('skips cache: actions with a notice where no cache service exists, and still builds', async () => {
    const ctx = scratchContext(`actions ${run}\n`);
    dirs.push(ctx);
    const r = await build({ context: ctx, cache: 'actions', tags: 'type=raw,value=a', image: repo('actions') }, github(sha()));
    ok(r);
    expect(r.stdout).toMatch(/^::notice::cache: actions skipped — this runner offers no Actions cache service/m);
    expect(meta(r).cache.mode).toBe('none');
  });

  it('creates a named builder that does not exist yet', async () => {
    const name = `shipline-test-${run}`;
    const ctx = scratchContext(`named ${run}\n`);
    dirs.push(ctx);
    try {
      const r = await build({ context: ctx, builder: name, load: 'false', cache: 'none' }, github(sha()));
      ok(r);
      expect(r.stdout).toContain(`creating docker-container builder ${name}`);
      expect(meta(r).builder).toEqual({ name, driver: 'docker-container' });
    } finally {
      docker(['buildx', 'rm', '--force', name], { allowFail: true });
    }
  });

  it('fails a broken build with one error naming the step, no stack trace', async () => {
    const ctx = scratchContext('x', 'FROM scratch\nCOPY missing-file.txt /\n');
    dirs.push(ctx);
    const r = await build({ context: ctx, cache: 'none' }, github(sha()));
    expect(r.code).toBe(1);
    const errors = errorLines(r);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^::error::build failed: .*missing-file\.txt/);
    expect(stackLines(r.stdout + r.stderr)).toEqual([]);
    expect(r.outputs).toEqual({});
  });
});

function execText(program: string, args: string[]): string {
  const r = spawnSync(program, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${program} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}
