// The GitHub host's wire format, byte for byte, in the manner of @actions/core's own
// __tests__/command.test.ts: what reaches stdout (workflow commands) and the file commands
// (GITHUB_OUTPUT, GITHUB_STATE, GITHUB_STEP_SUMMARY). The runner-side reading of stdout is the
// parser in test/support/runner-commands.ts, which follows the runner's rules.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EOL, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseRunnerCommands } from '../../../test/support/runner-commands.ts';
import { runAction } from './action.ts';
import { UserError } from './errors.ts';
import { GitHubHost } from './host.ts';
import * as input from './inputs.ts';
import { secrets } from './mask.ts';
import { Summary } from './summary.ts';

const ZWSP = '\u200b';
let writes: string[];
let dir: string;

beforeEach(() => {
  writes = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    writes.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
    return true;
  });
  dir = mkdtempSync(join(tmpdir(), 'shipline-gh-host-'));
  for (const f of ['output', 'state', 'summary']) writeFileSync(join(dir, f), '');
  vi.stubEnv('GITHUB_OUTPUT', join(dir, 'output'));
  vi.stubEnv('GITHUB_STATE', join(dir, 'state'));
  vi.stubEnv('GITHUB_STEP_SUMMARY', join(dir, 'summary'));
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
  rmSync(dir, { recursive: true, force: true });
});

const file = (name: string) => readFileSync(join(dir, name), 'utf8');
const stdout = () => writes.join('');

describe('annotations', () => {
  it('escapes the message: %, CR and LF, each instance', () => {
    new GitHubHost().error('percent % percent % cr \r cr \r lf \n lf \n');
    expect(writes).toEqual([`::error::percent %25 percent %25 cr %0D cr %0D lf %0A lf %0A${EOL}`]);
  });

  it('escapes literal escape sequences again', () => {
    new GitHubHost().warning('%25 %0D %0A');
    expect(writes).toEqual([`::warning::%2525 %250D %250A${EOL}`]);
  });

  it('carries title, file, line and column, escaping properties (: and , too)', () => {
    new GitHubHost().error('bad FROM', { title: 'docker-build: a:b,c%', file: 'svc/Dockerfile', line: 3, column: 5 });
    expect(writes).toEqual([`::error title=docker-build%3A a%3Ab%2Cc%25,file=svc/Dockerfile,line=3,col=5::bad FROM${EOL}`]);
  });

  it('writes end line and column, and leaves unknown properties out', () => {
    new GitHubHost().notice('n', { file: 'k8s/app.yaml', line: 7, endLine: 9 });
    expect(writes).toEqual([`::notice file=k8s/app.yaml,line=7,endLine=9::n${EOL}`]);
  });

  it('a property value cannot end the property list or the command', () => {
    new GitHubHost().error('m', { file: 'x::set-output name=a::b,line=1\nz' });
    const [cmd] = parseRunnerCommands(stdout()).commands;
    expect(cmd).toMatchObject({ name: 'error', message: 'm', properties: { file: 'x::set-output name=a::b,line=1\nz' } });
  });

  it('masks registered secrets in messages and properties', () => {
    const host = new GitHubHost();
    host.mask('annotation-secret-1');
    writes = [];
    host.error('token annotation-secret-1 refused', { title: 'annotation-secret-1' });
    expect(writes).toEqual([`::error title=***::token *** refused${EOL}`]);
  });

  it('debug lines are workflow commands, escaped and masked', () => {
    new GitHubHost().debug('a\nb %');
    expect(writes).toEqual([`::debug::a%0Ab %25${EOL}`]);
  });
});

describe('groups', () => {
  it('escapes the title; nested groups become plain lines', async () => {
    const host = new GitHubHost();
    await host.group('Build\n::error::x', async () => {
      await host.group('::inner', async () => host.info('in'));
    });
    expect(writes).toEqual([`::group::Build%0A::error::x${EOL}`, `:${ZWSP}:inner${EOL}`, `in${EOL}`, `::endgroup::${EOL}`]);
  });
});

describe('outputs', () => {
  it('GITHUB_OUTPUT gets a heredoc with a random delimiter', () => {
    new GitHubHost().setOutput('metadata', '{"a":1}\nline two');
    expect(file('output')).toMatch(/^metadata<<(ghadelimiter_[0-9a-f-]{36})\n\{"a":1\}\nline two\n\1\n$/);
    expect(writes).toEqual([]);
  });

  it('writes values as they are: a registered secret inside an output is not masked', () => {
    const host = new GitHubHost();
    host.mask('output-secret-2');
    host.setOutput('json', '{"token":"output-secret-2"}');
    expect(file('output')).toContain('\n{"token":"output-secret-2"}\n');
  });

  it('without GITHUB_OUTPUT falls back to set-output on stdout, escaped', () => {
    vi.stubEnv('GITHUB_OUTPUT', '');
    new GitHubHost().setOutput('tags', 'a:1\nb:2');
    expect(writes).toEqual([EOL, `::set-output name=tags::a:1%0Ab:2${EOL}`]);
  });

  it('state goes to GITHUB_STATE in the same framing and comes back from STATE_*', () => {
    const host = new GitHubHost();
    host.saveState('builder', 'shipline-1');
    expect(file('state')).toMatch(/^builder<<(ghadelimiter_[0-9a-f-]{36})\nshipline-1\n\1\n$/);
    vi.stubEnv('STATE_builder', 'shipline-1');
    expect(host.getState('builder')).toBe('shipline-1');
  });
});

describe('add-mask', () => {
  it('one line per secret, any length (the runner decides what it masks)', () => {
    const host = new GitHubHost();
    host.mask('single-secret-3');
    host.mask('ab');
    expect(writes).toEqual([`::add-mask::single-secret-3${EOL}`, `::add-mask::ab${EOL}`]);
  });

  it('a multi-line secret is sent line by line, never whole (the runner splits it at line breaks)', () => {
    const host = new GitHubHost();
    host.mask('-----BEGIN KEY-----\r\nMIIEpmultiA\n\nMIIEpmultiB\n-----END KEY-----\n');
    expect(writes).toEqual([
      `::add-mask::-----BEGIN KEY-----${EOL}`,
      `::add-mask::MIIEpmultiA${EOL}`,
      `::add-mask::MIIEpmultiB${EOL}`,
      `::add-mask::-----END KEY-----${EOL}`,
    ]);
    expect(stdout()).not.toContain('%0A');
  });

  it('sends a value once', () => {
    const host = new GitHubHost();
    host.mask('twice-secret-4');
    host.mask('twice-secret-4');
    expect(writes).toEqual([`::add-mask::twice-secret-4${EOL}`]);
  });

  it('a structured secret (a kubeconfig) is never sent, but is redacted locally as a whole', () => {
    const host = new GitHubHost();
    const doc = 'apiVersion: v1\nkind: Config\nusers: [{name: u, user: {token: structured-tok-5}}]';
    host.mask(doc, 'structured');
    host.mask('structured-tok-5');
    expect(writes).toEqual([`::add-mask::structured-tok-5${EOL}`]);
    writes = [];
    host.info(`apiVersion: v1\n${doc}`);
    expect(writes).toEqual([`apiVersion: v1\n***${EOL}`]);
  });
});

describe('plain lines are inert', () => {
  const host = () => new GitHubHost();
  it.each([
    ['::set-output name=x::y', `:${ZWSP}:set-output name=x::y`],
    ['  \t::add-mask::abc', `  \t:${ZWSP}:add-mask::abc`],
    ['text ##[error]legacy', `text #${ZWSP}#[error]legacy`],
    ['##[set-output name=a;]b', `#${ZWSP}#[set-output name=a;]b`],
    ['%0A::error::encoded', '%0A::error::encoded'],
  ])('%j', (line, written) => {
    host().info(line);
    expect(writes).toEqual([`${written}${EOL}`]);
    expect(parseRunnerCommands(stdout()).commands).toEqual([]);
  });

  it('a lone CR ends a line for the runner: every piece is made inert', () => {
    host().info('progress 50%\r::error::injected\r\n::stop-commands::tok');
    expect(writes).toEqual([`progress 50%\n:${ZWSP}:error::injected\n:${ZWSP}:stop-commands::tok${EOL}`]);
    expect(parseRunnerCommands(stdout()).commands).toEqual([]);
  });

  it('masks before making inert', () => {
    const h = host();
    h.mask('info-secret-6');
    writes = [];
    h.info('::login info-secret-6');
    expect(writes).toEqual([`:${ZWSP}:login ***${EOL}`]);
  });
});

describe('external text', () => {
  it('is fenced by stop-commands with a fresh random token, lines masked and inert', () => {
    const h = new GitHubHost();
    h.mask('external-secret-7');
    writes = [];
    h.external('line one\n::error::fake external-secret-7\n##[warning]old\n');
    h.external('second');
    const tokens = writes.map((w) => /^::stop-commands::([0-9a-f-]{36})\n/.exec(w)?.[1]);
    expect(tokens[0]).toBeDefined();
    expect(tokens[1]).toBeDefined();
    expect(tokens[0]).not.toBe(tokens[1]);
    expect(writes[0]).toBe(`::stop-commands::${tokens[0]}${EOL}line one\n:${ZWSP}:error::fake ***\n#${ZWSP}#[warning]old${EOL}::${tokens[0]}::${EOL}`);
    const { commands, stopped } = parseRunnerCommands(stdout());
    expect(commands.map((c) => c.name)).toEqual(['stop-commands', 'stop-commands']);
    expect(stopped).toBe(false);
  });

  it('a hostile stop-commands inside cannot switch the action’s own commands off', () => {
    const h = new GitHubHost();
    h.external('::stop-commands::hostile\nrest');
    h.error('the action’s own error');
    const { commands } = parseRunnerCommands(stdout());
    expect(commands.at(-1)).toMatchObject({ name: 'error', message: 'the action’s own error' });
  });
});

describe('inputs', () => {
  it('are read from INPUT_* and trimmed, secrets too', () => {
    vi.stubEnv('INPUT_PASSWORD', '  pw-with-newline\n');
    vi.stubEnv('INPUT_CACHE-DIR', ' /tmp/c ');
    const h = new GitHubHost();
    expect(h.input('password')).toBe('pw-with-newline');
    expect(h.input('cache-dir')).toBe('/tmp/c');
    expect(h.input('absent')).toBeUndefined();
  });
});

describe('summary', () => {
  it('appends masked Markdown to GITHUB_STEP_SUMMARY', async () => {
    const h = new GitHubHost();
    h.mask('summary-secret-8');
    await h.writeSummary(new Summary().heading('Done').paragraph('token summary-secret-8'));
    await h.writeSummary(new Summary().paragraph('again'));
    expect(file('summary')).toBe('### Done\n\ntoken ***\nagain\n');
  });

  it('without a summary file writes nothing and does not fail', async () => {
    vi.stubEnv('GITHUB_STEP_SUMMARY', '');
    await new GitHubHost().writeSummary(new Summary().paragraph('x'));
    expect(writes).toEqual([]);
  });
});

describe('OIDC tokens', () => {
  let server: Server;
  let seen: { auth?: string; url?: string } = {};
  beforeAll(async () => {
    server = createServer((req, res) => {
      seen = { auth: req.headers.authorization, url: req.url };
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ value: 'eyJhbGciOi.oidc-token-9.sig' }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('come from core (loaded on first use), are add-masked and redacted locally', async () => {
    vi.stubEnv('ACTIONS_ID_TOKEN_REQUEST_URL', `http://127.0.0.1:${(server.address() as AddressInfo).port}/token?api-version=2.0`);
    vi.stubEnv('ACTIONS_ID_TOKEN_REQUEST_TOKEN', 'request-token-10');
    const h = new GitHubHost();
    const token = await h.getIDToken('sts.example');
    expect(token).toBe('eyJhbGciOi.oidc-token-9.sig');
    expect(seen.auth).toBe('Bearer request-token-10');
    expect(seen.url).toContain('audience=sts.example');
    expect(stdout()).toContain(`::add-mask::eyJhbGciOi.oidc-token-9.sig${EOL}`);
    expect(secrets.redact('t=eyJhbGciOi.oidc-token-9.sig')).toBe('t=***');
  });
});

describe('runAction on GitHub', () => {
  it('points the final error at the file and line the error knows', async () => {
    const code = await runAction(
      {
        name: 'demo',
        schema: {},
        run: async () => {
          throw new UserError('unknown instruction FORM', { where: { file: 'svc/Dockerfile', line: 2, column: 1, title: 'Dockerfile syntax' } });
        },
        outputs: () => ({}),
      },
      new GitHubHost(),
      { cancellation: false },
    );
    expect(code).toBe(1);
    expect(writes).toEqual([`::error title=Dockerfile syntax,file=svc/Dockerfile,line=2,col=1::unknown instruction FORM${EOL}`]);
  });

  it('never quotes a secret input in its error', async () => {
    vi.stubEnv('INPUT_TOKEN', 'hunter2-but-longer-11');
    const code = await runAction(
      { name: 'demo', schema: { token: input.string({ secret: true, pattern: /^t_/ }) }, run: async () => ({}), outputs: () => ({}) },
      new GitHubHost(),
      { cancellation: false },
    );
    expect(code).toBe(1);
    expect(writes[0]).toBe(`::add-mask::hunter2-but-longer-11${EOL}`);
    expect(writes.slice(1).join('')).not.toContain('hunter2');
    expect(writes[1]).toMatch(/^::error::input "token": the value \(not shown: the input is secret\) has the wrong form/);
  });

  it('scrubs an error from validate() that quotes a cut piece of a secret input', async () => {
    const value = `glpat-${'k'.repeat(90)}-end`;
    vi.stubEnv('INPUT_TOKEN', value);
    const code = await runAction(
      {
        name: 'demo',
        schema: { token: input.string({ secret: true }) },
        validate: (i) => {
          throw new UserError(`${input.quote(i.token as string)} is not for this registry`, { input: 'token', hint: 'use a deploy token' });
        },
        run: async () => ({}),
        outputs: () => ({}),
      },
      new GitHubHost(),
      { cancellation: false },
    );
    expect(code).toBe(1);
    const errors = writes.filter((w) => w.startsWith('::error'));
    expect(errors).toEqual([`::error::input "token": is not a valid string (the value is not shown: the input is secret) — use a deploy token${EOL}`]);
  });
});
