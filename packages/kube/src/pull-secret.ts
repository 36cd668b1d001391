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

/**
 * Every value a Secret object carries, each on its own, to mask before anything is printed: the
 * base64 text of `data` and what it decodes to, `stringData` and its base64 — and, for a docker
 * config, the password, auth and token fields inside it. A `.dockerconfigjson` is one line of
 * JSON, so masking it whole is safe; multi-line values are masked line by line by the masker.
 */
export function secretValuesOf(o: KubeObject): string[] {
  if (o.kind !== 'Secret') return [];
  const out = new Set<string>();
  const addDecoded = (text: string) => {
    out.add(text);
    try {
      const doc: unknown = JSON.parse(text);
      const auths = isRecord(doc) && isRecord(doc.auths) ? Object.values(doc.auths) : [];
      for (const a of auths) {
        if (!isRecord(a)) continue;
        for (const f of ['password', 'auth', 'identitytoken', 'registrytoken']) if (typeof a[f] === 'string' && a[f] !== '') out.add(a[f]);
      }
    } catch {
      // Not a docker config: the value itself is the secret.
    }
  };
  const data = isRecord(o.data) ? o.data : {};
  for (const v of Object.values(data)) {
    if (typeof v !== 'string' || v === '') continue;
    out.add(v);
    addDecoded(Buffer.from(v, 'base64').toString('utf8'));
  }
  const stringData = isRecord(o.stringData) ? o.stringData : {};
  for (const v of Object.values(stringData)) {
    if (typeof v !== 'string' || v === '') continue;
    addDecoded(v);
    out.add(Buffer.from(v).toString('base64'));
  }
  return [...out];
}
