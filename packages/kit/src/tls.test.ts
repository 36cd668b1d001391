import { describe, expect, it } from 'vitest';
import { runAction } from './action.ts';
import { MemoryHost } from './host.ts';
import { Summary } from './summary.ts';
import { tlsVerificationOff } from './tls.ts';

// Issue 14: turning TLS verification off is a warning in the log and a section of the summary.
describe('TLS verification off', () => {
  const action = (fail: boolean) => ({
    name: 'demo',
    schema: {},
    run: async () => {
      tlsVerificationOff('https://svc.internal:8443', 'input `insecure: true`');
      tlsVerificationOff('https://svc.internal:8443', 'input `insecure: true`');
      if (fail) throw new Error('target down');
      return {};
    },
    outputs: () => ({}),
    summary: () => new Summary().heading('Smoke test passed'),
  });

  it.each([
    ['a run that succeeds', false, 0],
    ['a run that fails', true, 1],
  ])('%s: one warning, and the summary says so', async (_what, fail, code) => {
    const host = new MemoryHost();
    expect(await runAction(action(fail), host, { cancellation: false })).toBe(code);
    const text = host.log.join('');
    const warnings = text.split('\n').filter((l) => l.startsWith('warning: TLS certificate verification is OFF'));
    expect(warnings).toEqual([
      'warning: TLS certificate verification is OFF for https://svc.internal:8443 (input `insecure: true`) — nothing proves the server is the one meant',
    ]);
    expect(text).toMatch(/TLS verification off[\s\S]*OFF for https:\/\/svc\.internal:8443/);
    if (!fail) expect(text.indexOf('Smoke test passed')).toBeLessThan(text.indexOf('TLS verification off'));
  });

  it('a run that leaves verification on says nothing about it, and notes do not leak into the next run', async () => {
    const host = new MemoryHost();
    tlsVerificationOff('stale', 'recorded outside any run');
    expect(await runAction({ name: 'demo', schema: {}, run: async () => ({}), outputs: () => ({}) }, host, { cancellation: false })).toBe(0);
    expect(host.log.join('')).not.toContain('TLS');
  });
});
