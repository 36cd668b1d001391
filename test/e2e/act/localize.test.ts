import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { repoRoot } from '../../support/run-action.ts';
import { localizeWorkflow } from './localize.ts';

const CANARY = readFileSync(join(repoRoot, 'examples', 'order-service', '.github', 'workflows', 'canary.yml'), 'utf8');

describe('localizeWorkflow', () => {
  it("runs Shipline's actions from the project, keeps checkout (act copies the project), and changes only what it is told", () => {
    const wf = parse(
      localizeWorkflow(CANARY, {
        env: { NAMESPACE: 'e2e-canary' },
        steps: { build: { 'build-args': 'BASE_IMAGE=x\nAPP_VERSION=1' }, push: { username: null, password: null } },
      }),
    );
    const original = parse(CANARY);
    expect(wf.env).toEqual({ ...original.env, NAMESPACE: 'e2e-canary' });
    const uses = Object.values(wf.jobs).flatMap((j) => (j as { steps: { uses: string }[] }).steps.map((s) => s.uses));
    expect(uses.filter((u) => !u.startsWith('./actions/'))).toEqual(['actions/checkout@v5', 'actions/checkout@v5', 'actions/checkout@v5']);
    expect(uses).toContain('./actions/rollout-verify');
    const build = wf.jobs.build.steps.find((s: { id?: string }) => s.id === 'build');
    expect(build.with['build-args']).toBe('BASE_IMAGE=x\nAPP_VERSION=1');
    const push = wf.jobs.build.steps.find((s: { id?: string }) => s.id === 'push');
    expect(push.with).toEqual({ 'oci-layout': '${{ steps.build.outputs.oci-layout }}', destinations: '${{ steps.build.outputs.tags }}' });
    // The gates are the example's own, untouched.
    const verify = wf.jobs.canary.steps.find((s: { id?: string }) => s.id === 'verify');
    const before = original.jobs.canary.steps.find((s: { id?: string }) => s.id === 'verify');
    expect(verify.with).toEqual(before.with);
  });

  it.each([
    [{ env: { NOPE: 'x' } }, /no env NOPE/],
    [{ steps: { gone: { a: 'b' } } }, /no step with id gone/],
    [{ steps: { push: { nothing: null } } }, /no input nothing/],
  ])('refuses an override the example does not match: %o', (o, message) => {
    expect(() => localizeWorkflow(CANARY, o)).toThrow(message);
  });
});
