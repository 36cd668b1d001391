import { type InputsOf, input, splitList, UserError } from '@shipline/kit';
// Types only: the kube package (and its Kubernetes client) loads after the inputs are valid.
import type { CanaryReplicas } from '@shipline/kube';
import { InvalidReferenceError, parseReference } from '@shipline/oci';
import { environment, environmentUrl, githubToken } from '../../shared/src/deployment-inputs.ts';

const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const LABEL_VALUE = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

/**
 * Image refs one a line, comma-separated, or a JSON array (registry-push's `refs` output as is).
 * Each is checked with the registry package's full reference grammar before anything runs.
 */
const imageRefs = input.custom<string[]>('list of image references', (raw, fail) => {
  let refs: string[];
  const text = raw.trim();
  if (text.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return fail('looks like a JSON array but is not valid JSON', 'give refs one a line, comma-separated, or as a JSON array of strings');
    }
    if (!Array.isArray(parsed) || !parsed.every((r) => typeof r === 'string'))
      return fail('the JSON array must hold only strings', 'e.g. ["127.0.0.1:5000/shop/orders:1.0@sha256:…"]');
    refs = parsed.map((r) => r.trim()).filter((r) => r !== '');
  } else {
    refs = splitList(raw);
  }
  for (const ref of refs) {
    try {
      parseReference(ref);
    } catch (e) {
      if (e instanceof InvalidReferenceError)
        return fail(`${input.quote(ref)} is not an image reference: ${e.reason}`, 'use registry[:port]/repository[:tag][@sha256:<64 hex>]');
      throw e;
    }
  }
  return refs;
});

const variable = input.custom<[string, string]>('KEY=VALUE line', (raw, fail) => {
  const i = raw.indexOf('=');
  if (i <= 0) return fail(`${input.quote(raw)} is not KEY=VALUE`, 'write one KEY=VALUE a line; manifests use it as ${KEY}');
  const key = raw.slice(0, i).trim();
  if (!VAR_NAME.test(key)) return fail(`${input.quote(key)} is not a variable name`, 'names are letters, digits and _ and do not start with a digit');
  return [key, raw.slice(i + 1)];
});

/** Parses `2` or `20%`; undefined when it is neither (or is zero). */
export function parseCanaryReplicas(text: string): CanaryReplicas | undefined {
  const t = text.trim();
  const pct = /^(\d{1,3}(?:\.\d+)?)%$/.exec(t);
  if (pct) {
    const p = Number(pct[1]);
    return p > 0 && p <= 100 ? { percent: p } : undefined;
  }
  return /^\d{1,5}$/.test(t) && Number(t) >= 1 ? { count: Number(t) } : undefined;
}

/** `2` pods, or `20%` of the live stable's replicas (rounded up, at least one pod). */
const canaryReplicas = input.custom<CanaryReplicas>('pod count or percentage', (raw, fail) => {
  const parsed = parseCanaryReplicas(raw);
  if (!parsed)
    return fail(
      `${input.quote(raw)} is neither a pod count nor a percentage`,
      'write a whole number of pods (e.g. 1) or a percentage of the stable replicas (e.g. 20%)',
    );
  return parsed;
});

export const schema = {
  // Required for `action: deploy` (see validate); promote and reject can find their releases alone.
  manifests: input.list(input.string()),
  images: imageRefs,
  vars: input.list(variable, { commas: false }),
  namespace: input.string({ pattern: DNS_LABEL, patternHint: 'a namespace is a lowercase DNS label: letters, digits and -, at most 63' }),
  'create-namespace': input.boolean({ default: 'false' }),
  kubeconfig: input.string({ secret: 'whole' }),
  'kubeconfig-path': input.file(),
  context: input.string(),
  'force-conflicts': input.boolean({ default: 'false' }),
  'dry-run': input.boolean({ default: 'false' }),
  prune: input.boolean({ default: 'false' }),
  set: input.string({ pattern: LABEL_VALUE, patternHint: 'a label value: at most 63 letters, digits, -, _ or ., starting and ending with a letter or digit' }),
  // The deploy lock guards prune (the one step that deletes another run's objects): on by default.
  lock: input.boolean({ default: 'true' }),
  'lock-timeout': input.duration({ default: '5m', min: 1000, max: 24 * 3_600_000 }),
  provenance: input.boolean({ default: 'true' }),
  'image-pull-secret': input.string({ pattern: /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, patternHint: 'a Secret name: lowercase letters, digits, - and .' }),
  registry: input.string({ pattern: /^[A-Za-z0-9.-]+(:\d{1,5})?$/, patternHint: 'host[:port] of the registry, e.g. 127.0.0.1:5001' }),
  'registry-username': input.string(),
  'registry-password': input.string({ secret: true }),
  concurrency: input.integer({ default: '16', min: 1, max: 64 }),
  'request-timeout': input.duration({ default: '30s', min: 1000, max: 600_000 }),
  wait: input.boolean({ default: 'false' }),
  timeout: input.duration({ default: '5m', min: 1000, max: 24 * 3_600_000 }),
  strategy: input.enumOf(['rolling', 'canary', 'blue-green'], { default: 'rolling' }),
  action: input.enumOf(['deploy', 'promote', 'reject'], { default: 'deploy' }),
  'canary-replicas': canaryReplicas,
  'scale-down-delay': input.duration({ min: 0, max: 3_600_000 }),
  'github-token': githubToken,
  environment,
  'environment-url': environmentUrl,
};

export type Inputs = InputsOf<typeof schema>;

/** Rules across inputs; each names the input to change. */
export function validate(i: Inputs): void {
  validateStrategy(i);
  if (i.kubeconfig !== undefined && i['kubeconfig-path'] !== undefined) {
    throw new UserError('both `kubeconfig` and `kubeconfig-path` are set', {
      input: 'kubeconfig-path',
      hint: 'give the kubeconfig either as content (`kubeconfig`) or as a file (`kubeconfig-path`)',
    });
  }
  if (i.prune && i.set === undefined) {
    throw new UserError('`prune: true` needs a set name', {
      input: 'set',
      hint: 'set `set` (e.g. the service name): objects are labelled with it and prune deletes those this run no longer has',
    });
  }
  if (i['environment-url'] !== undefined && i.environment === undefined) {
    throw new UserError('`environment-url` is set but no `environment`', {
      input: 'environment',
      hint: 'name the GitHub environment the URL belongs to (e.g. `environment: staging`), or drop `environment-url`',
    });
  }
  const seen = new Set<string>();
  for (const [k] of i.vars) {
    if (seen.has(k)) throw new UserError(`variable ${k} is declared twice`, { input: 'vars', hint: 'declare each KEY once' });
    seen.add(k);
  }
  if (i['image-pull-secret'] !== undefined) {
    if (i['registry-username'] === undefined || i['registry-password'] === undefined) {
      throw new UserError('`image-pull-secret` needs registry credentials', {
        input: 'registry-username',
        hint: 'set `registry-username` and `registry-password` (and `registry` unless the images name one registry)',
      });
    }
    if (i.registry === undefined) {
      const registries = new Set((i.images ?? []).map((r) => parseReference(r).registry));
      if (registries.size !== 1) {
        throw new UserError('cannot tell which registry the pull secret is for', {
          input: 'registry',
          hint: 'set `registry` (host[:port]); it is taken from `images` only when they name one registry',
        });
      }
    }
  } else if (i['registry-username'] !== undefined || i['registry-password'] !== undefined) {
    throw new UserError('registry credentials are given without `image-pull-secret`', {
      input: 'image-pull-secret',
      hint: 'name the Secret to create with `image-pull-secret`, or drop the credentials',
    });
  }
}

/** The strategy and action inputs, against each other and the rest. */
function validateStrategy(i: Inputs): void {
  const progressive = i.strategy !== 'rolling';
  if (i.action === 'deploy' && i.manifests.length === 0)
    throw new UserError('is required', { input: 'manifests', hint: 'set `manifests` (files, directories or globs of YAML manifests)' });
  if (i.action !== 'deploy' && !progressive)
    throw new UserError(`\`action: ${i.action}\` needs a progressive strategy`, {
      input: 'strategy',
      hint: `set \`strategy: canary\` or \`strategy: blue-green\` (the one the release was deployed with); a rolling deploy has nothing to ${i.action}`,
    });
  if (i['canary-replicas'] !== undefined && i.strategy !== 'canary')
    throw new UserError(`\`canary-replicas\` is set but the strategy is ${i.strategy}`, {
      input: 'canary-replicas',
      hint: 'set `strategy: canary`, or drop `canary-replicas`',
    });
  if (i['scale-down-delay'] !== undefined && i.strategy !== 'blue-green')
    throw new UserError(`\`scale-down-delay\` is set but the strategy is ${i.strategy}`, {
      input: 'scale-down-delay',
      hint: 'set `strategy: blue-green`, or drop `scale-down-delay`',
    });
  if (progressive && i.prune)
    throw new UserError(`\`prune\` cannot be used with strategy ${i.strategy}`, {
      input: 'prune',
      hint: 'a canary or blue-green deploy does not hold the stable objects, which prune would delete; prune in a rolling deploy',
    });
  if (i.action === 'deploy') return;
  // promote and reject act on what a deploy applied: nothing of these reaches them.
  for (const name of ['images', 'image-pull-secret', 'dry-run'] as const) {
    const v = i[name];
    if (v === undefined || v === false || (Array.isArray(v) && v.length === 0)) continue;
    throw new UserError(`\`${name}\` has no effect with \`action: ${i.action}\``, {
      input: name,
      hint: `${i.action} uses the objects the deploy created (images already pinned); drop \`${name}\``,
    });
  }
}

/** The pull secret's registry: the input, else the one registry the images name. */
export function pullSecretRegistry(i: Inputs): string | undefined {
  if (i['image-pull-secret'] === undefined) return undefined;
  return i.registry ?? parseReference((i.images ?? [])[0] as string).registry;
}
