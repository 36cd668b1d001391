import { describe, expect, it } from 'vitest';
import type { KubeObject } from './object.ts';
import { orderObjects, phaseOf, phases } from './order.ts';

const item = (kind: string, name = kind.toLowerCase()) => ({ object: { apiVersion: 'v1', kind, metadata: { name } } as KubeObject });

describe('ordering', () => {
  it('puts namespaces and CRDs first, then config, then workloads, then the rest; stable inside a kind', () => {
    const input = ['Ingress', 'Deployment', 'Service', 'Widget', 'ConfigMap', 'CustomResourceDefinition', 'Namespace', 'ServiceAccount', 'CronJob'].map((k) =>
      item(k),
    );
    input.push(item('ConfigMap', 'second'));
    expect(orderObjects(input).map((i) => `${i.object.kind}/${i.object.metadata.name}`)).toEqual([
      'Namespace/namespace',
      'CustomResourceDefinition/customresourcedefinition',
      'ServiceAccount/serviceaccount',
      'ConfigMap/configmap',
      'ConfigMap/second',
      'Service/service',
      'Deployment/deployment',
      'CronJob/cronjob',
      'Ingress/ingress',
      'Widget/widget',
    ]);
  });
  it.each([
    ['Namespace', 0],
    ['CustomResourceDefinition', 0],
    ['Secret', 1],
    ['ClusterRoleBinding', 1],
    ['StatefulSet', 2],
    ['Job', 2],
    ['Ingress', 3],
    ['MyResource', 3],
  ])('%s is in phase %d', (kind, phase) => expect(phaseOf(kind)).toBe(phase));
  it('groups into non-empty phases', () => {
    expect(phases([item('Deployment'), item('ConfigMap')]).map((p) => p.map((i) => i.object.kind))).toEqual([['ConfigMap'], ['Deployment']]);
  });
});
