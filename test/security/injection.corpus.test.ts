// The injection corpus: every place where text from outside reaches the log, an error or the
// summary, fed every form of runner command, through the committed bundles (dist/), under the
// GitHub contract. The runner's own reading rules (test/support/runner-commands.ts) decide what
// would have run; nothing may run but the action's own commands, and its final ::error must count.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeOciLayout } from '../support/oci/layout.ts';
import { type Run, runGitHubAction } from '../support/run-action.ts';
import { errorCommands, injectedCommands } from '../support/runner-commands.ts';
import { fakeApiServer, fakeRegistry, kubeconfigFor, type Listening, listen } from './support.ts';

/** Every form of command a hostile text may carry; `PWNED` marks the payload, `tok` its stop token. */
const PAYLOADS: Record<string, string> = {
  'set-output': '::set-output name=PWNED::y',
  'add-mask': '::add-mask::PWNED',
  'stop-commands': '::stop-commands::tok',
  'legacy ##[': '##[set-output name=PWNED;]y',
  '%0A escape': 'x%0A::error::PWNED',
  LF: 'x\n::error::PWNED',
  'CR/LF and blanks': 'x\r\n   ::warning::PWNED',
  'lone CR': 'x\r::notice::PWNED',
};
/** Header values cannot carry line breaks (Node refuses to send them): the forms that fit in one. */
const HEADER_PAYLOADS = ['set-output', 'add-mask', 'stop-commands', 'legacy ##[', '%0A escape'];

/** A hostile text: the payload at the start of the text, at the start of a line and mid-line. */
const hostile = (p: string) => `${p}\n${p}\n  ${p} tail ${p}`;
const TOKEN = 'corpus-T0ken-abcdef123456';
const PASSWORD = 'corpus-Pa55word-xyz987';

let dir: string;
let layout: string;
let manifests: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'shipline-inject-'));
  layout = join(dir, 'layout');
  await makeOciLayout(layout, [{ layers: [256] }]);
  manifests = join(dir, 'cm.yaml');
  writeFileSync(manifests, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-config\ndata:\n  mode: "new"\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tried: Record<string, { tried: number; clean: number }> = {};
afterAll(() => {
  const total = Object.values(tried).reduce((a, b) => ({ tried: a.tried + b.tried, clean: a.clean + b.clean }), { tried: 0, clean: 0 });
  process.stderr.write(
    `injection corpus: ${Object.entries(tried)
      .map(([k, v]) => `${k} ${v.tried}/${v.clean}`)
      .join(', ')}; total tried ${total.tried} / clean ${total.clean}\n`,
  );
});

function check(action: string, r: Run, expectFailure: boolean): void {
  const entry = tried[action] ?? { tried: 0, clean: 0 };
  tried[action] = entry;
  entry.tried++;
  const problems = injectedCommands(r.stdout, { secrets: [TOKEN, PASSWORD], markers: ['PWNED'], hostileTokens: ['tok'] });
  expect(problems, r.stdout).toEqual([]);
  // Outputs are the action's own: nothing injected a `PWNED` one.
  expect(Object.keys(r.outputs).filter((k) => k.includes('PWNED'))).toEqual([]);
  if (expectFailure) {
    expect(r.code, r.stdout + r.stderr).toBe(1);
    // The action's failure is still a command the runner acts on (not swallowed by a stop-commands).
    expect(errorCommands(r.stdout).length, r.stdout).toBeGreaterThan(0);
  } else {
    expect(r.code, r.stdout + r.stderr).toBe(0);
  }
  entry.clean++;
}

type Case = [string, string];
const cases = (places: string[], payloads: string[] = Object.keys(PAYLOADS)): Case[] => places.flatMap((p) => payloads.map((k): Case => [p, k]));

describe('registry-push: registry answers', () => {
  const push = (reg: Listening) =>
    runGitHubAction('registry-push', { 'oci-layout': layout, destinations: `${reg.host}:${reg.port}/team/app:1`, username: 'ci', password: PASSWORD });

  it.each(cases(['manifest PUT error text', 'manifest PUT error document', 'ping error body', 'token service error body']))('%s: %s', async (place, key) => {
    const text = hostile(PAYLOADS[key] as string);
    const open: Listening[] = [];
    try {
      let reg: Listening;
      if (place === 'manifest PUT error text') reg = await fakeRegistry({ manifestFailure: { status: 400, body: text, contentType: 'text/plain' } });
      else if (place === 'manifest PUT error document')
        reg = await fakeRegistry({ manifestFailure: { status: 400, body: JSON.stringify({ errors: [{ code: 'MANIFEST_INVALID', message: text }] }) } });
      else if (place === 'ping error body') reg = await fakeRegistry({ pingFailure: { status: 404, body: text } });
      else {
        const realm = await listen((_req, res) => res.writeHead(400, { 'content-type': 'text/plain' }).end(text));
        open.push(realm);
        reg = await fakeRegistry({ auth: { scheme: 'bearer', realm: `${realm.url}/token`, token: TOKEN } });
      }
      open.push(reg);
      check('registry-push', await push(reg), true);
    } finally {
      await Promise.all(open.map((l) => l.close()));
    }
  });

  it.each(cases(['Docker-Content-Digest header'], HEADER_PAYLOADS))('%s: %s', async (_place, key) => {
    const reg = await fakeRegistry({ manifestDigest: PAYLOADS[key] as string });
    try {
      check('registry-push', await push(reg), true);
    } finally {
      await reg.close();
    }
  });
});

describe('k8s-deploy: API server answers and live objects', () => {
  const deploy = (api: Listening, extra: Record<string, string> = {}) =>
    runGitHubAction('k8s-deploy', { manifests, kubeconfig: kubeconfigFor(api.url, TOKEN), provenance: 'false', 'request-timeout': '5s', ...extra });

  it.each(cases(['Status message', 'Status reason', 'Status causes', 'non-Status error body']))('%s: %s', async (place, key) => {
    const text = hostile(PAYLOADS[key] as string);
    const status =
      place === 'non-Status error body'
        ? { status: 400, body: text, contentType: 'text/plain' }
        : {
            status: 422,
            body: JSON.stringify({
              kind: 'Status',
              apiVersion: 'v1',
              status: 'Failure',
              code: 422,
              reason: place === 'Status reason' ? text : 'Invalid',
              message: place === 'Status message' ? text : 'ConfigMap "app-config" is invalid',
              details: { causes: place === 'Status causes' ? [{ reason: 'FieldValueInvalid', field: text, message: text }] : [] },
            }),
          };
    const api = await fakeApiServer({ patchFailure: status });
    try {
      check('k8s-deploy', await deploy(api), true);
    } finally {
      await api.close();
    }
  });

  it.each(cases(['live data in the dry-run diff', 'live label and annotation in the dry-run diff']))('%s: %s', async (place, key) => {
    const text = hostile(PAYLOADS[key] as string);
    const metadata: Record<string, unknown> = { name: 'app-config', namespace: 'default', uid: 'u1', resourceVersion: '1' };
    if (place !== 'live data in the dry-run diff') {
      metadata.labels = { team: text };
      metadata.annotations = { note: text };
    }
    const live = { apiVersion: 'v1', kind: 'ConfigMap', metadata, data: { mode: place === 'live data in the dry-run diff' ? text : 'old' } };
    const api = await fakeApiServer({ live: { 'ConfigMap/default/app-config': live } });
    try {
      const r = await deploy(api, { 'dry-run': 'true' });
      check('k8s-deploy', r, false);
      // The diff was shown (so the hostile text was printed, inert), in the log and the summary.
      expect(r.stdout).toMatch(/--- ConfigMap default\/app-config/);
      expect(r.summary).toMatch(/PWNED|stop-commands/);
    } finally {
      await api.close();
    }
  });
});

describe('smoke-test: response bodies, headers and API server messages', () => {
  const smoke = (inputs: Record<string, string>) =>
    runGitHubAction('smoke-test', { retries: '0', interval: '100ms', timeout: '5s', deadline: '10s', ...inputs });

  it.each(cases(['body excerpt', 'JSON value', 'non-JSON body', 'API server Status message']))('%s: %s', async (place, key) => {
    const text = hostile(PAYLOADS[key] as string);
    const app =
      place === 'API server Status message'
        ? await fakeApiServer({
            custom: (req, res) => {
              if (!req.url?.includes('/proxy/')) return false;
              res
                .writeHead(503, { 'content-type': 'application/json' })
                .end(JSON.stringify({ kind: 'Status', code: 503, reason: 'ServiceUnavailable', message: text }));
              return true;
            },
          })
        : await listen((_req, res) => {
            const body = place === 'JSON value' ? JSON.stringify({ status: text }) : text;
            res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
          });
    try {
      const inputs: Record<string, string> =
        place === 'body excerpt'
          ? { url: `${app.url}/`, 'expect-body': 'never-matches' }
          : place === 'JSON value'
            ? { url: `${app.url}/`, 'expect-json': '$.status = "ok"' }
            : place === 'non-JSON body'
              ? { url: `${app.url}/`, 'expect-json': '$.status = "ok"' }
              : { service: 'shop/orders:8080/healthz', kubeconfig: kubeconfigFor(app.url, TOKEN) };
      check('smoke-test', await smoke(inputs), true);
    } finally {
      await app.close();
    }
  });

  it.each(cases(['redirect Location header'], HEADER_PAYLOADS))('%s: %s', async (_place, key) => {
    const app = await listen((_req, res) => res.writeHead(302, { location: `/next?${PAYLOADS[key]}` }).end());
    try {
      check('smoke-test', await smoke({ url: `${app.url}/`, 'max-redirects': '1' }), true);
    } finally {
      await app.close();
    }
  });
});
