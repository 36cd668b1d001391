import { describe, expect, it } from 'vitest';
import { type KubeconfigFault, kubeconfigInputFor } from './kubeconfig-inputs.ts';

// Faults by shape, as KubeconfigError carries them (the adapters' tests use the real class).
const fault = (field: string, problem: string, hint: string): KubeconfigFault => ({ field, problem, hint });

describe('kubeconfigInputFor', () => {
  const ctxFault = fault('context', 'unknown-context', 'use one of: a');

  it('blames the context input for a fault of the chosen context, when one was given', () => {
    expect(kubeconfigInputFor(ctxFault, { 'kubeconfig-path': '/k', context: 'prod' })).toEqual({ input: 'context', hint: 'use one of: a' });
  });

  it('blames the source input otherwise: content before path, none from the environment', () => {
    const user = fault('user', 'auth', 'check the user entry');
    expect(kubeconfigInputFor(user, { kubeconfig: 'x', context: 'prod' }).input).toBe('kubeconfig');
    expect(kubeconfigInputFor(user, { 'kubeconfig-path': '/k' }).input).toBe('kubeconfig-path');
    expect(kubeconfigInputFor(ctxFault, { 'kubeconfig-path': '/k' }).input).toBe('kubeconfig-path');
    expect(kubeconfigInputFor(user, {}).input).toBeUndefined();
  });

  it('names the inputs in hints the library words without them', () => {
    const none = fault('source', 'unconfigured', 'give a kubeconfig');
    expect(kubeconfigInputFor(none, {}).hint).toBe('set the kubeconfig input (content, from a secret), kubeconfig-path, or KUBECONFIG');
    const noCurrent = fault('context', 'no-current-context', 'choose a context');
    expect(kubeconfigInputFor(noCurrent, { kubeconfig: 'x' })).toEqual({
      input: 'kubeconfig',
      hint: 'set current-context in the kubeconfig or the context input',
    });
  });
});
