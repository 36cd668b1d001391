// registry-push as a runner runs it (the bundle), against the stack's real dockerd and registries,
// with skopeo as the oracle for what the registries hold.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeOciLayout } from '../../../test/support/oci/layout.ts';
import { skopeoConfig, skopeoInspect, skopeoRaw } from '../../../test/support/oci/skopeo.ts';
import { stack } from '../../../test/support/oci/stack-env.ts';
import { runCli, runGitHubAction, stackLines } from '../../../test/support/run-action.ts';
import { closedPort } from '../../../test/support/servers.ts';

const run = `rp${process.pid}${Date.now().toString(36)}`;
const tag = `${run}-app:1`;
let imageId = '';
let diffIds: string[] = [];
let ctx = '';

const docker = (...args: string[]) => execFileSync('docker', args, { env: process.env, encoding: 'utf8' });

beforeAll(() => {
  ctx = mkdtempSync(join(tmpdir(), 'shipline-push-'));
  writeFileSync(join(ctx, 'a.txt'), `first layer ${run}\n`.repeat(2000));
  writeFileSync(join(ctx, 'b.txt'), `second layer ${run}\n`.repeat(4000));
  writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY a.txt /a.txt\nCOPY b.txt /b.txt\nLABEL test=registry-push\n');
  docker('build', '-q', '-t', tag, ctx);
  const info = JSON.parse(docker('image', 'inspect', tag))[0];
  imageId = info.Id;
  diffIds = info.RootFS.Layers;
}, 120_000);

afterAll(() => {
  try {
    docker('image', 'rm', '-f', tag);
  } catch {}
  rmSync(ctx, { recursive: true, force: true });
});

describe('registry-push from the docker image store', () => {
  it('pushes to the plain registry; skopeo sees the image ID, diff_ids and the output digest', async () => {
    const dest = `${stack.registry}/shipline-test/${run}:v1`;
    const r = await runGitHubAction('registry-push', { image: tag, destinations: dest }, { env: { DOCKER_HOST: stack.dockerHost } });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const raw = await skopeoRaw(dest);
    expect(r.outputs.digest).toBe(raw.digest);
    expect(JSON.parse(r.outputs.refs ?? '[]')).toEqual([`${dest}@${raw.digest}`]);
    const config = await skopeoConfig(dest);
    expect(config.digest).toBe(imageId);
    expect(config.json.rootfs.diff_ids).toEqual(diffIds);
    expect(Number(r.outputs['pushed-bytes'])).toBeGreaterThan(0);
    expect(r.summary).toContain('Registry push');
    expect(r.stdout).toMatch(/uploaded [\d.]+ KB/);
    // Run as root beside the daemon: the layers come from its store, not from an export.
    expect(r.stdout).toContain(`reading ${tag} from the docker store (2 layers)`);
  });

  it('docker-read: export takes the Engine API export and pushes the very same manifest', async () => {
    const first = `${stack.registry}/shipline-test/${run}:v1`;
    const dest = `${stack.registry}/shipline-test/${run}-export:v1`;
    const r = await runGitHubAction('registry-push', { image: tag, destinations: dest, 'docker-read': 'export' }, { env: { DOCKER_HOST: stack.dockerHost } });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).not.toContain('from the docker store');
    expect(r.outputs.digest).toBe((await skopeoRaw(first)).digest);
  });

  it('re-push from a fresh process uploads nothing', async () => {
    const dest = `${stack.registry}/shipline-test/${run}:v1`;
    const r = await runGitHubAction('registry-push', { image: tag, destinations: dest }, { env: { DOCKER_HOST: stack.dockerHost } });
    expect(r.code, r.stdout).toBe(0);
    expect(r.outputs['pushed-bytes']).toBe('0');
    expect(Number(r.outputs['reused-blobs'])).toBe(3);
  });

  it('pushes to both registries at once, B over TLS with auth and its CA, and masks the password', async () => {
    const a = `${stack.registry}/shipline-test/${run}-both:v2`;
    const b = `${stack.tlsRegistry}/shipline-test/${run}-both:v2`;
    const r = await runGitHubAction(
      'registry-push',
      { image: tag, destinations: `${a}\n${b}`, registry: stack.tlsRegistry, username: stack.user, password: stack.password, 'ca-file': stack.ca },
      { env: { DOCKER_HOST: stack.dockerHost } },
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const refs = JSON.parse(r.outputs.refs ?? '[]') as string[];
    expect(refs).toHaveLength(2);
    expect((await skopeoInspect(a)).Digest).toBe(r.outputs.digest);
    expect((await skopeoInspect(b)).Digest).toBe(r.outputs.digest);
    expect(r.stdout.replace(/::add-mask::.*\n/g, '')).not.toContain(stack.password);
    expect(r.summary).not.toContain(stack.password);
  });

  it('a wrong password is one clear error and nothing is pushed', async () => {
    const b = `${stack.tlsRegistry}/shipline-test/${run}-denied:v1`;
    const r = await runGitHubAction(
      'registry-push',
      { image: tag, destinations: b, username: stack.user, password: 'not-the-password', 'ca-file': stack.ca },
      { env: { DOCKER_HOST: stack.dockerHost } },
    );
    expect(r.code).toBe(1);
    const errors = r.stdout.split('\n').filter((l) => l.startsWith('::error'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/401|unauthori[sz]ed|denied|credentials/i);
    expect(stackLines(r.stdout + r.stderr)).toEqual([]);
    await expect(skopeoInspect(b)).rejects.toThrow();
  });

  it('an unknown image names the image input', async () => {
    const r = await runGitHubAction(
      'registry-push',
      { image: `${run}-nope:1`, destinations: `${stack.registry}/x/${run}:1` },
      { env: { DOCKER_HOST: stack.dockerHost } },
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/::error::input "image": image \S+ is not in the docker image store/);
  });

  it('a registry that is down fails after bounded retries, naming the endpoint', async () => {
    const port = await closedPort();
    const r = await runGitHubAction(
      'registry-push',
      { image: tag, destinations: `127.0.0.1:${port}/x/${run}:1` },
      { env: { DOCKER_HOST: stack.dockerHost }, timeoutMs: 120_000 },
    );
    expect(r.code).toBe(1);
    const errors = r.stdout.split('\n').filter((l) => l.startsWith('::error'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(`127.0.0.1:${port}`);
    expect(r.ms).toBeLessThan(90_000);
  });
});

describe('registry-push from an OCI layout', () => {
  it('keeps the layout manifest digest, byte for byte', async () => {
    const fx = await makeOciLayout(mkdtempSync(join(tmpdir(), 'shipline-layout-')), [{ layers: [200_000, 50_000] }]);
    try {
      const dest = `${stack.registry}/shipline-test/${run}-layout:v1`;
      const r = await runCli(['registry-push', '--oci-layout', fx.dir, '--destinations', dest]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.outputs.digest).toBe(fx.rootDigest);
      expect((await skopeoRaw(dest)).digest).toBe(fx.rootDigest);
    } finally {
      rmSync(fx.dir, { recursive: true, force: true });
    }
  });
});
