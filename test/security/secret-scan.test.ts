// The secret scan of the hardening runs must find a secret in each form a run could leave it in;
// a scan that cannot find is a test that cannot fail.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Scan, watchCredentialFiles } from '../support/secret-scan.ts';

const password = randomBytes(18).toString('base64url');
const jwt = `eyJhbGciOiJSUzI1NiIsImtpZCI6IngifQ.${Buffer.from('{"sub":"system:serviceaccount:a:b"}').toString('base64url')}.${randomBytes(256).toString('base64url')}`;
const scan = () =>
  new Scan([
    { name: 'password', value: password },
    { name: 'token', value: jwt, random: jwt.split('.')[2] },
  ]);

describe('secret scan', () => {
  it.each([
    ['raw', (s: string) => `login ok ${s} done`],
    [
      'base64 inside a docker config auth, at each alignment',
      (s: string) => JSON.stringify({ auths: { r: { auth: Buffer.from(`u:${s}`).toString('base64') } } }),
    ],
    ['base64 at offset 1', (s: string) => Buffer.from(`ab${s}`).toString('base64')],
    ['base64 at offset 2', (s: string) => Buffer.from(`abc${s}x`).toString('base64')],
    ['url-safe base64', (s: string) => Buffer.from(`xy${s}`).toString('base64url')],
    ['a 23-character window', (s: string) => `…${s.slice(1, 24)}…`],
  ])('finds the password %s', (_what, leak) => {
    const sc = scan();
    sc.text('t', leak(password));
    expect(sc.hits.map((h) => h.secret)).toContain('password');
    expect(sc.clean()).toEqual(['token']);
  });

  it("finds a token's signature, not the header every token of its issuer shares", () => {
    const other = `eyJhbGciOiJSUzI1NiIsImtpZCI6IngifQ.e30.${randomBytes(256).toString('base64url')}`;
    const sc = scan();
    sc.text('other token', other);
    expect(sc.hits).toEqual([]);
    sc.text('leak', `Authorization: Bearer ${jwt.slice(0, 200)}`);
    expect(sc.hits.map((h) => h.secret)).toEqual(expect.arrayContaining(['token']));
  });

  it('scans trees, and the watcher notes credential files with their mode and whether they are left', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shipline-scan-'));
    try {
      const sc = scan();
      const w = watchCredentialFiles([], sc, [dir]);
      mkdirSync(join(dir, 'job'));
      await new Promise((r) => setTimeout(r, 100));
      writeFileSync(join(dir, 'job', 'config.json'), JSON.stringify({ auth: Buffer.from(`u:${password}`).toString('base64') }), { mode: 0o644 });
      writeFileSync(join(dir, 'job', 'plain.txt'), 'nothing');
      await new Promise((r) => setTimeout(r, 300));
      const r = w.stop();
      expect(r.seen.map((f) => [f.path, f.mode.toString(8)])).toEqual([[join(dir, 'job', 'config.json'), '644']]);
      expect(r.left).toEqual([join(dir, 'job', 'config.json')]);
      sc.tree(dir, { label: 'd' });
      expect(sc.hits.map((h) => h.where)).toEqual(['d/job/config.json']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
