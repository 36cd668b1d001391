import { describe, expect, test } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../object.ts';
import { pickControllerRevision, pickReplicaSet, sameTemplate, withoutHash } from './rollback.ts';

const docs = (text: string) => parseAllDocuments(text).map((d) => d.toJS() as KubeObject);

const [deployment, ...replicaSets] = docs(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, uid: d1, annotations: {deployment.kubernetes.io/revision: "4"}}
spec: {template: {metadata: {labels: {app: web}}, spec: {containers: [{name: app, image: "web:4"}]}}}
---
kind: ReplicaSet
metadata: {name: web-a, uid: r2, annotations: {deployment.kubernetes.io/revision: "2"}, ownerReferences: [{uid: d1, controller: true}]}
spec: {template: {metadata: {labels: {app: web, pod-template-hash: aaa}}, spec: {containers: [{name: app, image: "web:2"}]}}}
---
kind: ReplicaSet
metadata: {name: web-c, uid: r3, annotations: {deployment.kubernetes.io/revision: "3"}, ownerReferences: [{uid: d1, controller: true}]}
spec: {template: {metadata: {labels: {app: web, pod-template-hash: ccc}}, spec: {containers: [{name: app, image: "web:3"}]}}}
---
kind: ReplicaSet
metadata: {name: web-d, uid: r4, annotations: {deployment.kubernetes.io/revision: "4"}, ownerReferences: [{uid: d1, controller: true}]}
spec: {template: {metadata: {labels: {app: web, pod-template-hash: ddd}}, spec: {containers: [{name: app, image: "web:4"}]}}}
---
kind: ReplicaSet
metadata: {name: other-x, uid: r9, annotations: {deployment.kubernetes.io/revision: "9"}, ownerReferences: [{uid: someone-else, controller: true}]}
`) as [KubeObject, ...KubeObject[]];

describe('Deployment rollback: which ReplicaSet', () => {
  test.each([
    ['the revision before the deploy, when k8s-deploy recorded it', '2', 'web-a'],
    ['without it, the highest below the current one (kubectl rollout undo)', null, 'web-c'],
  ])('%s', (_name, wanted, rs) => {
    const pick = pickReplicaSet(deployment, replicaSets, wanted);
    expect(pick.ok && pick.value.metadata.name).toBe(rs);
  });

  test('a pruned revision is reported', () => {
    expect(pickReplicaSet(deployment, replicaSets, '1')).toMatchObject({ ok: false, message: expect.stringMatching(/revision 1.*revisionHistoryLimit/) });
  });

  test('no history: nothing to go back to', () => {
    expect(pickReplicaSet(deployment, replicaSets.slice(2, 3), null)).toMatchObject({ ok: false, message: expect.stringMatching(/no rollout history/) });
  });

  test('another Deployment’s ReplicaSets are never picked', () => {
    expect(pickReplicaSet(deployment, replicaSets, '9').ok).toBe(false);
  });

  test('the template is restored without the pod-template-hash label, the input untouched', () => {
    const rs = replicaSets[0] as KubeObject;
    const t = withoutHash((rs.spec as { template: unknown }).template);
    expect(t).toEqual({ metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: 'web:2' }] } });
    expect((rs.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels['pod-template-hash']).toBe('aaa');
  });

  test('templates compare without the hash label and key order', () => {
    const templateOf = (o: KubeObject | undefined) => (o?.spec as { template?: unknown } | undefined)?.template;
    const current = templateOf(deployment);
    expect(sameTemplate(templateOf(replicaSets[2]), current)).toBe(true);
    expect(sameTemplate(templateOf(replicaSets[1]), current)).toBe(false);
    expect(sameTemplate({ spec: { b: 1, a: 2 } }, { spec: { a: 2, b: 1 } })).toBe(true);
  });
});

const [sts, ...stsRevisions] = docs(`
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, uid: s1}
status: {updateRevision: db-333, currentRevision: db-222}
---
kind: ControllerRevision
metadata: {name: db-111, ownerReferences: [{uid: s1, controller: true}]}
revision: 1
---
kind: ControllerRevision
metadata: {name: db-222, ownerReferences: [{uid: s1, controller: true}]}
revision: 2
---
kind: ControllerRevision
metadata: {name: db-333, ownerReferences: [{uid: s1, controller: true}]}
revision: 3
`) as [KubeObject, ...KubeObject[]];

const [ds, ...dsRevisions] = docs(`
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, uid: a1}
spec: {template: {metadata: {labels: {app: agent}}, spec: {containers: [{name: a, image: "agent:2"}]}}}
---
kind: ControllerRevision
metadata: {name: agent-h1, labels: {controller-revision-hash: h1}, ownerReferences: [{uid: a1, controller: true}]}
revision: 1
data: {spec: {template: {$patch: replace, metadata: {labels: {app: agent}}, spec: {containers: [{name: a, image: "agent:1"}]}}}}
---
kind: ControllerRevision
metadata: {name: agent-h2, labels: {controller-revision-hash: h2}, ownerReferences: [{uid: a1, controller: true}]}
revision: 2
data: {spec: {template: {$patch: replace, metadata: {labels: {app: agent}}, spec: {containers: [{name: a, image: "agent:2"}]}}}}
---
kind: ControllerRevision
metadata: {name: agent-h0, labels: {controller-revision-hash: h0}, ownerReferences: [{uid: a1, controller: true}]}
revision: 3
data: {spec: {template: {$patch: replace, metadata: {labels: {app: agent}}, spec: {containers: [{name: a, image: "agent:0"}]}}}}
`) as [KubeObject, ...KubeObject[]];

describe('StatefulSet/DaemonSet rollback: which ControllerRevision', () => {
  test.each([
    ['StatefulSet: the update revision before the deploy, by name', sts, stsRevisions, 'db-111', 'db-111'],
    ['StatefulSet: without it, the revision below the update revision', sts, stsRevisions, null, 'db-222'],
    ['DaemonSet: the revision below the one matching the live template', ds, dsRevisions, null, 'agent-h1'],
  ])('%s', (_name, obj, revisions, wanted, want) => {
    const pick = pickControllerRevision(obj, revisions, wanted);
    expect(pick.ok && pick.value.metadata.name).toBe(want);
  });

  test('StatefulSet: a pruned revision is reported', () => {
    expect(pickControllerRevision(sts, stsRevisions, 'db-000')).toMatchObject({ ok: false });
  });

  test('only one revision: nothing to go back to', () => {
    expect(
      pickControllerRevision(
        sts,
        stsRevisions.slice(0, 1).map((r) => ({ ...r, metadata: { ...r.metadata, name: 'db-333' } })),
        null,
      ).ok,
    ).toBe(false);
  });
});
