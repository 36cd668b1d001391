// An image pull secret made from registry credentials, and the pod specs that should use it.
import { podSpecOf } from './images.ts';
import { isRecord, type KubeObject } from './object.ts';

/** A kubernetes.io/dockerconfigjson Secret for one registry. */
export function dockerConfigSecret(name: string, namespace: string, registry: string, username: string, password: string): KubeObject {
  const auth = Buffer.from(`${username}:${password}`).toString('base64');
  const config = JSON.stringify({ auths: { [registry]: { username, password, auth } } });
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace },
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': Buffer.from(config).toString('base64') },
  };
}

/** Adds the secret to imagePullSecrets of every pod spec in `namespace` that lacks it; returns how many. */
export function addPullSecret(objects: readonly KubeObject[], name: string, namespace: string): number {
  let n = 0;
  for (const o of objects) {
    if ((o.metadata.namespace ?? namespace) !== namespace) continue;
    const spec = podSpecOf(o);
    if (!spec) continue;
    const list = Array.isArray(spec.imagePullSecrets) ? spec.imagePullSecrets : [];
    if (list.some((s) => isRecord(s) && s.name === name)) continue;
    spec.imagePullSecrets = [...list, { name }];
    n++;
  }
  return n;
}
