// The leak corpus: each way a secret leaked (issue 9), as a run of the committed bundle under the
// GitHub contract. Everything the run leaves is searched — stdout (less the add-mask commands that
// register secrets with the runner), stderr, the summary, the outputs, every file left under
// RUNNER_TEMP/TMPDIR, and what other hosts received — for each secret, raw, in base64, or as any
// 8-character piece of it.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeOciLayout } from '../support/oci/layout.ts';
import { type Run, repoRoot, runGitHubAction } from '../support/run-action.ts';
import { parseRunnerCommands } from '../support/runner-commands.ts';
import { closedPort } from '../support/servers.ts';
import { fakeApiServer, fakeRegistry, filesUnder, findLeaks, kubeconfigFor, type Listening, listen, uploadSink } from './support.ts';

let dir: string;
let layout: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'shipline-leak-'));
  layout = join(dir, 'layout');
  await makeOciLayout(layout, [{ layers: [256] }]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let tried = 0;
let clean = 0;
afterAll(() => process.stderr.write(`leak corpus: tried ${tried} / clean ${clean}\n`));

/** stdout without the lines that are add-mask commands (the runner shows those as nothing). */
function visibleStdout(stdout: string): string {
  const masks = new Set(
    parseRunnerCommands(stdout)
      .commands.filter((c) => c.name === 'add-mask')
      .map((c) => c.line),
  );
  return stdout
    .split(/\r\n|\r|\n/)
    .filter((_l, i) => !masks.has(i))
    .join('\n');
}

/** Runs a bundle with its own RUNNER_TEMP/TMPDIR, then searches everything it left for the secrets. */
async function expectNoLeak(
  action: string,
  inputs: Record<string, string>,
  secrets: string[],
  opts: { env?: NodeJS.ProcessEnv; elsewhere?: () => Record<string, string>; check?: (r: Run) => void } = {},
): Promise<Run> {
  tried++;
  const temp = mkdtempSync(join(dir, 'runner-temp-'));
  try {
    const r = await runGitHubAction(action, inputs, { env: { RUNNER_TEMP: temp, TMPDIR: temp, ...opts.env } });
    opts.check?.(r);
    const texts: Record<string, string> = {
      stdout: visibleStdout(r.stdout),
      stderr: r.stderr,
      summary: r.summary,
      outputs: JSON.stringify(r.outputs),
      ...filesUnder(temp),
      ...opts.elsewhere?.(),
    };
    expect(findLeaks(secrets, texts), r.stdout).toEqual([]);
    clean++;
    return r;
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const headersOf = (l: Listening) => ({ [`headers received by ${l.url}`]: JSON.stringify(l.seen.map((s) => s.headers)) });

describe('dry-run shows no Secret value (leak 1)', () => {
  it('Secret data and stringData, in the log and the summary, against a live Secret', async () => {
    const values = ['db-Pa55word-new-111', 'api-T0ken-new-2222', 'db-Pa55word-old-333'];
    const file = join(dir, 'secret.yaml');
    writeFileSync(file, `apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\ndata:\n  db: ${b64(values[0] as string)}\nstringData:\n  api: ${values[1]}\n`);
    const live = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'app', namespace: 'default', uid: 'u' }, data: { db: b64(values[2] as string) } };
    const api = await fakeApiServer({ live: { 'Secret/default/app': live } });
    try {
      await expectNoLeak(
        'k8s-deploy',
        { manifests: file, kubeconfig: kubeconfigFor(api.url, 'leak-T0ken-aaaa1111'), 'dry-run': 'true', provenance: 'false' },
        values,
        {
          check: (r) => {
            expect(r.code, r.stdout).toBe(0);
            expect(r.stdout).toMatch(/db: \(redacted, 19 bytes\)/);
            expect(r.summary).toMatch(/db: \(redacted, 19 bytes, changed\)/);
          },
        },
      );
    } finally {
      await api.close();
    }
  });

  it('the image-pull secret: password, its base64 and .dockerconfigjson', async () => {
    const file = join(dir, 'pod.yaml');
    writeFileSync(file, 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n    - name: web\n      image: 127.0.0.1:5000/team/web:1\n');
    const password = 'pull-Pa55word-9876543';
    const config = JSON.stringify({ auths: { '127.0.0.1:5000': { username: 'robot', password, auth: b64(`robot:${password}`) } } });
    const api = await fakeApiServer();
    try {
      await expectNoLeak(
        'k8s-deploy',
        {
          manifests: file,
          kubeconfig: kubeconfigFor(api.url, 'leak-T0ken-bbbb2222'),
          'dry-run': 'true',
          provenance: 'false',
          'image-pull-secret': 'pull',
          registry: '127.0.0.1:5000',
          'registry-username': 'robot',
          'registry-password': password,
        },
        // The JSON's syntax (`"auths":`, the registry host) is no secret; its values and its base64 are.
        [password, b64(`robot:${password}`), b64(config)],
        {
          check: (r) => {
            expect(r.stdout).toMatch(/\.dockerconfigjson: \(redacted, \d+ bytes, changed\)/);
            expect(visibleStdout(r.stdout) + r.summary).not.toContain(config);
          },
        },
      );
    } finally {
      await api.close();
    }
  });
});

describe('text is masked before it is cut or quoted (leak 2)', () => {
  it('smoke-test: an 80-character excerpt ending inside a reflected token', async () => {
    const token = 'reflect-T0ken-0123456789abcdef';
    const app = await listen((req, res) => res.writeHead(200).end(`${'p'.repeat(70)}${req.headers['x-auth-token']}`));
    try {
      await expectNoLeak(
        'smoke-test',
        { url: `${app.url}/`, headers: `X-Auth-Token: ${token}`, 'expect-body': 'never', retries: '0', interval: '100ms' },
        [token],
        {
          check: (r) => expect(r.code).toBe(1),
        },
      );
    } finally {
      await app.close();
    }
  });

  it('smoke-test: a header line without its colon', async () => {
    await expectNoLeak('smoke-test', { url: 'http://127.0.0.1:1/', headers: 'Authorization Bearer nocolon-T0ken-abcdef' }, ['nocolon-T0ken-abcdef'], {
      check: (r) => expect(r.code).toBe(1),
    });
  });

  it('smoke-test: a malformed URL with user:password@', async () => {
    await expectNoLeak('smoke-test', { url: 'http://deploy:malformed-Pa55word@[::1' }, ['malformed-Pa55word'], { check: (r) => expect(r.code).toBe(1) });
  });

  it('k8s-deploy: an admission message that quotes the bearer token', async () => {
    const token = 'webhook-T0ken-cccc3333dddd';
    const file = join(dir, 'cm.yaml');
    writeFileSync(file, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: b\n');
    const api = await fakeApiServer({
      patchFailure: {
        status: 403,
        body: JSON.stringify({ kind: 'Status', code: 403, reason: 'Forbidden', message: `denied for ${'z'.repeat(190)}Bearer ${token}` }),
      },
    });
    try {
      await expectNoLeak('k8s-deploy', { manifests: file, kubeconfig: kubeconfigFor(api.url, token), provenance: 'false' }, [token], {
        check: (r) => expect(r.code).toBe(1),
      });
    } finally {
      await api.close();
    }
  });

  it('registry-push: an error body that reflects the credentials', async () => {
    const password = 'reflected-Pa55word-4444';
    const reg = await fakeRegistry({
      auth: { scheme: 'basic', user: 'ci', password },
      manifestFailure: { status: 400, body: `${'e'.repeat(190)}${password} Basic ${b64(`ci:${password}`)}`, contentType: 'text/plain' },
    });
    try {
      await expectNoLeak(
        'registry-push',
        { 'oci-layout': layout, destinations: `${reg.host}:${reg.port}/team/app:1`, username: 'ci', password },
        [password, b64(`ci:${password}`)],
        { check: (r) => expect(r.code).toBe(1) },
      );
    } finally {
      await reg.close();
    }
  });

  it('registry-push: a token service that answers an HTML page quoting the password', async () => {
    const password = 'html-Pa55word-5555';
    const realm = await listen((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(`<html>wrong password ${password}</html>`));
    const reg = await fakeRegistry({ auth: { scheme: 'bearer', realm: `${realm.url}/token`, token: 'never' } });
    try {
      await expectNoLeak('registry-push', { 'oci-layout': layout, destinations: `${reg.host}:${reg.port}/team/app:1`, username: 'ci', password }, [password], {
        check: (r) => {
          expect(r.code).toBe(1);
          expect(r.stdout).toMatch(/::error::.*registry 127\.0\.0\.1:\d+ answered HTTP 200 with text\/html/);
        },
      });
    } finally {
      await reg.close();
      await realm.close();
    }
  });
});

describe('credentials stay with their origin (leak 3)', () => {
  it('registry-push: Basic credentials are not sent to an upload Location on another host', async () => {
    const password = 'origin-Pa55word-6666';
    const sink = await uploadSink('127.0.0.2');
    const reg = await fakeRegistry({ auth: { scheme: 'basic', user: 'ci', password }, uploadOrigin: () => sink.url });
    try {
      await expectNoLeak(
        'registry-push',
        { 'oci-layout': layout, destinations: `${reg.host}:${reg.port}/team/app:1`, username: 'ci', password },
        [password, b64(`ci:${password}`)],
        { elsewhere: () => headersOf(sink), check: (r) => expect(sink.seen.length, r.stdout).toBeGreaterThan(0) },
      );
    } finally {
      await reg.close();
      await sink.close();
    }
  });

  it('smoke-test: no secret-classed header follows a redirect to another origin', async () => {
    const other = await listen((_req, res) => res.writeHead(200).end('ok'), '127.0.0.2');
    const app = await listen((_req, res) => res.writeHead(302, { location: `${other.url}/landed` }).end());
    const values = ['redir-Bearer-7777aaaa', 'redir-apikey-7777bbbb', 'redir-authtok-7777cccc', 'redir-cookie-7777dddd'];
    try {
      await expectNoLeak(
        'smoke-test',
        {
          url: `${app.url}/`,
          headers: `Authorization: Bearer ${values[0]}\nX-Api-Key: ${values[1]}\nX-Auth-Token: ${values[2]}\nCookie: s=${values[3]}`,
          interval: '100ms',
        },
        values,
        { elsewhere: () => headersOf(other), check: (r) => expect(other.seen.length, r.stdout).toBe(1) },
      );
    } finally {
      await app.close();
      await other.close();
    }
  });
});

describe('structured secrets and URLs (leak 4)', () => {
  it('k8s-deploy: a kubeconfig exec plugin whose failure echoes its env', async () => {
    const plugin = join(dir, 'plugin.sh');
    writeFileSync(plugin, '#!/bin/sh\necho "plugin failed; CLOUD_SECRET=$CLOUD_SECRET" >&2\nexit 1\n');
    chmodSync(plugin, 0o755);
    const secret = 'exec-env-S3cret-8888';
    const file = join(dir, 'cm2.yaml');
    writeFileSync(file, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: b\n');
    const api = await fakeApiServer();
    const exec = { apiVersion: 'client.authentication.k8s.io/v1', command: plugin, env: [{ name: 'CLOUD_SECRET', value: secret }], interactiveMode: 'Never' };
    try {
      await expectNoLeak('k8s-deploy', { manifests: file, kubeconfig: kubeconfigFor(api.url, '', { exec }), provenance: 'false' }, [secret], {
        check: (r) => expect(r.stdout).toMatch(/::error::.*exec plugin failed/),
      });
    } finally {
      await api.close();
    }
  });

  it('smoke-test: ?token= and userinfo of a URL, in log, outputs and summary', async () => {
    const app = await listen((_req, res) => res.writeHead(200).end('ok'));
    try {
      await expectNoLeak(
        'smoke-test',
        { url: `http://probe:ui-Pa55word-9999@127.0.0.1:${app.port}/h?token=query-T0ken-9999&v=1` },
        ['ui-Pa55word-9999', 'query-T0ken-9999'],
        {
          check: (r) => {
            expect(r.code).toBe(0);
            expect(r.outputs.results).toContain('token=***');
          },
        },
      );
    } finally {
      await app.close();
    }
  });

  it('smoke-test and k8s-deploy: a proxy URL’s password when the proxy cannot be reached', async () => {
    const port = await closedPort();
    const proxy = `http://px:proxy-Pa55word-0000@127.0.0.1:${port}`;
    await expectNoLeak('smoke-test', { url: 'http://127.0.0.1:9/', retries: '0', interval: '100ms' }, ['proxy-Pa55word-0000'], {
      env: { HTTP_PROXY: proxy },
      check: (r) => expect(r.code).toBe(1),
    });
    const file = join(dir, 'cm3.yaml');
    writeFileSync(file, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: b\n');
    await expectNoLeak(
      'k8s-deploy',
      { manifests: file, kubeconfig: kubeconfigFor('http://127.0.0.1:9', 'leak-T0ken-eeee5555'), provenance: 'false', 'request-timeout': '2s' },
      ['proxy-Pa55word-0000', 'leak-T0ken-eeee5555'],
      {
        env: { HTTP_PROXY: proxy },
        check: (r) => expect(r.code).toBe(1),
      },
    );
  });

  it('k8s-deploy: the kubeconfig given as content leaves no file behind', async () => {
    const token = 'tempfile-T0ken-ffff6666';
    const file = join(dir, 'cm4.yaml');
    writeFileSync(file, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: b\n');
    const api = await fakeApiServer();
    try {
      await expectNoLeak('k8s-deploy', { manifests: file, kubeconfig: kubeconfigFor(api.url, token), provenance: 'false' }, [token], {
        check: (r) => expect(r.code, r.stdout).toBe(0),
      });
    } finally {
      await api.close();
    }
  });
});

describe('a cancelled run (SIGTERM mid-run)', () => {
  it('k8s-deploy: the kubeconfig copy and every credential are gone when the runner cancels the step', async () => {
    tried++;
    const token = 'sigterm-T0ken-gggg7777';
    const file = join(dir, 'cm5.yaml');
    writeFileSync(file, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: b\n');
    // The server-side apply never answers: the step is cancelled while it waits.
    const api = await fakeApiServer({ custom: (req) => req.method === 'PATCH' });
    const temp = mkdtempSync(join(dir, 'runner-temp-'));
    const out = join(temp, '..', `out-${process.pid}`);
    writeFileSync(out, '');
    try {
      const child = spawn(process.execPath, [join(repoRoot, 'dist', 'k8s-deploy', 'index.js')], {
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          GITHUB_ACTIONS: 'true',
          GITHUB_OUTPUT: out,
          RUNNER_TEMP: temp,
          TMPDIR: temp,
          INPUT_MANIFESTS: file,
          INPUT_KUBECONFIG: kubeconfigFor(api.url, token),
          INPUT_PROVENANCE: 'false',
          'INPUT_REQUEST-TIMEOUT': '60s',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c) => {
        stdout += c;
      });
      child.stderr.on('data', (c) => {
        stderr += c;
      });
      const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
      // Cancel once the apply is under way (its PATCH reached the server).
      const deadline = Date.now() + 20_000;
      while (!api.seen.some((s) => s.method === 'PATCH') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(
        api.seen.some((s) => s.method === 'PATCH'),
        stdout + stderr,
      ).toBe(true);
      child.kill('SIGTERM');
      await exited;
      const texts = { stdout: visibleStdout(stdout), stderr, ...filesUnder(temp) };
      expect(findLeaks([token], texts), JSON.stringify(Object.keys(texts))).toEqual([]);
      clean++;
    } finally {
      rmSync(temp, { recursive: true, force: true });
      rmSync(out, { force: true });
      await api.close();
    }
  });
});
