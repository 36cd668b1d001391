import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { input } from '@shipline/kit';
import { afterAll, describe, expect, it } from 'vitest';
import { envName, parseArgs, UsageError } from './args.ts';

const schema = {
  registry: input.string(),
  username: input.string(),
  password: input.string({ secret: true }),
  'registry-password': input.string({ secret: true }),
  kubeconfig: input.string({ secret: 'whole' }),
  'dry-run': input.boolean(),
  tags: input.list(input.string()),
};
const dir = mkdtempSync(join(tmpdir(), 'shipline-cli-args-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const usage = (argv: string[], env = {}) => {
  try {
    parseArgs(argv, schema, 'demo', env);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error('accepted');
};

describe('flags', () => {
  it('--name value, --name=value, bare booleans, repeats joined', () => {
    const p = parseArgs(['--registry', 'r:5000', '--username=ci', '--dry-run', '--tags', 'a', '--tags', 'b'], schema, 'demo');
    expect(Object.fromEntries(p.inputs)).toEqual({ registry: 'r:5000', username: 'ci', 'dry-run': 'true', tags: 'a\nb' });
  });

  it('a flag followed by another flag is a missing value, named', () => {
    expect(usage(['--username', '--registry', 'x'])).toBe('--username needs a value (got the flag --registry); write --username VALUE or --username=VALUE');
    expect(usage(['--username'])).toMatch(/^--username needs a value;/);
    expect(parseArgs(['--username=--odd'], schema, 'demo').inputs.get('username')).toBe('--odd');
  });

  it('unknown inputs suggest near names', () => expect(usage(['--user', 'x'])).toMatch(/no input --user \(did you mean --username\?\)/));
});

describe('secret inputs from files and the environment', () => {
  it('--<secret>-file reads the value from a file', () => {
    const f = join(dir, 'pw');
    writeFileSync(f, 'file-secret\n', { mode: 0o600 });
    const p = parseArgs(['--password-file', f, `--kubeconfig-file=${f}`], schema, 'demo');
    expect(p.inputs.get('password')).toBe('file-secret\n');
    expect(p.inputs.get('kubeconfig')).toBe('file-secret\n');
    expect(p.sources.get('password')).toBe('the file given by --password-file');
  });

  it('any input has a -file form (a dotenv output spilled to a file feeds the next action)', () => {
    const f = join(dir, 'tags');
    writeFileSync(f, 'a\nb\n');
    expect(parseArgs(['--tags-file', f], schema, 'demo').inputs.get('tags')).toBe('a\nb\n');
    expect(usage(['--nothing-file', '/x'])).toMatch(/no input --nothing-file/);
  });

  it('an unreadable file is a usage error naming the flag, not the content', () =>
    expect(usage(['--password-file', join(dir, 'missing')])).toMatch(/^--password-file: cannot read .*missing \(ENOENT\)$/));

  it('SHIPLINE_<INPUT> (uppercase, dashes as underscores) fills secret inputs only', () => {
    expect(envName('registry-password')).toBe('SHIPLINE_REGISTRY_PASSWORD');
    const p = parseArgs([], schema, 'demo', { SHIPLINE_PASSWORD: 'env-pw', SHIPLINE_REGISTRY_PASSWORD: 'env-rpw', SHIPLINE_REGISTRY: 'not-an-input-source' });
    expect(Object.fromEntries(p.inputs)).toEqual({ password: 'env-pw', 'registry-password': 'env-rpw' });
    expect(p.sources.get('registry-password')).toBe('$SHIPLINE_REGISTRY_PASSWORD');
  });

  it('flags and files win over the environment', () => {
    const f = join(dir, 'pw2');
    writeFileSync(f, 'from-file');
    const p = parseArgs(['--password', 'from-flag', '--registry-password-file', f], schema, 'demo', {
      SHIPLINE_PASSWORD: 'env',
      SHIPLINE_REGISTRY_PASSWORD: 'env',
    });
    expect(p.inputs.get('password')).toBe('from-flag');
    expect(p.inputs.get('registry-password')).toBe('from-file');
    expect(p.sources.has('password')).toBe(false);
  });
});
