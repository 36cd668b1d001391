// Every bad input: exit 1, exactly one ::error line naming the input, no stack trace, no request sent.
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectRejected, runGitHubAction } from '../../../test/support/run-action.ts';
import { type Served, serve } from '../../../test/support/servers.ts';

let app: Served;
let requests = 0;
const notPem = join(tmpdir(), `shipline-not-a-cert-${process.pid}.txt`);

beforeAll(async () => {
  app = await serve((_req, res) => {
    requests++;
    res.end('ok');
  });
  writeFileSync(notPem, 'hello\n');
});
afterAll(() => app?.close());

const ok = () => `${app.url}/`;

// [why, inputs, input named in the error, text the error must contain]
const cases: [string, () => Record<string, string>, string, RegExp][] = [
  ['missing url', () => ({}), 'url', /is required/],
  ['url without scheme', () => ({ url: '127.0.0.1:8080/health' }), 'url', /not a valid URL|uses 127\.0\.0\.1/],
  ['url that is not a URL', () => ({ url: 'http://' }), 'url', /not a valid URL/],
  ['ftp url', () => ({ url: 'ftp://127.0.0.1/file' }), 'url', /uses ftp.*use http or https/],
  ['second url bad', () => ({ url: `${ok()}\nnot a url` }), 'url', /"not a url" is not a valid URL/],
  ['url with fragment', () => ({ url: `${ok()}#x` }), 'url', /#fragment/],
  ['unknown method', () => ({ url: ok(), method: 'FETCH' }), 'method', /use one of: GET, HEAD, POST/],
  ['bad status pattern', () => ({ url: ok(), 'expect-status': '2xx, 20' }), 'expect-status', /"20" is not a status code or class/],
  ['status out of range', () => ({ url: ok(), 'expect-status': '700' }), 'expect-status', /"700" is not a status code/],
  ['bad duration', () => ({ url: ok(), timeout: '5 seconds' }), 'timeout', /not a duration.*500ms, 30s/],
  ['unitless duration', () => ({ url: ok(), deadline: '30' }), 'deadline', /not a duration/],
  ['negative retries', () => ({ url: ok(), retries: '-1' }), 'retries', /out of range.*>= 0/],
  ['fractional retries', () => ({ url: ok(), retries: '1.5' }), 'retries', /not a whole number/],
  ['zero concurrency', () => ({ url: ok(), concurrency: '0' }), 'concurrency', /out of range/],
  ['invalid regex', () => ({ url: ok(), 'expect-body': '(ready' }), 'expect-body', /not a valid regular expression/],
  ['bad JSON path', () => ({ url: ok(), 'expect-json': '$..status = ok' }), 'expect-json', /not a JSON expectation/],
  ['JSON rule without value', () => ({ url: ok(), 'expect-json': '$.status =' }), 'expect-json', /expected value is empty/],
  ['JSON rule without =', () => ({ url: ok(), 'expect-json': '$.status' }), 'expect-json', /not a JSON expectation/],
  ['YAML 1.1 boolean', () => ({ url: ok(), insecure: 'yes' }), 'insecure', /YAML 1\.2 booleans/],
  ['bad header line', () => ({ url: ok(), headers: 'Authorization Bearer hdr-S3cret-value' }), 'headers', /not a header line/],
  ['bad header name', () => ({ url: ok(), headers: 'Bad Name: x' }), 'headers', /invalid header name/],
  ['header value outside Latin-1', () => ({ url: ok(), headers: 'X-Note: caf€' }), 'headers', /value of header X-Note holds a character outside Latin-1/],
  ['header value with a lone CR', () => ({ url: ok(), headers: 'X-Note: a\rInjected: b' }), 'headers', /value of header X-Note holds a line break/],
  ['malformed url with credentials', () => ({ url: 'http://user:url-S3cret-pass@[bad' }), 'url', /"http:\/\/\*\*\*:\*\*\*@\[bad" is not a valid URL/],
  ['interval zero', () => ({ url: ok(), interval: '0' }), 'interval', /too short/],
  ['timeout beyond what timers hold', () => ({ url: ok(), timeout: '600h', deadline: '700h' }), 'timeout', /too long/],
  ['missing ca-file', () => ({ url: ok(), 'ca-file': '/nonexistent/ca.pem' }), 'ca-file', /does not exist/],
  ['ca-file without certificate', () => ({ url: ok(), 'ca-file': notPem }), 'ca-file', /holds no PEM certificate/],
  ['body with GET', () => ({ url: ok(), body: '{}' }), 'body', /not sent with GET/],
  ['timeout longer than deadline', () => ({ url: ok(), timeout: '2m', deadline: '10s' }), 'timeout', /longer than deadline/],
  ['backoff below 1', () => ({ url: ok(), backoff: '0.5' }), 'backoff', /out of range/],
  ['consecutive-successes zero', () => ({ url: ok(), 'consecutive-successes': '0' }), 'consecutive-successes', /out of range/],
  ['service without namespace', () => ({ service: 'orders:8080/healthz' }), 'service', /not a service target: it must start with namespace\//],
  ['service with a bad port', () => ({ service: 'shop/orders:99999/' }), 'service', /port "99999"/],
  ['pod with an uppercase name', () => ({ pod: 'shop/Web-0:8080/' }), 'pod', /not a valid object name/],
  ['kubeconfig without a service target', () => ({ url: ok(), 'kubeconfig-path': notPem }), 'kubeconfig-path', /no `service` or `pod` target uses it/],
  ['kubeconfig that is not one', () => ({ service: 'shop/orders:8080/', kubeconfig: 'just-a-token-value' }), 'kubeconfig', /not a kubeconfig/],
  ['kubeconfig-path missing', () => ({ service: 'shop/orders:8080/', 'kubeconfig-path': '/nonexistent/kubeconfig' }), 'kubeconfig-path', /does not exist/],
  ['insecure with ca-file', () => ({ url: ok(), insecure: 'true', 'ca-file': notPem }), 'insecure', /both `insecure` and `ca-file`/],
];

describe('smoke-test rejects bad input', () => {
  it.each(cases)('%s', async (_why, inputs, name, text) => {
    const before = requests;
    const r = await runGitHubAction('smoke-test', inputs());
    const line = expectRejected(r, name, text);
    // Credentials in a bad line or URL are never echoed (the secret-classed quoting rule).
    for (const s of ['hdr-S3cret-value', 'url-S3cret-pass']) expect(line + r.stdout + r.stderr).not.toContain(s);
    expect(requests - before).toBe(0);
  });

  it('has at least 15 distinct cases', () => expect(new Set(cases.map((c) => c[0])).size).toBeGreaterThanOrEqual(15));
});
