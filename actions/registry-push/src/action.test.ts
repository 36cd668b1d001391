import { UserError } from '@shipline/kit';
import { CaFileError, OciError, RegistryTlsError } from '@shipline/oci';
import { describe, expect, it } from 'vitest';
import { asUserError } from './action.ts';

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
