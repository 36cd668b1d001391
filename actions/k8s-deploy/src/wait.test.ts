// `wait: true`: the inputs, what the engine is handed, and how its verdict becomes the step's error.
import { parseInputs, Summary } from '@shipline/kit';
import type { AppliedResource, ResourceVerdict, VerifyResult } from '@shipline/kube';
import { describe, expect, it } from 'vitest';
import { schema } from './inputs.ts';
import { targetsOf } from './wait.ts';
import { waitFailure, waitSummary } from './wait-report.ts';

const applied: AppliedResource[] = [
  { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'shop', name: 'cfg', uid: 'c1', generation: null, action: 'unchanged' },
  {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    namespace: 'shop',
    name: 'web',
    uid: 'd1',
    generation: 4,
    action: 'configured',
    revision: { before: '3', after: '4' },
    source: 'k8s/app.yaml:1',
  },
];

const v = (status: VerifyResult['status'], resources: Partial<ResourceVerdict>[]): VerifyResult =>
  ({ status, reason: status === 'timeout' ? 'Timeout' : 'Current', message: `rollout ${status}`, durationMs: 12_300, resources }) as VerifyResult;

describe('k8s-deploy wait', () => {
  it('is off by default, with a 5 minute timeout', () => {
    const i = parseInputs(schema, (n) => ({ manifests: 'k8s' })[n]);
    expect([i.wait, i.timeout]).toEqual([false, 300_000]);
    const j = parseInputs(schema, (n) => ({ manifests: 'k8s', wait: 'true', timeout: '90s' })[n]);
    expect([j.wait, j.timeout]).toEqual([true, 90_000]);
  });

  it("hands the engine every applied object with what tells it this rollout's revision", () => {
    expect(targetsOf(applied)).toEqual([
      { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'shop', name: 'cfg', uid: 'c1', generation: null, action: 'unchanged' },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        namespace: 'shop',
        name: 'web',
        uid: 'd1',
        generation: 4,
        action: 'configured',
        revision: { before: '3', after: '4' },
      },
    ]);
  });

  it.each([
    ['no wait', undefined, undefined],
    ['success', v('success', [{ ref: 'Deployment shop/web', state: 'current', reason: 'Current', message: 'ok' }]), undefined],
    [
      'a failure, first failed object and pod named',
      v('failed', [
        { ref: 'ConfigMap shop/cfg', state: 'current', reason: 'Current', message: 'ok' },
        {
          ref: 'Deployment shop/web',
          state: 'failed',
          reason: 'ImageNotFound',
          message: 'tag 9.9 not found',
          pods: [{ pod: 'web-1', container: 'web', reason: 'ImageNotFound', message: 'x' }],
        },
      ] as Partial<ResourceVerdict>[]),
      'applied, but the rollout failed: Deployment shop/web: ImageNotFound — tag 9.9 not found (pod web-1, container web)',
    ],
    [
      'a timeout names what was not done',
      v('timeout', [{ ref: 'Deployment shop/web', state: 'in-progress', reason: 'InProgress', message: '1/3 ready' }]),
      'applied, but the rollout did not finish in time: Deployment shop/web: InProgress — 1/3 ready',
    ],
    ['a failure without resources', v('failed', []), 'applied, but the rollout failed: Current — rollout failed'],
  ])('%s', (_why, verdict, message) => {
    expect(waitFailure(verdict)).toBe(message);
  });

  it('shows the verdict per object in the summary', () => {
    const s = new Summary();
    waitSummary(s, v('failed', [{ ref: 'Deployment shop/web', state: 'failed', reason: 'OOMKilled', message: 'container web: limit 16Mi' }]));
    expect(s.toMarkdown()).toContain('#### Rollout: failed (Current) in 12.3 s');
    expect(s.toMarkdown()).toContain('| Deployment shop/web | failed | OOMKilled | container web: limit 16Mi |');
  });
});
