import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { Exec, ExecResult } from '@shipline/kit';
import { afterAll, describe, expect, it } from 'vitest';
import { findKubectl, Kubectl } from './kubectl.ts';

const result = (r: Partial<ExecResult>): ExecResult => ({ code: 0, stdout: '', stderr: '', notFound: false, timedOut: false, ...r });

/** An exec that records its calls and answers with `r`. */
function fakeExec(r: Partial<ExecResult>): { exec: Exec; calls: { program: string; args: readonly string[]; timeoutMs?: number; maxOutput?: number }[] } {
  const calls: { program: string; args: readonly string[]; timeoutMs?: number; maxOutput?: number }[] = [];
  return {
    calls,
    exec: async (program, args, o) => {
      calls.push({ program, args, timeoutMs: o?.timeoutMs, maxOutput: o?.maxOutput });
      return result(r);
    },
  };
}

describe('Kubectl.kustomizeArgs', () => {
  it('ends the flags before the directory, so a directory named like a flag stays one', () => {
    expect(Kubectl.kustomizeArgs({ dir: 'k8s/overlays/prod' })).toEqual(['kustomize', '--', 'k8s/overlays/prod']);
    expect(Kubectl.kustomizeArgs({ dir: '-x' })).toEqual(['kustomize', '--', '-x']);
  });

  it('adds helm and the load restrictor only when asked', () => {
    expect(Kubectl.kustomizeArgs({ dir: 'd', enableHelm: true, loadRestrictor: 'LoadRestrictionsNone' })).toEqual([
      'kustomize',
      '--enable-helm',
      '--load-restrictor=LoadRestrictionsNone',
      '--',
      'd',
    ]);
  });
});

describe('Kubectl.kustomize', () => {
  it('runs kubectl with the built arguments and its limits, and returns the render', async () => {
    const f = fakeExec({ stdout: 'apiVersion: v1\nkind: ConfigMap\n' });
    const k = new Kubectl('/usr/bin/kubectl', { exec: f.exec, timeoutMs: 5000, maxOutput: 1024 });
    expect(await k.kustomize({ dir: '/src/kust' })).toBe('apiVersion: v1\nkind: ConfigMap\n');
    expect(f.calls).toEqual([{ program: '/usr/bin/kubectl', args: ['kustomize', '--', '/src/kust'], timeoutMs: 5000, maxOutput: 1024 }]);
  });

  it('defaults to 2 minutes and 64 MiB', async () => {
    const f = fakeExec({ stdout: 'x' });
    await new Kubectl('kubectl', { exec: f.exec }).kustomize({ dir: 'd' });
    expect(f.calls[0]).toMatchObject({ timeoutMs: 120_000, maxOutput: 64 << 20 });
  });

  it('fails with the first line of its error (on stdout when stderr is empty), cut, on a non-zero exit', async () => {
    const k = new Kubectl('kubectl', { exec: fakeExec({ code: 1, stderr: `Error: accumulating resources: ${'x'.repeat(1000)}\nmore\n` }).exec });
    const err = await k.kustomize({ dir: 'kust' }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/^kubectl kustomize kust failed: Error: accumulating resources: x+/);
    expect((err as Error).message).not.toContain('more');
    expect((err as Error).message.length).toBeLessThan(400);
    const out = new Kubectl('kubectl', { exec: fakeExec({ code: 1, stdout: 'bad kustomization\n' }).exec });
    await expect(out.kustomize({ dir: 'kust' })).rejects.toThrow('kubectl kustomize kust failed: bad kustomization');
  });

  it('names the exit code when kubectl said nothing', async () => {
    const k = new Kubectl('kubectl', { exec: fakeExec({ code: 3 }).exec });
    await expect(k.kustomize({ dir: 'kust' })).rejects.toThrow('kubectl kustomize kust failed: exit code 3');
  });

  it('refuses a render that timed out or was cut', async () => {
    await expect(new Kubectl('kubectl', { exec: fakeExec({ timedOut: true, code: 143 }).exec }).kustomize({ dir: 'k' })).rejects.toThrow(
      'kubectl kustomize k did not finish within 2 minutes',
    );
    await expect(new Kubectl('kubectl', { exec: fakeExec({ truncated: true, stdout: 'kind: x' }).exec }).kustomize({ dir: 'k' })).rejects.toThrow(
      'kubectl kustomize k rendered more than 64 MiB',
    );
  });
});

describe('findKubectl', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shipline-kubectl-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds the first executable kubectl on PATH and skips a file that is not executable', () => {
    for (const d of ['a', 'b', 'c']) mkdirSync(join(dir, d));
    writeFileSync(join(dir, 'b', 'kubectl'), '#!/bin/sh\n');
    chmodSync(join(dir, 'b', 'kubectl'), 0o644);
    writeFileSync(join(dir, 'c', 'kubectl'), '#!/bin/sh\n');
    chmodSync(join(dir, 'c', 'kubectl'), 0o755);
    const path = ['', join(dir, 'a'), join(dir, 'b'), join(dir, 'c')].join(delimiter);
    expect(findKubectl(path)).toBe(join(dir, 'c', 'kubectl'));
    expect(Kubectl.fromPath(path)?.path).toBe(join(dir, 'c', 'kubectl'));
    expect(findKubectl(join(dir, 'a'))).toBeUndefined();
    expect(Kubectl.fromPath('')).toBeUndefined();
  });
});
