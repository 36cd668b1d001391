// Every bad input: exit 1, exactly one ::error line naming the input, no stack trace, and docker is
// never run (a stand-in `docker` first on PATH records any call).
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runGitHubAction, stackLines } from '../../../test/support/run-action.ts';

let dir: string;
let calls: string;
let ctx: string;
let env: NodeJS.ProcessEnv;
const SECRET = 'hunter2-very-secret-value';

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'shipline-db-bad-'));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  calls = join(dir, 'docker-calls');
  writeFileSync(join(bin, 'docker'), `#!/bin/sh\necho "$@" >> '${calls}'\nexit 1\n`);
  chmodSync(join(bin, 'docker'), 0o755);
  ctx = join(dir, 'ctx');
  mkdirSync(ctx);
  writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY hello.txt /\n');
  writeFileSync(join(ctx, 'hello.txt'), 'hi\n');
  mkdirSync(join(dir, 'not-a-layout'));
  writeFileSync(join(dir, 'not-a-layout', 'keep.txt'), 'mine');
  writeFileSync(join(dir, 'a-file'), 'x');
  env = { PATH: `${bin}:${process.env.PATH}` };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// [why, inputs, input named in the error, text the error must contain]
const cases: [string, () => Record<string, string>, string, RegExp][] = [
  ['missing context dir', () => ({ context: join(dir, 'nope') }), 'context', /does not exist/],
  ['context is a file', () => ({ context: join(dir, 'a-file') }), 'context', /is not a directory/],
  ['missing Dockerfile', () => ({ context: ctx, file: join(dir, 'Dockerfile.missing') }), 'file', /Dockerfile .* does not exist/],
  ['context without Dockerfile', () => ({ context: join(dir, 'not-a-layout') }), 'file', /add a Dockerfile/],
  ['bad target', () => ({ context: ctx, target: 'my stage' }), 'target', /wrong form/],
  ['build-arg without =', () => ({ context: ctx, 'build-args': 'NODE_ENV' }), 'build-args', /not NAME=value/],
  ['build-arg bad name', () => ({ context: ctx, 'build-args': '1X=2' }), 'build-args', /not a valid build argument name/],
  ['build-arg twice', () => ({ context: ctx, 'build-args': 'A=1\nA=2' }), 'build-args', /given twice/],
  ['secret without =', () => ({ context: ctx, secrets: SECRET }), 'secrets', /not id=value \(value not shown/],
  ['secret bad id', () => ({ context: ctx, secrets: `bad id=${SECRET}` }), 'secrets', /secret id "bad id" is not valid/],
  ['secret twice', () => ({ context: ctx, secrets: `tok=${SECRET}\ntok=${SECRET}2` }), 'secrets', /given twice/],
  ['label without =', () => ({ context: ctx, labels: 'team' }), 'labels', /not key=value/],
  ['annotation bad target', () => ({ context: ctx, annotations: 'layer:a.b=c' }), 'annotations', /not an annotation target/],
  ['YAML 1.1 boolean', () => ({ context: ctx, 'no-cache': 'yes' }), 'no-cache', /YAML 1\.2 booleans/],
  ['bad platform', () => ({ context: ctx, platforms: 'amd64' }), 'platforms', /not a platform/],
  ['platform twice', () => ({ context: ctx, platforms: 'linux/amd64,linux/amd64', load: 'false', 'oci-layout': join(dir, 'l1') }), 'platforms', /given twice/],
  ['several platforms loaded', () => ({ context: ctx, platforms: 'linux/amd64,linux/386' }), 'load', /holds one platform/],
  ['several platforms without layout', () => ({ context: ctx, platforms: 'linux/amd64,linux/386', load: 'false' }), 'oci-layout', /need an OCI layout/],
  ['image with uppercase', () => ({ context: ctx, image: '127.0.0.1:5000/Shop/orders' }), 'image', /must be lowercase/],
  ['image with tag', () => ({ context: ctx, image: '127.0.0.1:5000/shop/orders:1.0' }), 'image', /has a tag or digest/],
  ['image with scheme', () => ({ context: ctx, image: 'http://127.0.0.1:5000/shop' }), 'image', /URL scheme/],
  ['unknown tag rule', () => ({ context: ctx, tags: 'type=commit' }), 'tags', /type "commit" is unknown/],
  ['raw rule without value', () => ({ context: ctx, tags: 'type=raw' }), 'tags', /needs value=/],
  ['bad semver pattern', () => ({ context: ctx, tags: 'type=semver,pattern={{build}}' }), 'tags', /uses none of/],
  ['unknown cache mode', () => ({ context: ctx, cache: 'gha' }), 'cache', /use one of: auto, actions, registry, local, none/],
  ['registry cache without ref', () => ({ context: ctx, cache: 'registry' }), 'cache-ref', /needs a cache reference/],
  ['local cache without dir', () => ({ context: ctx, cache: 'local' }), 'cache-dir', /needs a directory/],
  [
    'cache-ref with local mode',
    () => ({ context: ctx, cache: 'local', 'cache-dir': join(dir, 'c'), 'cache-ref': '127.0.0.1:5000/c:x' }),
    'cache-ref',
    /cache is local/,
  ],
  ['cache-ref with digest', () => ({ context: ctx, 'cache-ref': `127.0.0.1:5000/c@sha256:${'a'.repeat(64)}` }), 'cache-ref', /has a digest/],
  ['cache-dir is a file', () => ({ context: ctx, cache: 'local', 'cache-dir': join(dir, 'a-file') }), 'cache-dir', /is not a directory/],
  ['oci-layout over a foreign dir', () => ({ context: ctx, 'oci-layout': join(dir, 'not-a-layout') }), 'oci-layout', /not an OCI layout/],
  ['oci-layout is a file', () => ({ context: ctx, 'oci-layout': join(dir, 'a-file') }), 'oci-layout', /is a file/],
  ['bad builder name', () => ({ context: ctx, builder: 'my builder' }), 'builder', /wrong form/],
  ['bad cache-scope', () => ({ context: ctx, 'cache-scope': 'a/b' }), 'cache-scope', /wrong form/],
];

describe('docker-build rejects bad input', () => {
  it.each(cases)('%s', async (_why, inputs, name, text) => {
    const r = await runGitHubAction('docker-build', inputs(), { env });
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const lines = r.stdout.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('::add-mask::'));
    const errors = lines.filter((l) => l.startsWith('::error::'));
    expect(errors, r.stdout).toHaveLength(1);
    expect(lines, 'nothing but the error is printed').toHaveLength(1);
    expect(errors[0]).toContain(`input "${name}"`);
    expect(errors[0]).toMatch(text);
    expect(stackLines(r.stdout + r.stderr)).toEqual([]);
    expect(r.outputs).toEqual({});
    expect(r.stdout.replace(/::add-mask::.*\n/g, '')).not.toContain(SECRET);
    expect(existsSync(calls) ? readFileSync(calls, 'utf8') : '', 'docker was run').toBe('');
  });

  it('has at least 15 distinct cases', () => expect(new Set(cases.map((c) => c[0])).size).toBeGreaterThanOrEqual(15));
});
