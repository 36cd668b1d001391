// The CLI and GitLab hosts: every log line masked and inert (the CLI may itself run inside a GitHub
// step, whose runner reads its stderr too), outputs written as they are.
import { describe, expect, it } from 'vitest';
import { parseRunnerCommands } from '../../../test/support/runner-commands.ts';
import { CliHost, GitLabHost } from './host.ts';

const ZWSP = '\u200b';

function cli() {
  const out: string[] = [];
  const err: string[] = [];
  const host = new CliHost(
    new Map(),
    (t) => out.push(t),
    (t) => err.push(t),
  );
  return { host, out, err };
}

describe('CLI host', () => {
  it('masks and neutralises info, warning, error, group titles and external text', async () => {
    const { host, err } = cli();
    host.mask('cli-host-secret-1');
    await host.group('::group::cli-host-secret-1', async () => {
      host.info('::set-output name=a::cli-host-secret-1');
      host.warning('w ##[error]x', { file: 'k8s/app.yaml', line: 4 });
      host.external('body\r::add-mask::x\n');
    });
    host.error('e\n::error::inner');
    expect(err.join('')).toBe(
      [
        `── :${ZWSP}:group::***`,
        `:${ZWSP}:set-output name=a::***`,
        `warning: k8s/app.yaml:4: w #${ZWSP}#[error]x`,
        'body',
        `:${ZWSP}:add-mask::x`,
        `error: e\n:${ZWSP}:error::inner`,
        '',
      ].join('\n'),
    );
    expect(parseRunnerCommands(err.join('')).commands).toEqual([]);
  });

  it('writes outputs as they are, secrets included', async () => {
    const { host, out } = cli();
    host.mask('cli-host-secret-2');
    host.setOutput('json', '{"t":"cli-host-secret-2"}');
    host.setOutput('list', 'a\nb');
    await host.finish();
    expect(out.join('')).toBe('json={"t":"cli-host-secret-2"}\nlist<<__SHIPLINE_EOF__\na\nb\n__SHIPLINE_EOF__\n');
  });

  it('has no OIDC token, and says where there is one', async () => {
    await expect(cli().host.getIDToken()).rejects.toThrow(/only on GitHub Actions/);
  });
});

describe('GitLab host', () => {
  it('hands the outputs raw to its writer (the dotenv), lines inert in the log', async () => {
    const err: string[] = [];
    const written: [string, string][][] = [];
    const host = new GitLabHost(
      new Map(),
      () => {},
      (t) => err.push(t),
      (outputs) => written.push([...outputs]),
    );
    host.mask('gitlab-host-secret-3');
    host.setOutput('token-json', '{"t":"gitlab-host-secret-3"}');
    host.external('##[set-output name=x]gitlab-host-secret-3');
    await host.finish();
    expect(written).toEqual([[['token-json', '{"t":"gitlab-host-secret-3"}']]]);
    expect(err.join('')).toBe(`#${ZWSP}#[set-output name=x]***\n`);
  });
});
