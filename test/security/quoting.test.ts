import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { schema as buildSchema } from '../../actions/docker-build/src/inputs.ts';
import { schema as smokeSchema } from '../../actions/smoke-test/src/inputs.ts';
import { parseInputs, UserError } from '../../packages/kit/src/index.ts';
import { findLeaks } from './support.ts';

// The secret-classed quoting rule: a value that holds a credential is never quoted in the error
// about it, even when the value is malformed (that is exactly when it gets echoed).
const errorOf = (schema: Parameters<typeof parseInputs>[0], raw: Record<string, string>): UserError => {
  try {
    parseInputs(schema, (n) => raw[n]);
  } catch (e) {
    if (e instanceof UserError) return e;
    throw e;
  }
  throw new Error('no error');
};

const pem = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

describe('errors about secret-bearing inputs quote nothing of the secret', () => {
  it('docker-build: a PEM pasted into `secrets`', () => {
    const e = errorOf(buildSchema, { context: '.', secrets: pem });
    expect(e.input).toBe('secrets');
    const body = pem.split('\n').filter((l) => !l.startsWith('-----') && l !== '');
    expect(findLeaks(body, { error: e.oneLine() })).toEqual([]);
  });

  it('docker-build: a base64 line that looks like id= with an empty value, or a bad id', () => {
    for (const line of ['c2VjcmV0LXRva2VuLXZhbHVlLTAxMjM0NTY3ODk=', 'MIIB+x/ab=cd']) {
      const e = errorOf(buildSchema, { context: '.', secrets: line });
      expect(e.input).toBe('secrets');
      expect(findLeaks([line.split('=')[0] as string], { error: e.oneLine() }), line).toEqual([]);
    }
  });

  it('smoke-test: a header line without its colon, or with a bad name', () => {
    for (const line of ['Authorization Bearer hdr-T0ken-abcdefgh', 'Authorization Bearer hdr-T0ken-abcdefgh: x']) {
      const e = errorOf(smokeSchema, { url: 'http://127.0.0.1/', headers: line });
      expect(e.input).toBe('headers');
      expect(findLeaks(['hdr-T0ken-abcdefgh'], { error: e.oneLine() })).toEqual([]);
    }
  });

  it('smoke-test: a header value outside Latin-1 or with CR names the input and the header', () => {
    expect(errorOf(smokeSchema, { url: 'http://127.0.0.1/', headers: 'X-Note: caf€' }).oneLine()).toMatch(
      /^input "headers": the value of header X-Note holds a character outside Latin-1/,
    );
    expect(errorOf(smokeSchema, { url: 'http://127.0.0.1/', headers: 'X-Note: a\rb' }).oneLine()).toMatch(/X-Note holds a line break/);
  });

  it('smoke-test: a malformed URL with user:password@ or ?token=', () => {
    for (const url of ['http://user:url-Pa55word-x@[bad', 'http://user:url-Pa55word-x@host:99999/', 'ftp://h/?token=url-Pa55word-x']) {
      const e = errorOf(smokeSchema, { url });
      expect(e.input).toBe('url');
      expect(findLeaks(['url-Pa55word-x'], { error: e.oneLine() }), url).toEqual([]);
    }
  });

  it('smoke-test: interval has a floor and durations a ceiling', () => {
    expect(errorOf(smokeSchema, { url: 'http://127.0.0.1/', interval: '0' }).oneLine()).toMatch(/^input "interval": "0" is too short/);
    expect(errorOf(smokeSchema, { url: 'http://127.0.0.1/', timeout: '600h' }).oneLine()).toMatch(/^input "timeout": "600h" is too long/);
  });
});
