import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  configKeyFor,
  createCredentialSource,
  credentialFromDockerConfig,
  defaultDockerConfigPath,
  type HelperRunner,
  normaliseConfigKey,
} from './docker-config.ts';
import { OciError } from './errors.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'oci-dockercfg-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('docker config.json', () => {
  it('normalises auth keys', () => {
    expect(normaliseConfigKey('https://index.docker.io/v1/')).toBe('docker.io');
    expect(normaliseConfigKey('registry-1.docker.io')).toBe('docker.io');
    expect(normaliseConfigKey('http://127.0.0.1:5000')).toBe('127.0.0.1:5000');
    expect(normaliseConfigKey('https://GHCR.io/v2/')).toBe('ghcr.io');
    expect(configKeyFor('docker.io')).toBe('https://index.docker.io/v1/');
    expect(configKeyFor('ghcr.io')).toBe('ghcr.io');
  });

  it('decodes base64 auth, username/password and identity tokens', async () => {
    const config = {
      auths: {
        'https://index.docker.io/v1/': { auth: b64('hubuser:hub:pass') },
        'ghcr.io': { username: 'u', password: 'p' },
        'https://quay.io': { identitytoken: 'refresh-me' },
        'empty.io': {},
      },
    };
    expect(await credentialFromDockerConfig(config, 'docker.io')).toEqual({ kind: 'basic', username: 'hubuser', password: 'hub:pass' });
    expect(await credentialFromDockerConfig(config, 'ghcr.io')).toEqual({ kind: 'basic', username: 'u', password: 'p' });
    expect(await credentialFromDockerConfig(config, 'quay.io')).toEqual({ kind: 'identity-token', token: 'refresh-me' });
    expect(await credentialFromDockerConfig(config, 'empty.io')).toBeUndefined();
    expect(await credentialFromDockerConfig(config, 'other.io')).toBeUndefined();
  });

  it('rejects auth that does not decode to user:password', async () => {
    await expect(credentialFromDockerConfig({ auths: { 'x.io': { auth: b64('nocolon') } } }, 'x.io')).rejects.toBeInstanceOf(OciError);
  });

  it('asks credHelpers first, then credsStore, with argument arrays and the server on stdin', async () => {
    const calls: Array<[string, string[], string]> = [];
    const run: HelperRunner = async (program, args, stdin) => {
      calls.push([program, args, stdin]);
      if (program === 'docker-credential-ecr') return { stdout: JSON.stringify({ Username: 'AWS', Secret: 'ecr-secret' }), stderr: '', code: 0 };
      if (stdin === 'https://index.docker.io/v1/') return { stdout: JSON.stringify({ Username: '<token>', Secret: 'idtok' }), stderr: '', code: 0 };
      return { stdout: 'credentials not found in native keychain\n', stderr: '', code: 1 };
    };
    const config = { credsStore: 'desktop', credHelpers: { '123.dkr.ecr.aws': 'ecr' }, auths: { 'ghcr.io': { auth: b64('a:b') } } };
    expect(await credentialFromDockerConfig(config, '123.dkr.ecr.aws', run)).toEqual({ kind: 'basic', username: 'AWS', password: 'ecr-secret' });
    expect(await credentialFromDockerConfig(config, 'docker.io', run)).toEqual({ kind: 'identity-token', token: 'idtok' });
    // Not in the store: fall back to the inline auth.
    expect(await credentialFromDockerConfig(config, 'ghcr.io', run)).toEqual({ kind: 'basic', username: 'a', password: 'b' });
    expect(calls).toEqual([
      ['docker-credential-ecr', ['get'], '123.dkr.ecr.aws'],
      ['docker-credential-desktop', ['get'], 'https://index.docker.io/v1/'],
      ['docker-credential-desktop', ['get'], 'ghcr.io'],
    ]);
  });

  it('runs a real helper program from PATH', async () => {
    const helper = path.join(dir, 'docker-credential-shiptest');
    // The helper echoes what it read on stdin, proving the server URL arrived there.
    await writeFile(helper, '#!/bin/sh\nread server\nprintf \'{"ServerURL":"%s","Username":"user-%s","Secret":"s3cret"}\' "$server" "$1"\n');
    await chmod(helper, 0o755);
    const oldPath = process.env.PATH;
    process.env.PATH = `${dir}:${oldPath}`;
    try {
      const cred = await credentialFromDockerConfig({ credHelpers: { '127.0.0.1:5000': 'shiptest' } }, '127.0.0.1:5000');
      expect(cred).toEqual({ kind: 'basic', username: 'user-get', password: 's3cret' });
      await expect(credentialFromDockerConfig({ credsStore: 'missing-helper-xyz' }, 'ghcr.io')).rejects.toThrow(
        /docker-credential-missing-helper-xyz is not installed/,
      );
    } finally {
      process.env.PATH = oldPath;
    }
  });

  it('refuses helper names that could escape the program name', async () => {
    await expect(credentialFromDockerConfig({ credsStore: '../../bin/sh' }, 'x.io')).rejects.toThrow(/invalid/);
  });

  it('explicit credentials win; config read from DOCKER_CONFIG', async () => {
    const cfgDir = path.join(dir, 'cfg');
    await rm(cfgDir, { recursive: true, force: true });
    await import('node:fs/promises').then((fs) => fs.mkdir(cfgDir));
    await writeFile(path.join(cfgDir, 'config.json'), JSON.stringify({ auths: { 'reg.io': { auth: b64('file:pw') }, 'other.io': { auth: b64('o:p') } } }));
    const env = { DOCKER_CONFIG: cfgDir };
    expect(defaultDockerConfigPath(env)).toBe(path.join(cfgDir, 'config.json'));
    const source = createCredentialSource({ explicit: { 'https://reg.io': { username: 'cli', password: 'x' } }, env });
    expect(await source('reg.io')).toEqual({ kind: 'basic', username: 'cli', password: 'x' });
    expect(await source('other.io')).toEqual({ kind: 'basic', username: 'o', password: 'p' });
    expect(await source('none.io')).toBeUndefined();
    expect(await createCredentialSource({ env: { DOCKER_CONFIG: path.join(dir, 'nope') } })('reg.io')).toBeUndefined();
  });

  it('names a broken config file', async () => {
    const file = path.join(dir, 'bad.json');
    await writeFile(file, '{not json');
    await expect(createCredentialSource({ dockerConfigPath: file })('x.io')).rejects.toThrow(/bad\.json is not valid JSON/);
  });
});
