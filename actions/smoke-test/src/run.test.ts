// The retry loop with a fake clock and a scripted requester: backoff, deadline, streaks.
import { MemoryHost, parseInputs } from '@shipline/kit';
import { describe, expect, it } from 'vitest';
import { type HttpRequest, type HttpResponse, RequestFailed } from './http.ts';
import { schema } from './inputs.ts';
import { type Deps, run } from './run.ts';

type Step = number | 'refused' | 'timeout';

function harness(script: Step[], latencyMs = 10) {
  let now = 0;
  const sleeps: number[] = [];
  const calls: HttpRequest[] = [];
  const host = new MemoryHost();
  const deps: Deps = {
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
    request: async (req) => {
      calls.push(req);
      const step = script[Math.min(calls.length - 1, script.length - 1)] as Step;
      if (step === 'refused') throw new RequestFailed('connection refused (ECONNREFUSED)', 'ECONNREFUSED');
      if (step === 'timeout') {
        now += req.timeoutMs;
        throw new RequestFailed(`timed out after ${Math.round(req.timeoutMs)} ms`, 'ETIMEDOUT');
      }
      now += latencyMs;
      return { status: step, headers: {}, body: '{}', bodyBytes: 2, truncated: false, latencyMs, finalUrl: req.url, redirects: 0 } satisfies HttpResponse;
    },
    log: host,
    mask: (s) => host.mask(s),
  };
  return { deps, sleeps, calls, host };
}

const inputs = (raw: Record<string, string>) => parseInputs(schema, (n) => ({ url: 'http://svc.test/health', ...raw })[n]);

describe('smoke-test retry loop', () => {
  it('backs off exponentially up to max-interval', async () => {
    const h = harness(['refused', 'refused', 'refused', 'refused', 'refused', 200]);
    const r = await run(inputs({ interval: '1s', backoff: '2', 'max-interval': '5s' }), h.deps);
    expect(r.passed).toBe(true);
    expect(h.sleeps).toEqual([1000, 2000, 4000, 5000, 5000]);
    expect(r.results[0]?.attempts).toBe(6);
  });

  it('stops at the deadline with the last full reason', async () => {
    const h = harness(['timeout']);
    const r = await run(inputs({ timeout: '4s', deadline: '10s', interval: '500ms', backoff: '1' }), h.deps);
    expect(r.passed).toBe(false);
    expect(r.results[0]?.reason).toMatch(/^deadline 10000 ms passed after 3 attempt\(s\); last: timed out after 4000 ms$/);
    expect(h.calls.map((c) => c.timeoutMs)).toEqual([4000, 4000, 1000]);
  });

  it('resets the streak on failure', async () => {
    const h = harness([200, 500, 200, 200, 200]);
    const r = await run(inputs({ 'consecutive-successes': '3', interval: '100ms' }), h.deps);
    expect(r.passed).toBe(true);
    expect(r.results[0]).toMatchObject({ attempts: 5, successes: 4 });
  });

  it('counts retries as failed checks allowed', async () => {
    const h = harness([503]);
    const r = await run(inputs({ retries: '2', interval: '100ms' }), h.deps);
    expect(r.results[0]).toMatchObject({ passed: false, attempts: 3, status: 503 });
    expect(r.results[0]?.reason).toMatch(/failed 3 time\(s\); retries: 2/);
  });

  it('masks credentials of URLs and secret headers', async () => {
    const h = harness([200]);
    const r = await run(
      parseInputs(schema, (n) => ({ url: 'http://user:pa55word@svc.test/', headers: 'X-Api-Key: key-123456\nAccept: text/plain' })[n]),
      h.deps,
    );
    expect(r.results[0]?.target).toBe('http://***:***@svc.test/');
    h.host.info('pa55word key-123456 text/plain');
    expect(h.host.log.at(-1)).toBe('*** *** text/plain\n');
  });

  it('reports percentiles over successful checks only', async () => {
    const h = harness(['refused', 200], 40);
    const r = await run(inputs({ interval: '100ms' }), h.deps);
    expect(r.p50Ms).toBe(40);
    expect(r.p95Ms).toBe(40);
  });
});
