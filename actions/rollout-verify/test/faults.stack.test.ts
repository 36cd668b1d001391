// Watch resilience through the bundle: rollout-verify talks to the real API server through a proxy
// that cuts every watch after a few seconds, ends some watches with a 410 Expired event, and answers
// some requests 429 or 503. The verdicts must be the same as without it, and never a false success.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { connectionOf, openKubeconfig } from '@shipline/kube';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as exec, need, sh, tempDir, uniq } from '../../../test/stack/index.ts';
import { runGitHubAction } from '../../../test/support/run-action.ts';
import { CRASH, deployment, kubectlRolloutStatus, pinnedNodeImage, serving, yaml } from '../../../test/support/workloads.ts';

const id = uniq();
const namespaces: string[] = [];
let work: string;
let image: string;
let repo: string;
let proxy: http.Server;
let proxyKubeconfig: string;
const faults = { cutWatches: 0, expired: 0, throttled: 0, unavailable: 0, requests: 0 };

/** A plain-HTTP front for the API server (TLS and the admin's client certificate on the far side). */
async function startProxy(): Promise<string> {
  const access = openKubeconfig({ path: need('KUBECONFIG'), env: {} });
  const conn = await connectionOf(access);
  const agent = new https.Agent({ ca: conn.ca, cert: conn.cert, key: conn.key, keepAlive: true });
  const faulted = new Set<string>();
  let watches = 0;
  proxy = http.createServer((req, res) => {
    faults.requests++;
    const url = new URL(req.url ?? '/', 'http://proxy');
    const isWatch = url.searchParams.get('watch') === 'true';
    // Every fifth request fails, but never the same path twice running (the client retries 3 times).
    if (faults.requests % 5 === 0 && !faulted.has(url.pathname)) {
      faulted.add(url.pathname);
      const code = faults.requests % 10 === 0 ? 429 : 503;
      if (code === 429) faults.throttled++;
      else faults.unavailable++;
      res.writeHead(code, { 'content-type': 'application/json', 'retry-after': '1' });
      res.end(
        JSON.stringify({
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          code,
          reason: code === 429 ? 'TooManyRequests' : 'ServiceUnavailable',
          message: 'injected by the test proxy',
        }),
      );
      return;
    }
    faulted.delete(url.pathname);
    const up = https.request(
      { host: conn.server.hostname, port: conn.server.port, method: req.method, path: req.url, headers: { ...req.headers, host: conn.server.host }, agent },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
        if (!isWatch) return;
        const n = ++watches;
        if (n % 3 === 0) {
          // The server's way of saying the resourceVersion is too old: the client must re-list.
          setTimeout(() => {
            faults.expired++;
            res.end(
              `${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 410, reason: 'Expired', message: 'too old resource version' } })}\n`,
            );
            up.destroy();
          }, 1500);
        } else {
          // A dropped connection mid-stream (a load balancer's idle cut, a restart).
          setTimeout(
            () => {
              faults.cutWatches++;
              res.destroy();
              up.destroy();
            },
            2000 + (n % 4) * 500,
          );
        }
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  work = tempDir('rollout-verify-faults');
  const pinned = await pinnedNodeImage(need('SHIPLINE_NODE_IMAGE'));
  image = pinned.ref;
  repo = pinned.repo;
  const server = await startProxy();
  proxyKubeconfig = join(work, 'kubeconfig');
  writeFileSync(
    proxyKubeconfig,
    `apiVersion: v1\nkind: Config\nclusters:\n- name: proxy\n  cluster: {server: "${server}"}\ncontexts:\n- name: proxy\n  context: {cluster: proxy}\ncurrent-context: proxy\n`,
  );
});

afterAll(async () => {
  await new Promise<void>((r) => {
    proxy?.closeAllConnections();
    proxy ? proxy.close(() => r()) : r();
  });
  if (namespaces.length) await exec('kubectl', ['delete', 'namespace', ...namespaces, '--wait=false', '--ignore-not-found'], { allowFail: true });
  console.log(`fault proxy: ${JSON.stringify(faults)}`);
});

async function rollout(name: string, v2: Record<string, unknown>) {
  const ns = `rv-faults-${id}-${name}`;
  namespaces.push(ns);
  await sh('kubectl', ['create', 'namespace', ns]);
  const file = (v: string, o: Record<string, unknown>) => {
    const dir = join(work, ns, v);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'app.yaml'), yaml(o));
    return join(dir, 'app.yaml');
  };
  await sh('kubectl', ['apply', '-n', ns, '-f', file('v1', deployment('web', serving('v1'), { image, replicas: 2 }))]);
  expect((await kubectlRolloutStatus(ns, 'deployment/web', 180)).verdict).toBe('success');
  await sh('kubectl', ['apply', '-n', ns, '-f', file('v2', v2)]);
  return runGitHubAction(
    'rollout-verify',
    { workloads: 'deployment/web', namespace: ns, 'kubeconfig-path': proxyKubeconfig, timeout: '3m' },
    { env: { RUNNER_TEMP: work, HOME: work }, timeoutMs: 300_000 },
  );
}

describe.concurrent('rollout-verify through a proxy that cuts watches and answers 429/503', () => {
  it.each([
    ['a healthy rolling update succeeds', 'ok', () => deployment('web', serving('v2'), { image, replicas: 2 }), 'success', ['Current']],
    ['a crash loop fails with its cause', 'crash', () => deployment('web', CRASH, { image, replicas: 2 }), 'failed', ['CrashLoopBackOff', 'TooManyRestarts']],
    [
      'a nonexistent tag fails with its cause',
      'tag',
      () => deployment('web', serving('v2'), { image: `${repo}:no-such-tag-${id}`, replicas: 2 }),
      'failed',
      ['ImageNotFound'],
    ],
  ] as const)('%s', async (_what, name, v2, status, reasons) => {
    const r = await rollout(name, v2());
    expect(r.outputs.status, r.stdout).toBe(status);
    expect(reasons as readonly string[]).toContain(r.outputs.reason);
    expect(r.code).toBe(status === 'success' ? 0 : 1);
    const diag = JSON.parse(readFileSync(r.outputs.diagnostics as string, 'utf8'));
    expect(diag.resources).toHaveLength(1);
  });
});

// After the scenarios above (describe blocks run in order): they were verified through real faults.
describe('the fault proxy', () => {
  it('cut watches, expired watches and answered 429 and 503', () => {
    expect(faults.cutWatches).toBeGreaterThan(0);
    expect(faults.expired).toBeGreaterThan(0);
    expect(faults.throttled).toBeGreaterThan(0);
    expect(faults.unavailable).toBeGreaterThan(0);
  });
});
