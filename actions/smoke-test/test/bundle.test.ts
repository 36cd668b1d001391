// The committed bundle (dist/smoke-test) and the CLI, against real servers on loopback.
import type http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runGitHubAction, stackLines } from '../../../test/support/run-action.ts';
import { closedPort, makeCa, type Served, serve, type TestCa } from '../../../test/support/servers.ts';

interface TargetResult {
  target: string;
  passed: boolean;
  status: number | null;
  attempts: number;
  reason: string | null;
  latencyMs: number | null;
}

const results = (outputs: Record<string, string>) => JSON.parse(outputs.results ?? '[]') as TargetResult[];

let app: Served;
let tlsApp: Served;
let ca: TestCa;
const hits: Record<string, number> = {};
let inFlight = 0;
let maxInFlight = 0;
const seenAuth: string[] = [];

const json = (res: http.ServerResponse, code: number, body: unknown) => {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

function handler(req: http.IncomingMessage, res: http.ServerResponse) {
  const url = new URL(req.url ?? '/', 'http://x');
  const key = url.pathname + url.search;
  hits[key] = (hits[key] ?? 0) + 1;
  const n = hits[key];
  const m = /^\/(\w[\w-]*)(?:\/(.*))?$/.exec(url.pathname);
  const [, route, arg] = m ?? [];
  switch (route) {
    case 'ok':
      return json(res, 200, { status: 'ok', db: { up: true }, items: [{ id: 7, name: 'first' }], version: '1.2.3' });
    case 'text':
      res.end('service is ready\n');
      return;
    case 'status':
      res.writeHead(Number(arg));
      res.end();
      return;
    case 'warming':
      // 503 for the first `arg` requests, like a service that is still starting.
      if (n <= Number(arg)) return json(res, 503, { status: 'starting' });
      return json(res, 200, { status: 'ok' });
    case 'sleep':
      setTimeout(() => res.end('late'), Number(arg)).unref();
      return;
    case 'redirect': {
      const left = Number(arg);
      res.writeHead(302, { location: left > 1 ? `/redirect/${left - 1}` : '/ok' });
      res.end();
      return;
    }
    case 'echo-auth':
      seenAuth.push(req.headers.authorization ?? '');
      return json(res, 200, { auth: req.headers.authorization ? 'present' : 'absent' });
    case 'busy':
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      setTimeout(() => {
        inFlight--;
        res.end('done');
      }, 300).unref();
      return;
    case 'post':
      if (req.method !== 'POST') return json(res, 405, { error: 'method' });
      {
        let body = '';
        req.on('data', (c) => {
          body += c;
        });
        req.on('end', () => json(res, 201, { received: JSON.parse(body) }));
      }
      return;
    default:
      res.writeHead(404);
      res.end('not found');
  }
}

beforeAll(async () => {
  app = await serve(handler);
  ca = makeCa();
  tlsApp = await serve(handler, { key: ca.key, cert: ca.cert });
});

afterAll(async () => {
  await app?.close();
  await tlsApp?.close();
  ca?.cleanup();
});

const fast = { interval: '100ms', 'max-interval': '200ms' };

describe('dist/smoke-test under the GitHub contract', () => {
  it('passes a live server and writes outputs and a summary table', async () => {
    const r = await runGitHubAction('smoke-test', { url: `${app.url}/ok`, 'expect-status': '200', 'expect-json': '$.status = "ok"\n$.items[0].id = 7' });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.outputs.passed).toBe('true');
    const [t] = results(r.outputs);
    expect(t).toMatchObject({ target: `${app.url}/ok`, passed: true, status: 200, attempts: 1, reason: null });
    expect(Number(r.outputs['p50-ms'])).toBeGreaterThan(0);
    expect(Number(r.outputs['p95-ms'])).toBeGreaterThanOrEqual(Number(r.outputs['p50-ms']));
    expect(r.summary).toContain('| Target | Result | Status | Latency | Attempts | Reason |');
    expect(r.summary).toContain(`| ${app.url}/ok | pass | 200 |`);
  });

  it('retries a slow start until it answers', async () => {
    const r = await runGitHubAction('smoke-test', { url: `${app.url}/warming/3?a=1`, ...fast, deadline: '20s' });
    expect(r.code, r.stdout).toBe(0);
    expect(results(r.outputs)[0]?.attempts).toBe(4);
    expect(r.stdout).toMatch(/expected status 2xx, got 503 \(attempt 1\)/);
  });

  it('fails on a wrong status with the status in the error', async () => {
    const r = await runGitHubAction('smoke-test', { url: `${app.url}/status/500`, retries: '1', ...fast });
    expect(r.code).toBe(1);
    expect(r.outputs.passed).toBe('false');
    const [t] = results(r.outputs);
    expect(t?.attempts).toBe(2);
    expect(t?.reason).toMatch(/expected status 2xx, got 500/);
    const errors = r.stdout.split('\n').filter((l) => l.startsWith('::error'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/smoke test failed for 1 of 1 target/);
    expect(r.summary).toContain('| FAIL | 500 |');
  });

  it('accepts a status list and classes', async () => {
    const r = await runGitHubAction('smoke-test', { url: `${app.url}/status/404`, 'expect-status': '200, 404' });
    expect(r.code).toBe(0);
  });

  it('reports body and JSON mismatches with what was found', async () => {
    const body = await runGitHubAction('smoke-test', { url: `${app.url}/text`, 'expect-body': 'healthy', retries: '0' });
    expect(body.code).toBe(1);
    expect(results(body.outputs)[0]?.reason).toMatch(/body does not match \/healthy\/ \(body starts: "service is ready"\)/);

    const j = await runGitHubAction('smoke-test', { url: `${app.url}/ok`, 'expect-json': '$.version = "2.0.0"\n$.missing.field = 1', retries: '0' });
    expect(j.code).toBe(1);
    const reason = results(j.outputs)[0]?.reason ?? '';
    expect(reason).toContain('$.version is "1.2.3", expected "2.0.0"');
    expect(reason).toContain('$.missing.field is missing');

    const notJson = await runGitHubAction('smoke-test', { url: `${app.url}/text`, 'expect-json': 'status = ok', retries: '0' });
    expect(results(notJson.outputs)[0]?.reason).toMatch(/body is not JSON/);
  });

  it('times out a hung request per attempt and gives up at the deadline', async () => {
    const r = await runGitHubAction('smoke-test', { url: `${app.url}/sleep/5000`, timeout: '300ms', deadline: '1s', ...fast });
    expect(r.code).toBe(1);
    const [t] = results(r.outputs);
    expect(t?.reason).toMatch(/deadline 1000 ms passed after \d+ attempt\(s\); last: timed out after 300 ms/);
    expect(t?.attempts).toBeGreaterThanOrEqual(2);
    expect(r.ms).toBeLessThan(4000);
  });

  it('names a refused connection', async () => {
    const port = await closedPort();
    const r = await runGitHubAction('smoke-test', { url: `http://127.0.0.1:${port}/`, retries: '2', ...fast });
    expect(r.code).toBe(1);
    expect(results(r.outputs)[0]).toMatchObject({ status: null, attempts: 3 });
    expect(results(r.outputs)[0]?.reason).toMatch(/connection refused \(ECONNREFUSED\)/);
  });

  it('verifies TLS against a custom CA, and refuses without it', async () => {
    const ok = await runGitHubAction('smoke-test', { url: `${tlsApp.url}/ok`, 'ca-file': ca.caFile });
    expect(ok.code, ok.stdout).toBe(0);
    const bad = await runGitHubAction('smoke-test', { url: `${tlsApp.url}/ok`, retries: '0' });
    expect(bad.code).toBe(1);
    expect(results(bad.outputs)[0]?.reason).toMatch(/TLS: .*\(set ca-file/);
    const insecure = await runGitHubAction('smoke-test', { url: `${tlsApp.url}/ok`, insecure: 'true' });
    expect(insecure.code).toBe(0);
  });

  it('follows redirects to the final answer, or checks the redirect itself', async () => {
    const follow = await runGitHubAction('smoke-test', { url: `${app.url}/redirect/3`, 'expect-json': '$.status = ok' });
    expect(follow.code, follow.stdout).toBe(0);
    const tooMany = await runGitHubAction('smoke-test', { url: `${app.url}/redirect/3`, 'max-redirects': '2', retries: '0' });
    expect(results(tooMany.outputs)[0]?.reason).toMatch(/more than 2 redirects/);
    const noFollow = await runGitHubAction('smoke-test', { url: `${app.url}/redirect/1`, 'follow-redirects': 'false', 'expect-status': '302' });
    expect(noFollow.code).toBe(0);
  });

  it('checks targets concurrently up to the limit', async () => {
    const urls = [1, 2, 3, 4].map((i) => `${app.url}/busy?i=${i}`).join('\n');
    maxInFlight = 0;
    const two = await runGitHubAction('smoke-test', { url: urls, concurrency: '2' });
    expect(two.code).toBe(0);
    expect(maxInFlight).toBe(2);
    maxInFlight = 0;
    const four = await runGitHubAction('smoke-test', { url: urls, concurrency: '4' });
    expect(four.code).toBe(0);
    expect(maxInFlight).toBe(4);
    expect(results(four.outputs)).toHaveLength(4);
  });

  it('needs consecutive successes when asked', async () => {
    const r = await runGitHubAction('smoke-test', { url: `${app.url}/ok?streak`, 'consecutive-successes': '3', ...fast });
    expect(r.code).toBe(0);
    expect(results(r.outputs)[0]?.attempts).toBe(3);
  });

  it('sends method, headers and body; masks the Authorization value', async () => {
    const post = await runGitHubAction('smoke-test', {
      url: `${app.url}/post`,
      method: 'post',
      body: '{"order":1}',
      headers: 'Content-Type: application/json',
      'expect-status': '201',
      'expect-json': '$.received.order = 1',
    });
    expect(post.code, post.stdout).toBe(0);
    const auth = await runGitHubAction('smoke-test', {
      url: `${app.url}/echo-auth`,
      headers: 'Authorization: Bearer s3cr3t-token-value',
      'expect-json': '$.auth = present',
    });
    expect(auth.code).toBe(0);
    expect(seenAuth).toContain('Bearer s3cr3t-token-value');
    expect(auth.stdout).toContain('::add-mask::Bearer s3cr3t-token-value');
    expect(auth.stdout.replace(/::add-mask::.*\n/g, '')).not.toContain('s3cr3t');
  });

  it('fails max-latency on a slow answer', async () => {
    const r = await runGitHubAction('smoke-test', { url: `${app.url}/sleep/400`, 'max-latency': '100ms', retries: '0' });
    expect(r.code).toBe(1);
    expect(results(r.outputs)[0]?.reason).toMatch(/latency \d+ ms exceeds max-latency 100 ms/);
  });

  it('without url: exit 1 and one ::error line naming url', async () => {
    const r = await runGitHubAction('smoke-test', {});
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toEqual([expect.stringMatching(/^::error::input "url": is required/)]);
    expect(r.stderr).toBe('');
  });
});

describe('shipline CLI', () => {
  it('runs smoke-test with flags and prints outputs', async () => {
    const r = await runCli(['smoke-test', '--url', `${app.url}/ok`, '--expect-status', '200']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.outputs.passed).toBe('true');
    expect(r.stderr).toMatch(/Smoke test passed/);
    expect(r.stderr).toMatch(/Target\s+Result\s+Status/);
  });

  it('fails with exit 1 when the check fails', async () => {
    const r = await runCli(['smoke-test', `--url=${app.url}/status/503`, '--retries', '0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: smoke test failed/);
  });

  it('lists actions in --help and documents inputs from action.yml', async () => {
    const top = await runCli(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/smoke-test\s+Checks that a service answers/);
    const help = await runCli(['smoke-test', '--help']);
    expect(help.stdout).toMatch(/--expect-status <list of status code or class>\s+\(default: 2xx\)/);
    expect(help.stdout).toMatch(/Accepted status codes or classes/);
  });

  it('exits 2 on usage errors', async () => {
    expect((await runCli([])).code).toBe(2);
    expect((await runCli(['no-such-action'])).code).toBe(2);
    const unknown = await runCli(['smoke-test', '--urll', 'x']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/smoke-test has no input --urll \(did you mean --url\?\)/);
    expect((await runCli(['smoke-test', '--url'])).code).toBe(2);
  });

  it('accepts a bare boolean flag and repeated list flags', async () => {
    const r = await runCli(['smoke-test', '--url', `${tlsApp.url}/ok`, '--url', `${app.url}/ok`, '--insecure']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.outputs.results ?? '[]')).toHaveLength(2);
  });

  it('writes a dotenv report under GitLab CI', async () => {
    const { mkdtempSync, readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dotenv = join(mkdtempSync(join(tmpdir(), 'shipline-gl-')), 'smoke.env');
    const r = await runCli(['smoke-test', '--url', `${app.url}/ok`], { env: { GITLAB_CI: 'true', SHIPLINE_DOTENV: dotenv } });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/section_start:\d+:shipline_1\[collapsed=true\]/);
    const env = readFileSync(dotenv, 'utf8');
    expect(env).toMatch(/^SMOKE_TEST_PASSED=true$/m);
    expect(env).toMatch(/^SMOKE_TEST_P95_MS=[\d.]+$/m);
  });

  it('never prints a stack trace for bad input', async () => {
    const r = await runCli(['smoke-test', '--url', 'nope']);
    expect(r.code).toBe(1);
    expect(stackLines(r.stderr)).toEqual([]);
  });
});
