import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fixture, makeOciLayout } from '../../../test/support/oci/layout.ts';
import { startTokenRegistry, type TokenRegistry } from '../../../test/support/oci/token-registry.ts';
import { createCredentialSource } from './docker-config.ts';
import { RegistryError } from './errors.ts';
import { ociLayoutSource } from './layout.ts';
import { pushImage } from './push.ts';

let reg: TokenRegistry;
let work: string;
let fx: Fixture;

beforeAll(async () => {
  reg = await startTokenRegistry();
  work = await mkdtemp(path.join(tmpdir(), 'oci-bearer-'));
  fx = await makeOciLayout(path.join(work, 'img'), [{ layers: [200_000, 50_000] }]);
});
afterAll(async () => {
  await reg?.stop();
  await rm(work, { recursive: true, force: true });
});

async function skopeoDigest(ref: string, user: string, password: string): Promise<string> {
  const authfile = path.join(work, 'skopeo-auth.json');
  await writeFile(authfile, JSON.stringify({ auths: { [reg.address]: { auth: Buffer.from(`${user}:${password}`).toString('base64') } } }), { mode: 0o600 });
  return new Promise((resolve, reject) => {
    execFile('skopeo', ['inspect', '--tls-verify=false', '--authfile', authfile, `docker://${ref}`], (err, stdout, stderr) => {
      if (err) reject(new Error(stderr));
      else resolve((JSON.parse(stdout) as { Digest: string }).Digest);
    });
  });
}

describe('Bearer token flow against a registry in token-auth mode', () => {
  it('fetches a token with basic credentials, once per scope, and pushes', async () => {
    reg.tokenRequests.length = 0;
    const secrets: string[] = [];
    const ref = `${reg.address}/team/bearer:1`;
    const result = await pushImage({
      source: await ociLayoutSource(fx.dir),
      destinations: [ref],
      credentials: createCredentialSource({ explicit: { [reg.address]: { username: reg.user, password: reg.password } }, dockerConfigPath: false }),
      onSecret: (s) => secrets.push(s),
    });
    expect(result.digest).toBe(fx.rootDigest);
    // Every request shared one cached token for repository:team/bearer:pull,push.
    expect(reg.tokenRequests).toEqual([{ method: 'GET', scopes: ['repository:team/bearer:pull,push'], grant: 'basic' }]);
    expect(secrets).toContain(reg.password);
    expect(secrets.some((s) => s.split('.').length === 3)).toBe(true);
    expect(await skopeoDigest(ref, reg.user, reg.password)).toBe(fx.rootDigest);
  });

  it('asks for pull on the source repository when mounting across repositories', async () => {
    reg.tokenRequests.length = 0;
    const result = await pushImage({
      source: await ociLayoutSource(fx.dir),
      destinations: [`${reg.address}/team/mount-a:1`, `${reg.address}/team/mount-b:1`],
      credentials: createCredentialSource({ explicit: { [reg.address]: { username: reg.user, password: reg.password } }, dockerConfigPath: false }),
    });
    expect(result.uploadedBlobs + result.reusedBlobs).toBe(6);
    const scopes = reg.tokenRequests.map((r) => r.scopes.join(' '));
    expect(scopes).toContain('repository:team/mount-a:pull,push');
    expect(scopes.some((s) => /repository:team\/mount-[ab]:pull,push repository:team\/mount-[ab]:pull/.test(s))).toBe(true);
  });

  it('uses an identity token (OAuth2 refresh grant) from docker config.json', async () => {
    reg.tokenRequests.length = 0;
    const cfg = path.join(work, 'config.json');
    await writeFile(cfg, JSON.stringify({ auths: { [reg.address]: { identitytoken: reg.refreshToken } } }));
    const result = await pushImage({
      source: await ociLayoutSource(fx.dir),
      destinations: [`${reg.address}/team/idtoken:1`],
      credentials: createCredentialSource({ dockerConfigPath: cfg }),
    });
    expect(result.digest).toBe(fx.rootDigest);
    expect(reg.tokenRequests[0]).toEqual({ method: 'POST', scopes: ['repository:team/idtoken:pull,push'], grant: 'refresh_token' });
  });

  it('a wrong password fails at the token service, before any upload', async () => {
    reg.tokenRequests.length = 0;
    const err = await pushImage({
      source: await ociLayoutSource(fx.dir),
      destinations: [`${reg.address}/team/denied:1`],
      credentials: createCredentialSource({ explicit: { [reg.address]: { username: reg.user, password: 'nope' } }, dockerConfigPath: false }),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as Error).message).toMatch(/authentication to 127\.0\.0\.1:\d+ failed: the token service http:\/\/127\.0\.0\.1:\d+\/token answered 401/);
    expect((err as RegistryError).hint).toMatch(/username and password/);
    expect(reg.tokenRequests).toHaveLength(1);
  });
});
