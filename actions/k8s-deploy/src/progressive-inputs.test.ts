// The strategy/action inputs: grammar of canary-replicas, and the rules across inputs (each error
// names the input to change), before any cluster work.
import { ActionFailure, parseInputs, UserError } from '@shipline/kit';
import * as kube from '@shipline/kube';
import { describe, expect, test } from 'vitest';
import { k8sDeploy, toUserError } from './action.ts';
import { parseCanaryReplicas, schema, validate } from './inputs.ts';

const inputs = (raw: Record<string, string>) => parseInputs(schema, (n) => raw[n]);

describe('canary-replicas', () => {
  test.each([
    ['1', { count: 1 }],
    ['3', { count: 3 }],
    ['20%', { percent: 20 }],
    ['12.5%', { percent: 12.5 }],
    ['100%', { percent: 100 }],
    [' 2 ', { count: 2 }],
    ['0', undefined],
    ['0%', undefined],
    ['101%', undefined],
    ['-1', undefined],
    ['1.5', undefined],
    ['two', undefined],
    ['%', undefined],
  ])('%j → %j', (raw, want) => {
    expect(parseCanaryReplicas(raw)).toEqual(want);
  });

  test('a bad value names the input', () => {
    expect(() => inputs({ manifests: 'k8s', strategy: 'canary', 'canary-replicas': '0' })).toThrow(
      expect.objectContaining({ input: 'canary-replicas', message: expect.stringMatching(/neither a pod count nor a percentage/) }),
    );
  });
});

describe('strategy and action across inputs', () => {
  test.each<[string, Record<string, string>, string, RegExp]>([
    ['canary-replicas on rolling', { manifests: 'k8s', 'canary-replicas': '2' }, 'canary-replicas', /strategy is rolling/],
    ['canary-replicas on blue-green', { manifests: 'k8s', strategy: 'blue-green', 'canary-replicas': '2' }, 'canary-replicas', /strategy is blue-green/],
    ['scale-down-delay on canary', { manifests: 'k8s', strategy: 'canary', 'scale-down-delay': '5s' }, 'scale-down-delay', /strategy is canary/],
    ['promote a rolling deploy', { action: 'promote' }, 'strategy', /needs a progressive strategy/],
    ['reject a rolling deploy', { action: 'reject', manifests: 'k8s' }, 'strategy', /needs a progressive strategy/],
    ['deploy without manifests', { strategy: 'canary' }, 'manifests', /is required/],
    ['prune with a canary', { manifests: 'k8s', strategy: 'canary', prune: 'true', set: 'web' }, 'prune', /cannot be used with strategy canary/],
    ['images on promote', { strategy: 'canary', action: 'promote', images: 'r.io/web:1' }, 'images', /no effect with `action: promote`/],
    ['dry-run on reject', { strategy: 'blue-green', action: 'reject', 'dry-run': 'true' }, 'dry-run', /no effect/],
  ])('%s', (_, raw, input, message) => {
    let err: unknown;
    try {
      validate(inputs(raw));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect(err).toMatchObject({ input, message: expect.stringMatching(message) });
  });

  test.each<Record<string, string>>([
    { manifests: 'k8s' },
    { manifests: 'k8s', strategy: 'canary', 'canary-replicas': '20%' },
    { manifests: 'k8s', strategy: 'blue-green', 'scale-down-delay': '0s' },
    { strategy: 'canary', action: 'promote' },
    { strategy: 'blue-green', action: 'reject', manifests: 'k8s' },
  ])('accepts %o', (raw) => {
    expect(() => validate(inputs(raw))).not.toThrow();
  });

  test('unknown strategy or action values are refused by name', () => {
    expect(() => inputs({ manifests: 'k8s', strategy: 'linear' })).toThrow(expect.objectContaining({ input: 'strategy' }));
    expect(() => inputs({ manifests: 'k8s', action: 'abort' })).toThrow(expect.objectContaining({ input: 'action' }));
  });
});

describe('progressive errors map onto inputs, failed verdicts onto a failure', () => {
  const i = inputs({ manifests: 'k8s', strategy: 'canary' });
  test.each<[kube.ProgressiveProblem, string | undefined]>([
    ['no-stable', 'strategy'],
    ['unsupported-kind', 'manifests'],
    ['no-service', 'strategy'],
    ['nothing-to-promote', 'action'],
  ])('%s → input %s', (problem, input) => {
    const e = toUserError(new kube.ProgressiveError(problem, 'm', 'h'), i, kube);
    expect(e).toBeInstanceOf(UserError);
    expect(e).toMatchObject({ input, message: 'm', hint: 'h' });
  });
  test('a canary that is not healthy fails the step, naming no input', () => {
    const e = toUserError(new kube.ProgressiveError('not-current', 'canary crash-loops', 'reject it'), i, kube);
    expect(e).toBeInstanceOf(ActionFailure);
    expect((e as Error).message).toBe('canary crash-loops — reject it');
  });
});

describe('outputs of a progressive deploy', () => {
  test('canary, preview-service, strategy and releases', () => {
    const out = k8sDeploy.outputs?.({
      dryRun: false,
      server: 's',
      context: 'c',
      namespace: 'shop',
      resources: [],
      pruned: [],
      images: [],
      failure: undefined,
      durationMs: 1,
      strategy: 'blue-green',
      action: 'deploy',
      releases: [
        { strategy: 'blue-green', namespace: 'shop', app: 'web', workload: 'web-green', preview: 'web-preview', previewPort: 80, color: 'green' },
        { strategy: 'blue-green', namespace: 'shop', app: 'api', workload: 'api-blue', preview: 'api-preview', color: 'blue' },
      ],
    });
    expect(out).toMatchObject({ strategy: 'blue-green', canary: '', 'preview-service': 'shop/web-preview:80\nshop/api-preview' });
    expect(JSON.parse(out?.releases ?? '')).toHaveLength(2);
  });
});
