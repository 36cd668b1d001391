import { describe, expect, it } from 'vitest';
import type { KubeObject } from './object.ts';
import { annotateProvenance } from './provenance.ts';
import { addPullSecret, dockerConfigSecret } from './pull-secret.ts';

const dep = (): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'shop' },
  spec: { template: { spec: { containers: [] } } },
});

describe('provenance', () => {
  it('annotates workloads fully and pod templates with repository and commit only', () => {
    const d = dep();
    const cm: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } };
    const n = annotateProvenance([d, cm], { repository: 'acme/shop', commit: '0123456789abcdef0123', runUrl: 'https://ci/run/7' });
    expect(n).toBe(1);
    expect(d.metadata.annotations).toEqual({
      'shipline.dev/repository': 'acme/shop',
      'shipline.dev/commit': '0123456789abcdef0123',
      'shipline.dev/run-url': 'https://ci/run/7',
      'kubernetes.io/change-cause': 'shipline deploy acme/shop@0123456789ab https://ci/run/7',
    });
    expect((d.spec as { template: { metadata: unknown } }).template.metadata).toEqual({
      annotations: { 'shipline.dev/repository': 'acme/shop', 'shipline.dev/commit': '0123456789abcdef0123' },
    });
    expect(cm.metadata.annotations).toBeUndefined();
  });
  it('does nothing without provenance', () => {
    const d = dep();
    expect(annotateProvenance([d], {})).toBe(0);
    expect(d.metadata.annotations).toBeUndefined();
  });
});

describe('pull secret', () => {
  it('makes a dockerconfigjson secret', () => {
    const s = dockerConfigSecret('regcred', 'shop', '127.0.0.1:5001', 'u', 'p');
    const cfg = JSON.parse(Buffer.from((s.data as Record<string, string>)['.dockerconfigjson'] as string, 'base64').toString());
    expect(cfg).toEqual({ auths: { '127.0.0.1:5001': { username: 'u', password: 'p', auth: Buffer.from('u:p').toString('base64') } } });
    expect(s.type).toBe('kubernetes.io/dockerconfigjson');
  });
  it('adds it once to pod specs of that namespace', () => {
    const d = dep();
    expect(addPullSecret([d], 'regcred', 'shop')).toBe(1);
    expect(addPullSecret([d], 'regcred', 'shop')).toBe(0);
    expect(addPullSecret([d], 'regcred', 'other')).toBe(0);
    expect((d.spec as { template: { spec: { imagePullSecrets: unknown } } }).template.spec.imagePullSecrets).toEqual([{ name: 'regcred' }]);
  });
});
