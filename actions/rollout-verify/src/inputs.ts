import { type InputsOf, input, UserError } from '@shipline/kit';
import type { Target } from '@shipline/kube';
import { deploymentId, environment, environmentUrl, githubToken } from '../../shared/src/deployment-inputs.ts';
import { gateSchema, validateGates } from './gates.ts';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const LABEL_VALUE = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

/** kubectl's names and short names of the kinds the engine verifies, mapped to their kind and API version. */
const KINDS: Record<string, { kind: string; apiVersion: string }> = {};
for (const [kind, apiVersion, ...aliases] of [
  ['Deployment', 'apps/v1', 'deployment', 'deployments', 'deploy'],
  ['StatefulSet', 'apps/v1', 'statefulset', 'statefulsets', 'sts'],
  ['DaemonSet', 'apps/v1', 'daemonset', 'daemonsets', 'ds'],
  ['ReplicaSet', 'apps/v1', 'replicaset', 'replicasets', 'rs'],
  ['Job', 'batch/v1', 'job', 'jobs'],
  ['Pod', 'v1', 'pod', 'pods', 'po'],
  ['Service', 'v1', 'service', 'services', 'svc'],
  ['PersistentVolumeClaim', 'v1', 'persistentvolumeclaim', 'persistentvolumeclaims', 'pvc'],
] as const) {
  for (const a of aliases) KINDS[a] = { kind, apiVersion };
}
const KIND_NAMES = ['deployment', 'statefulset', 'daemonset', 'replicaset', 'job', 'pod', 'service', 'pvc'];

/** `kind/name`, as kubectl writes it (`deploy/web`, `statefulset.apps/db`). */
export const workload = input.custom<{ kind: string; name: string }>('kind/name', (raw, fail) => {
  const m = /^([A-Za-z]+)(?:\.[a-z0-9.]+)?\/(.+)$/.exec(raw);
  if (!m) return fail(`${input.quote(raw)} is not kind/name`, 'write one workload a line as kind/name, e.g. deployment/web or sts/db');
  const kind = KINDS[(m[1] as string).toLowerCase()];
  if (!kind)
    return fail(`${input.quote(m[1] as string)} is not a kind this action verifies`, `use one of: ${KIND_NAMES.join(', ')} (or kubectl's short names)`);
  const name = m[2] as string;
  if (!NAME.test(name)) return fail(`${input.quote(name)} is not an object name`, 'names are lowercase letters, digits, - and .');
  return { kind: kind.kind, name };
});

function str(v: unknown): v is string {
  return typeof v === 'string' && v !== '';
}

/**
 * k8s-deploy's `resources` output as it is: a JSON list of {apiVersion, kind, namespace, name,
 * uid, generation, action, revision}. Nulls are accepted where k8s-deploy writes them.
 */
export const resources = input.custom<Target[]>('JSON list of objects (k8s-deploy `resources` output)', (raw, fail) => {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return fail('is not valid JSON', "pass k8s-deploy's `resources` output as it is (a JSON list of objects)");
  }
  if (!Array.isArray(parsed)) return fail('must be a JSON list', "pass k8s-deploy's `resources` output as it is (a JSON list of objects)");
  return parsed.map((o, i): Target => {
    const at = `item ${i + 1}`;
    if (typeof o !== 'object' || o === null || Array.isArray(o)) return fail(`${at} is not an object`, 'each item needs apiVersion, kind and name');
    const r = o as Record<string, unknown>;
    for (const k of ['apiVersion', 'kind', 'name'] as const) {
      if (!str(r[k])) return fail(`${at} has no ${k}`, 'each item needs apiVersion, kind and name (k8s-deploy writes them)');
    }
    if (r.namespace !== undefined && r.namespace !== null && !str(r.namespace))
      return fail(`${at}: namespace must be a string`, 'give a namespace name or leave it out');
    const t: Target = { apiVersion: r.apiVersion as string, kind: r.kind as string, name: r.name as string };
    if (str(r.namespace)) t.namespace = r.namespace;
    if (str(r.uid)) t.uid = r.uid;
    if (typeof r.generation === 'number') t.generation = r.generation;
    if (str(r.action)) t.action = r.action;
    const rev = r.revision;
    if (rev !== undefined && rev !== null) {
      const ok = (v: unknown) => v === null || v === undefined || typeof v === 'string' || typeof v === 'number';
      if (typeof rev !== 'object' || !ok((rev as Record<string, unknown>).before) || !ok((rev as Record<string, unknown>).after))
        return fail(`${at}: revision must be {before, after}`, "pass k8s-deploy's output unchanged");
      const { before, after } = rev as Record<string, unknown>;
      t.revision = {
        before: before === null || before === undefined ? null : String(before),
        after: after === null || after === undefined ? null : String(after),
      };
    }
    return t;
  });
});

/**
 * A label selector in kubectl's syntax: `app=web`, `tier!=db`, `env in (a,b)`, `!canary`, `app`.
 * Checked here so a typo fails before any request, not as a 400 from the API server.
 */
export const selector = input.custom<string>('label selector', (raw, fail) => {
  const key = '(?:[a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?/)?[a-z0-9A-Z]([-a-z0-9A-Z_.]{0,61}[a-z0-9A-Z])?';
  const value = '[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?';
  const term = new RegExp(String.raw`^\s*(!?\s*${key}|${key}\s*(==?|!=)\s*(${value})?|${key}\s+(in|notin)\s*\(\s*(${value})?(\s*,\s*(${value})?)*\s*\))\s*$`);
  // Commas inside `in (a,b)` are not term separators.
  const terms = raw.split(/,(?![^(]*\))/);
  for (const t of terms) {
    if (!term.test(t)) return fail(`${input.quote(t.trim())} is not a label selector term`, 'use kubectl syntax: app=web,tier!=db or env in (a,b)');
  }
  return raw;
});

export const schema = {
  resources,
  workloads: input.list(workload),
  selector,
  namespace: input.string({ pattern: DNS_LABEL, patternHint: 'a namespace is a lowercase DNS label: letters, digits and -, at most 63' }),
  kubeconfig: input.string({ secret: 'whole' }),
  'kubeconfig-path': input.file(),
  context: input.string(),
  timeout: input.duration({ default: '5m', min: 1000, max: 24 * 3_600_000 }),
  'image-pull-grace': input.duration({ default: '20s', min: 0, max: 3_600_000 }),
  'config-grace': input.duration({ default: '10s', min: 0, max: 3_600_000 }),
  'unschedulable-grace': input.duration({ default: '30s', min: 0, max: 3_600_000 }),
  'max-restarts': input.integer({ default: '2', min: 1, max: 1000 }),
  'log-lines': input.integer({ default: '40', min: 0, max: 10_000 }),
  'rollback-on-failure': input.boolean({ default: 'false' }),
  'wait-for-load-balancer': input.boolean({ default: 'false' }),
  'github-token': githubToken,
  'deployment-id': deploymentId,
  'environment-url': environmentUrl,
  ...gateSchema,
  'pushgateway-url': input.url({ protocols: ['http:', 'https:'] }),
  service: input.string({ pattern: LABEL_VALUE, patternHint: 'a service name as a label value: letters, digits, -, _ and ., at most 63' }),
  environment,
  digest: input.string({ pattern: /^sha256:[a-f0-9]{64}$/, patternHint: "registry-push's `digest` output: sha256: and 64 lowercase hex digits" }),
  'started-at': input.custom<number>('time (ISO 8601 or seconds since the epoch)', (raw, fail) => {
    const ms = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) * 1000 : Date.parse(raw);
    if (!Number.isFinite(ms) || ms <= 0)
      return fail(`${input.quote(raw)} is not a time`, "give k8s-deploy's `started-at` output, an ISO 8601 time or seconds since the epoch");
    return ms;
  }),
};

export type Inputs = InputsOf<typeof schema>;

/** Rules across inputs; each names the input to change. */
export function validate(i: Inputs): void {
  const given = (['resources', 'workloads', 'selector'] as const).filter((k) => (k === 'workloads' ? i.workloads.length > 0 : i[k] !== undefined));
  if (given.length !== 1) {
    const what = given.length === 0 ? 'none is set' : `${given.map((k) => `\`${k}\``).join(' and ')} are set`;
    throw new UserError(`give exactly one of \`resources\`, \`workloads\` or \`selector\`: ${what}`, {
      // The input to change: the first when none is set (what k8s-deploy feeds), else the extra one.
      input: given.length === 0 ? 'resources' : (given[1] as string),
      hint: "pass k8s-deploy's `resources` output, or `workloads` as kind/name lines, or a label `selector` (with `namespace`)",
    });
  }
  if (i.kubeconfig !== undefined && i['kubeconfig-path'] !== undefined) {
    throw new UserError('both `kubeconfig` and `kubeconfig-path` are set', {
      input: 'kubeconfig-path',
      hint: 'give the kubeconfig either as content (`kubeconfig`) or as a file (`kubeconfig-path`)',
    });
  }
  // An input counts as given when its value is not its default (a default restated changes nothing).
  const isGiven = (name: string) => {
    const spec = schema[name as keyof typeof schema];
    const d = spec.default === undefined ? spec.absent : spec.parse(spec.default, name);
    return JSON.stringify(i[name as keyof Inputs]) !== JSON.stringify(d);
  };
  validateGates(i, isGiven);
  if (i['pushgateway-url'] === undefined) {
    for (const name of ['service', 'environment', 'digest', 'started-at'] as const)
      if (i[name] !== undefined)
        throw new UserError(`\`${name}\` is only used for delivery metrics`, { input: 'pushgateway-url', hint: `set \`pushgateway-url\` or drop \`${name}\`` });
  }
  const seen = new Set<string>();
  for (const w of i.workloads) {
    const k = `${w.kind}/${w.name}`;
    if (seen.has(k)) throw new UserError(`${k} is listed twice`, { input: 'workloads', hint: 'list each workload once' });
    seen.add(k);
  }
}
