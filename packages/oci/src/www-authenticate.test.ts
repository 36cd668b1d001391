import { describe, expect, it } from 'vitest';
import { parseWwwAuthenticate } from './www-authenticate.ts';

describe('parseWwwAuthenticate', () => {
  it('parses a docker hub style bearer challenge with a comma inside scope', () => {
    expect(
      parseWwwAuthenticate('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push"'),
    ).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:samalba/my-app:pull,push' } },
    ]);
  });
  it('parses basic', () => {
    expect(parseWwwAuthenticate('Basic realm="Registry Realm"')).toEqual([{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
  });
  it('parses several challenges, unquoted values and spaces', () => {
    expect(parseWwwAuthenticate('Basic realm=simple, Bearer  realm = "https://x/token" , service=reg, error="insufficient_scope"')).toEqual([
      { scheme: 'basic', params: { realm: 'simple' } },
      { scheme: 'bearer', params: { realm: 'https://x/token', service: 'reg', error: 'insufficient_scope' } },
    ]);
  });
  it('handles escapes and a bare scheme', () => {
    expect(parseWwwAuthenticate('Bearer realm="a\\"b"')).toEqual([{ scheme: 'bearer', params: { realm: 'a"b' } }]);
    expect(parseWwwAuthenticate('Negotiate')).toEqual([{ scheme: 'negotiate', params: {} }]);
    expect(parseWwwAuthenticate('')).toEqual([]);
  });
  it('lowercases parameter names but not values', () => {
    expect(parseWwwAuthenticate('BEARER Realm="https://X/T",Service="S"')).toEqual([{ scheme: 'bearer', params: { realm: 'https://X/T', service: 'S' } }]);
  });
});
