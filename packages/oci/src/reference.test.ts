import { describe, expect, it } from 'vitest';
import { InvalidReferenceError, OciError } from './errors.ts';
import { familiarReference, formatReference, isLoopbackRegistry, matchesRepository, parseReference, sameRepository } from './reference.ts';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseReference: valid references', () => {
  const cases: Array<[string, string]> = [
    ['nginx', 'docker.io/library/nginx:latest'],
    ['nginx:1.25', 'docker.io/library/nginx:1.25'],
    ['library/nginx', 'docker.io/library/nginx:latest'],
    ['team/app', 'docker.io/team/app:latest'],
    ['docker.io/nginx', 'docker.io/library/nginx:latest'],
    ['index.docker.io/nginx:1', 'docker.io/library/nginx:1'],
    ['registry-1.docker.io/team/app', 'docker.io/team/app:latest'],
    ['ghcr.io/org/app:v1.2.3', 'ghcr.io/org/app:v1.2.3'],
    ['GHCR.IO/org/app', 'ghcr.io/org/app:latest'],
    ['localhost/app', 'localhost/app:latest'],
    ['localhost:5000/app', 'localhost:5000/app:latest'],
    ['localhost:5000', 'docker.io/library/localhost:5000'],
    ['127.0.0.1:5000/team/app:tag', '127.0.0.1:5000/team/app:tag'],
    ['[::1]:5000/app', '[::1]:5000/app:latest'],
    ['[fe80::1]/app:x', '[fe80::1]/app:x'],
    ['registry.example.com:443/a/b/c/d:1', 'registry.example.com:443/a/b/c/d:1'],
    [`app@${D}`, `docker.io/library/app@${D}`],
    [`app:1@${D}`, `docker.io/library/app:1@${D}`],
    [`127.0.0.1:5000/app:1@${D}`, `127.0.0.1:5000/app:1@${D}`],
    [`app@sha512:${'b'.repeat(128)}`, `docker.io/library/app@sha512:${'b'.repeat(128)}`],
    ['a/b_c/d__e/f-g/h--i/j.k', 'docker.io/a/b_c/d__e/f-g/h--i/j.k:latest'],
    ['my-registry:5000/app', 'my-registry:5000/app:latest'],
    ['Registry.Local/app', 'registry.local/app:latest'],
    ['app:_underscore', 'docker.io/library/app:_underscore'],
    [`app:${'t'.repeat(128)}`, `docker.io/library/app:${'t'.repeat(128)}`],
    ['app:UPPER.case-tag_1', 'docker.io/library/app:UPPER.case-tag_1'],
    ['x', 'docker.io/library/x:latest'],
    ['a1/b2', 'docker.io/a1/b2:latest'],
  ];
  it.each(cases)('%s -> %s', (input, expected) => {
    expect(formatReference(parseReference(input))).toBe(expected);
  });

  it('keeps tag absent when asked', () => {
    expect(parseReference('nginx', { defaultTag: false })).toEqual({ registry: 'docker.io', repository: 'library/nginx' });
  });

  it('splits fields', () => {
    expect(parseReference(`127.0.0.1:5000/team/app:1.0@${D}`)).toEqual({
      registry: '127.0.0.1:5000',
      repository: 'team/app',
      tag: '1.0',
      digest: D,
    });
  });
});

describe('parseReference: malformed references', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /empty/],
    [' nginx', /whitespace/],
    ['nginx ', /whitespace/],
    ['ngi nx', /whitespace/],
    ['https://ghcr.io/org/app', /URL scheme/],
    ['Nginx', /lowercase/],
    ['team/App', /lowercase/],
    ['ghcr.io/Org/app', /lowercase/],
    ['nginx:', /tag after ":" is empty/],
    ['nginx:-bad', /tag "-bad"/],
    ['nginx:.bad', /tag ".bad"/],
    ['nginx:a/b', /port "a" is not a number/],
    [`nginx:${'t'.repeat(129)}`, /129 characters/],
    ['nginx:bad!', /tag "bad!"/],
    ['nginx@', /no algorithm/],
    ['nginx@sha256', /no algorithm/],
    ['nginx@sha256:abc', /64 lowercase hex/],
    [`nginx@sha256:${'A'.repeat(64)}`, /64 lowercase hex/],
    [`nginx@md5:${'a'.repeat(32)}`, /"md5" is not supported/],
    [`nginx@${D}@${D}`, /more than one "@"/],
    ['ghcr.io/', /ends with "\/"|missing/],
    ['ghcr.io//app', /empty path component/],
    ['team//app', /empty path component/],
    ['team/app/', /ends with "\/"/],
    ['/app', /missing|empty path/],
    ['-app', /component "-app"/],
    ['app-', /component "app-"/],
    ['app..x', /component "app..x"/],
    ['a___b', /component "a___b"/],
    ['app_', /component "app_"/],
    ['.app', /component ".app"/],
    ['ghcr.io:99999/app', /out of range/],
    ['ghcr.io:0/app', /out of range/],
    ['ghcr.io:port/app', /not a number/],
    ['-bad.io/app', /invalid label "-bad"/],
    ['bad..io/app', /empty label/],
    ['[::1/app', /unclosed|IPv6/],
    ['[zz::1]/app', /not a valid IPv6/],
    [':5000/app', /no host name/],
    [`ghcr.io/${'a'.repeat(250)}`, /at most 255/],
    ['app:1:2', /tag|component/],
    [`@${D}`, /repository name is missing/],
    [':tag', /repository name is missing/],
    ['ap$p', /component "ap\$p"/],
  ];
  it.each(cases)('%j is rejected (%s)', (input, reason) => {
    let caught: unknown;
    try {
      parseReference(input);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(InvalidReferenceError);
    expect(caught).toBeInstanceOf(OciError);
    const err = caught as InvalidReferenceError;
    expect(err.input).toBe(input);
    expect(err.message).toMatch(reason);
    expect(err.hint).toBeTruthy();
  });

  it('has at least 20 malformed cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
  });
});

describe('repository matching', () => {
  it.each([
    ['nginx', 'docker.io/library/nginx:1', true],
    ['nginx:1', `index.docker.io/library/nginx@${D}`, true],
    ['127.0.0.1:5000/app', '127.0.0.1:5000/app:2', true],
    ['127.0.0.1:5000/app', '127.0.0.1:5000/app-worker:2', false],
    ['127.0.0.1:5000/app', '127.0.0.1:5000/app/sidecar:2', false],
    ['127.0.0.1:5000/team/app', '127.0.0.1:5000/app', false],
    ['127.0.0.1:5000/app', '127.0.0.1:5001/app', false],
    ['127.0.0.1:5000/app', 'localhost:5000/app', false],
    ['app', 'team/app', false],
  ])('%s vs %s -> %s', (a, b, expected) => {
    expect(sameRepository(a, b)).toBe(expected);
    expect(sameRepository(b, a)).toBe(expected);
  });

  it('matchesRepository never throws on junk candidates', () => {
    expect(matchesRepository('NOT A REF', 'nginx')).toBe(false);
    expect(matchesRepository('nginx:1', 'nginx')).toBe(true);
  });
});

describe('helpers', () => {
  it('familiarReference', () => {
    expect(familiarReference(parseReference('nginx'))).toBe('nginx:latest');
    expect(familiarReference(parseReference('team/app:1'))).toBe('team/app:1');
    expect(familiarReference(parseReference('ghcr.io/a/b:1'))).toBe('ghcr.io/a/b:1');
  });
  it('isLoopbackRegistry', () => {
    expect(isLoopbackRegistry('localhost:5000')).toBe(true);
    expect(isLoopbackRegistry('127.0.0.1:5000')).toBe(true);
    expect(isLoopbackRegistry('127.1.2.3')).toBe(true);
    expect(isLoopbackRegistry('[::1]:5000')).toBe(true);
    expect(isLoopbackRegistry('localhost.evil.com')).toBe(false);
    expect(isLoopbackRegistry('ghcr.io')).toBe(false);
  });
});
