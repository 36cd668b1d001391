import { describe, expect, it } from 'vitest';
import { redactUrl, redactUrlsIn, urlSecrets } from '../../packages/kit/src/redact-url.ts';

describe('redactUrl', () => {
  it.each([
    ['https://user:pa55word@example.com/x', 'https://***:***@example.com/x'],
    ['https://ghp_tok3n@example.com/x', 'https://***@example.com/x'],
    ['https://example.com/x?token=abc123&page=2', 'https://example.com/x?token=***&page=2'],
    [
      'https://b.s3.amazonaws.com/o?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=deadbeef&X-Amz-Date=1',
      'https://b.s3.amazonaws.com/o?X-Amz-Credential=***&X-Amz-Signature=***&X-Amz-Date=1',
    ],
    ['https://h/cb?code=xyz&state=s#frag', 'https://h/cb?code=***&state=s#frag'],
    [
      'https://h/?sig=1&signature=2&key=3&api_key=4&apikey=5&password=6&access_token=7&my_token=8',
      'https://h/?sig=***&signature=***&key=***&api_key=***&apikey=***&password=***&access_token=***&my_token=***',
    ],
    // Malformed: an unescaped `@` or `#` in the password, a space, a bad port.
    ['http://user:p@ss#w@host:99999/x', 'http://***:***@host:99999/x'],
    ['http://user:pass word@[bad', 'http://***:***@[bad'],
    // `@` in a path is not userinfo.
    ['https://reg.example/v2/app/manifests/sha256@x', 'https://reg.example/v2/app/manifests/sha256@x'],
    ['https://example.com/healthz', 'https://example.com/healthz'],
    ['https://example.com/?token=', 'https://example.com/?token='],
  ])('%s', (input, shown) => {
    expect(redactUrl(input)).toBe(shown);
  });

  it('takes URL objects and finds URLs in free text', () => {
    expect(redactUrl(new URL('https://u:p@h/?token=t'))).toBe('https://***:***@h/?token=***');
    expect(redactUrlsIn('GET https://h/a?access_token=zz failed; see http://x:y@z/')).toBe('GET https://h/a?access_token=*** failed; see http://***:***@z/');
  });

  it('lists the credentials a URL carries, decoded', () => {
    expect(urlSecrets('https://u%40x:p%2Fw@h/?token=t%20t&page=1&X-Amz-Signature=s')).toEqual(['u@x', 'p/w', 't t', 's']);
    expect(urlSecrets('not a url')).toEqual([]);
  });
});
