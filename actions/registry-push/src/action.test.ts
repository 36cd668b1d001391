import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '@shipline/kit';
import { CaFileError, OciError, RegistryTlsError } from '@shipline/oci';
import { afterAll, describe, expect, it } from 'vitest';
import { asUserError, validateFiles } from './action.ts';

// The library raises typed errors without naming inputs; the adapter alone decides which input
// to blame and what to tell the user.
describe('library errors mapped to inputs', () => {
  it('an unreadable CA file blames ca-file', () => {
    const e = asUserError(new CaFileError('/etc/ca.pem', { cause: new Error('EACCES: permission denied') }));
    expect(e).toBeInstanceOf(UserError);
    expect(e).toMatchObject({ input: 'ca-file', message: expect.stringContaining('cannot read CA file /etc/ca.pem: EACCES') });
    expect((e as UserError).hint).toMatch(/point ca-file at a readable PEM file/);
  });

  it('a failed TLS handshake points at ca-file and insecure-registries', () => {
    const e = asUserError(new RegistryTlsError('reg:5443', 'self-signed certificate', { endpoint: 'https://reg:5443/v2/' }));
    expect(e).toBeInstanceOf(UserError);
    expect((e as UserError).hint).toBe("pass the registry's CA with ca-file, or list reg:5443 in insecure-registries if it speaks plain HTTP");
  });

  it('other OciErrors keep their hint and take the input they came from; anything else passes through', () => {
    expect(asUserError(new OciError('image app:1 is not in the docker image store', 'build it first'), 'image')).toMatchObject({
      input: 'image',
      hint: 'build it first',
    });
    const bug = new TypeError('x is undefined');
    expect(asUserError(bug)).toBe(bug);
  });
});

// Found by the bad-input corpus (issue 14): these were read only when a push needed them.
describe('files and the daemon address are checked before the push', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shipline-push-files-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const blame = (f: () => void) => {
    try {
      f();
    } catch (e) {
      return e as UserError;
    }
    return undefined;
  };

  it('a ca-file without a PEM certificate blames ca-file', () => {
    expect(blame(() => validateFiles({ 'ca-file': file('ca.txt', 'not a cert\n') }))).toMatchObject({
      input: 'ca-file',
      message: expect.stringMatching(/holds no PEM/),
    });
    expect(blame(() => validateFiles({ 'ca-file': file('ca.pem', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n') }))).toBeUndefined();
  });

  it('a docker-config that is not a JSON object blames docker-config without quoting the file', () => {
    const e = blame(() => validateFiles({ 'docker-config': file('config.yaml', 'auths: {"r": {auth: "c2VjcmV0LXZhbHVl"}}\n') }));
    expect(e).toMatchObject({ input: 'docker-config', message: expect.stringMatching(/is not a docker config\.json/) });
    expect(`${e?.message} ${e?.hint}`).not.toContain('c2VjcmV0LXZhbHVl');
    expect(blame(() => validateFiles({ 'docker-config': file('array.json', '[]') }))?.input).toBe('docker-config');
    expect(blame(() => validateFiles({ 'docker-config': file('config.json', '{"auths":{}}') }))).toBeUndefined();
  });

  it('an unsupported docker-host blames docker-host', () => {
    expect(blame(() => validateFiles({ 'docker-host': 'bogus://x' }))).toMatchObject({ input: 'docker-host', message: expect.stringMatching(/not supported/) });
    expect(blame(() => validateFiles({ 'docker-host': 'unix:///var/run/docker.sock' }))).toBeUndefined();
  });
});
