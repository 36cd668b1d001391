import { describe, expect, test } from 'vitest';
import type { KubeClient } from '../client.ts';
import { kindOf, resolveTargets } from './targets.ts';

describe('kindOf', () => {
  test.each([
    ['deployment', 'Deployment'],
    ['Deployment', 'Deployment'],
    ['deploy', 'Deployment'],
    ['deployments', 'Deployment'],
    ['deployment.apps', 'Deployment'],
    ['sts', 'StatefulSet'],
    ['ds', 'DaemonSet'],
    ['job', 'Job'],
    ['pod', 'Pod'],
    ['svc', 'Service'],
    ['pvc', 'PersistentVolumeClaim'],
    ['cronjob', undefined],
    ['widget', undefined],
  ])('%s → %s', (w, kind) => {
    expect(kindOf(w)?.kind).toBe(kind);
  });
});

// These specs need no API call; the selector form is tested on the stack.
const noClient = {} as KubeClient;

describe('resolveTargets', () => {
  test('k8s-deploy resources as they are, pruned ones left out', async () => {
    const resources = [
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        namespace: 'shop',
        name: 'web',
        uid: 'u',
        generation: 3,
        action: 'configured',
        revision: { before: '1', after: '2' },
      },
      { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'shop', name: 'old', uid: null, generation: null, action: 'pruned' },
    ];
    expect(await resolveTargets(noClient, { resources })).toEqual([resources[0]]);
  });

  test('workloads by kind/name in a namespace', async () => {
    expect(
      await resolveTargets(noClient, {
        workloads: [
          { kind: 'deploy', name: 'web' },
          { kind: 'statefulset', name: 'db' },
        ],
        namespace: 'shop',
      }),
    ).toEqual([
      { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web' },
      { apiVersion: 'apps/v1', kind: 'StatefulSet', namespace: 'shop', name: 'db' },
    ]);
  });

  test('an unknown kind names the line', async () => {
    await expect(resolveTargets(noClient, { workloads: [{ kind: 'widget', name: 'w' }], namespace: 'shop' })).rejects.toThrow(
      /unknown workload kind "widget" in "widget\/w"/,
    );
  });
});
