import { describe, expect, it } from 'vitest';
import { errorCommands, injectedCommands, parseRunnerCommands } from '../support/runner-commands.ts';

// The parser the corpora rely on, checked against the runner's rules it claims to follow.
describe('runner command parser', () => {
  it('finds v2 commands at a line start after trimming, on any line break', () => {
    const out = 'a\n  ::warning::w1\r::error file=a.ts,line=3::e%0Ax\r\n::notice::n\nnot ::debug::d';
    const cmds = parseRunnerCommands(out).commands.map((c) => [c.name, c.message, c.properties]);
    expect(cmds).toEqual([
      ['warning', 'w1', {}],
      ['error', 'e\nx', { file: 'a.ts', line: '3' }],
      ['notice', 'n', {}],
    ]);
  });

  it('finds the legacy form anywhere in a line', () => {
    const cmds = parseRunnerCommands('text ##[set-output name=x;]y\n').commands;
    expect(cmds.map((c) => [c.form, c.name, c.message, c.properties])).toEqual([['legacy', 'set-output', 'y', { name: 'x' }]]);
  });

  it('honours stop-commands until the token line, case-insensitively', () => {
    const p = parseRunnerCommands('::stop-commands::Tok\n::error::hidden\n  ::tok::  \n::error::seen');
    expect(p.commands.map((c) => c.message)).toEqual(['Tok', 'seen']);
    expect(p.stopped).toBe(false);
    expect(parseRunnerCommands('::stop-commands::t\n::error::never').stopped).toBe(true);
  });

  it('flags what an action never issues, hostile masks and hostile stop tokens', () => {
    const out = '::add-mask::s3cret\n::set-output name=x::y\n::add-mask::foo\n::error::PWNED\n::stop-commands::tok\n';
    const problems = injectedCommands(out, { secrets: ['s3cret'], markers: ['PWNED'], hostileTokens: ['tok'] });
    expect(problems.join('\n')).toMatch(/never issues.*set-output/);
    expect(problems.join('\n')).toMatch(/add-mask of a non-secret.*foo/);
    expect(problems.join('\n')).toMatch(/injected payload PWNED/);
    expect(problems.join('\n')).toMatch(/hostile token/);
    expect(problems.join('\n')).toMatch(/ends with workflow commands stopped/);
    expect(
      injectedCommands('::add-mask::s3cret\n::group::g\nx\n::endgroup::\n::error::failed: PWNED inside', { secrets: ['s3cret'], markers: ['PWNED'] }),
    ).toEqual([]);
    expect(errorCommands('::error::a\n::stop-commands::z\n::error::b\n')).toHaveLength(1);
  });
});
