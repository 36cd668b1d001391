// Typed failures of the kube package. Each carries fields saying what is wrong and a hint a person
// can act on that names no action input: this package knows nothing of inputs or hosts. The action
// layer (each action's action.ts / run.ts) maps the fields onto its inputs and input-specific hints.

export class KubeError extends Error {
  readonly hint: string | undefined;
  constructor(message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KubeError';
    this.hint = hint;
  }
}

/** A manifest that cannot be read or parsed; `source` is `file[:line]` or `file#doc`. */
export class ManifestError extends KubeError {
  readonly source: string;
  constructor(source: string, message: string, hint?: string) {
    super(`${source}: ${message}`, hint);
    this.name = 'ManifestError';
    this.source = source;
  }
}

/** A path, directory or glob that yields no manifest. */
export class ManifestSourceError extends KubeError {
  readonly pattern: string;
  constructor(pattern: string, message: string, hint?: string) {
    super(message, hint);
    this.name = 'ManifestSourceError';
    this.pattern = pattern;
  }
}

/**
 * The part of the cluster access that is wrong: where the kubeconfig comes from (`source`: none
 * configured, or KUBECONFIG naming nothing usable), the kubeconfig document itself (`file`: missing,
 * unreadable, not YAML, malformed entries), the context chosen (`context`), its cluster entry
 * (`cluster`: server, proxy, CA) or its user entry (`user`: credentials, plugins).
 */
export type KubeconfigField = 'source' | 'file' | 'context' | 'cluster' | 'user';

/**
 * Problems a caller may want to word in its own terms (the action layer names its inputs there);
 * the rest are `invalid`.
 */
export type KubeconfigProblem =
  | 'unconfigured'
  | 'env-missing'
  | 'not-found'
  | 'not-yaml'
  | 'not-kubeconfig'
  | 'unknown-context'
  | 'no-current-context'
  | 'unknown-current-context'
  | 'auth'
  | 'invalid';

export class KubeconfigError extends KubeError {
  readonly field: KubeconfigField;
  readonly problem: KubeconfigProblem;
  constructor(field: KubeconfigField, problem: KubeconfigProblem, message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, hint, options);
    this.name = 'KubeconfigError';
    this.field = field;
    this.problem = problem;
  }
}

/** An image reference given for substitution that is not one. */
export class ImageRefError extends KubeError {
  readonly ref: string;
  constructor(ref: string, message: string) {
    super(`invalid image reference ${JSON.stringify(ref)}: ${message}`, 'use registry[:port]/repository[:tag][@sha256:<64 hex>]');
    this.name = 'ImageRefError';
    this.ref = ref;
  }
}

/** The API server could not be reached at all (after retries). */
export class UnreachableError extends KubeError {
  readonly server: string;
  constructor(server: string, reason: string, options?: { cause?: unknown }) {
    super(
      `cannot reach the Kubernetes API server at ${server}: ${reason}`,
      'check the kubeconfig (cluster server address, context) and that the API server is up',
      options,
    );
    this.name = 'UnreachableError';
    this.server = server;
  }
}

/** An answer of the API server with an error status (a `Status` object, usually). */
export class ApiError extends KubeError {
  readonly status: number;
  /** `reason` of the Status object: NotFound, Forbidden, Invalid, Conflict, AlreadyExists... */
  readonly reason: string;
  readonly method: string;
  readonly path: string;
  readonly details: unknown;
  constructor(opts: { status: number; reason: string; message: string; method: string; path: string; details?: unknown; hint?: string }) {
    super(opts.message, opts.hint);
    this.name = 'ApiError';
    this.status = opts.status;
    this.reason = opts.reason;
    this.method = opts.method;
    this.path = opts.path;
    this.details = opts.details;
  }
}

/** A field another field manager owns, from a server-side apply conflict. */
export interface FieldConflict {
  /** The other field manager, e.g. `kubectl-client-side-apply`. */
  manager: string;
  /** The field path as the server writes it, e.g. `.data.owner`. */
  field: string;
}

export interface ApplyFailure {
  object: string;
  /** The Status reason (Conflict, Forbidden, Invalid, NotFound...) or one of ours (UnknownKind, Duplicate, Timeout). */
  reason: string;
  message: string;
  /** With reason Conflict: the fields and their owners, when the server named them. */
  conflicts?: FieldConflict[];
  /** With reason NotFound for a missing namespace: that namespace. */
  namespace?: string;
}

export type ApplyPhase = 'dry-run' | 'apply' | 'prune';

/**
 * What fixes the failures, most pressing first: `rbac` (grant permissions), `force` (take fields
 * over from another manager), `fix-manifests`, `missing-namespace`. A caller words its own hint
 * for the ones its users fix through an option of theirs.
 */
export type ApplyRemedy = 'rbac' | 'force' | 'fix-manifests' | 'missing-namespace';

/** One or more objects the API server refused; nothing was applied when `phase` is `dry-run`. */
export class ApplyError extends KubeError {
  readonly failures: ApplyFailure[];
  readonly phase: ApplyPhase;
  readonly applied: string[];
  readonly remedy: ApplyRemedy | undefined;
  constructor(phase: ApplyPhase, failures: ApplyFailure[], applied: string[] = []) {
    const what = applied.length === 0 ? 'nothing was applied' : `${applied.length} object(s) were applied before the failure: ${applied.join(', ')}`;
    const list = failures.map((f) => `${f.object}: ${f.message}`).join('; ');
    const remedy = remedyFor(failures);
    super(`${failures.length} object(s) refused by the API server in ${phase} (${what}): ${list}`, remedy && HINTS[remedy]);
    this.name = 'ApplyError';
    this.failures = failures;
    this.phase = phase;
    this.applied = applied;
    this.remedy = remedy;
  }

  /** Every failure's reason, once each. */
  get reasons(): Set<string> {
    return new Set(this.failures.map((f) => f.reason));
  }

  /** Fields other managers own, over every conflicting object. */
  get conflicts(): FieldConflict[] {
    return this.failures.flatMap((f) => f.conflicts ?? []);
  }
}

/** Namespaces the objects need that do not exist (and were not to be created): nothing was applied. */
export class NamespaceMissingError extends ApplyError {
  readonly namespaces: string[];
  constructor(failures: (ApplyFailure & { namespace: string })[]) {
    super('dry-run', failures);
    this.name = 'NamespaceMissingError';
    this.namespaces = failures.map((f) => f.namespace);
  }
}

function remedyFor(failures: { reason: string }[]): ApplyRemedy | undefined {
  const reasons = new Set(failures.map((f) => f.reason));
  if (reasons.has('Forbidden')) return 'rbac';
  if (reasons.has('Conflict')) return 'force';
  if (reasons.has('Invalid') || reasons.has('BadRequest')) return 'fix-manifests';
  if (reasons.has('NotFound')) return 'missing-namespace';
  return undefined;
}

// Hints in this package's terms (what `deploy` can be asked to do, not a caller's inputs).
const HINTS: Record<ApplyRemedy, string> = {
  rbac: 'the kubeconfig user lacks RBAC permission for the objects named; grant it or deploy to a namespace it may write',
  force: 'another field manager owns these fields; apply with force to take them over',
  'fix-manifests': 'fix the manifests named above',
  'missing-namespace': 'create the namespace first, or have the deployment create it',
};

/** The fields and managers of a server-side apply conflict, from the Status causes the server sent. */
export function conflictsOf(details: unknown): FieldConflict[] {
  if (!Array.isArray(details)) return [];
  const out: FieldConflict[] = [];
  for (const c of details) {
    if (typeof c !== 'object' || c === null) continue;
    const { reason, message, field } = c as Record<string, unknown>;
    if (reason !== 'FieldManagerConflict' || typeof field !== 'string') continue;
    // The server words it `conflict with "<manager>"[ using <apiVersion>]`.
    const m = typeof message === 'string' ? /conflict with "([^"]*)"/.exec(message) : null;
    out.push({ manager: m?.[1] ?? '', field });
  }
  return out;
}
