// Typed failures of the kube package. Each carries a hint a person can act on; the action layer
// maps them onto its inputs (this package knows nothing of inputs or hosts).

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

export class KubeconfigError extends KubeError {
  constructor(message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, hint, options);
    this.name = 'KubeconfigError';
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

/** One or more objects the API server refused; nothing was applied when `phase` is `dry-run`. */
export class ApplyError extends KubeError {
  readonly failures: { object: string; reason: string; message: string }[];
  readonly phase: 'dry-run' | 'apply' | 'prune';
  readonly applied: string[];
  constructor(phase: 'dry-run' | 'apply' | 'prune', failures: { object: string; reason: string; message: string }[], applied: string[] = []) {
    const what = applied.length === 0 ? 'nothing was applied' : `${applied.length} object(s) were applied before the failure: ${applied.join(', ')}`;
    const list = failures.map((f) => `${f.object}: ${f.message}`).join('; ');
    super(`${failures.length} object(s) refused by the API server in ${phase} (${what}): ${list}`, hintFor(failures));
    this.name = 'ApplyError';
    this.failures = failures;
    this.phase = phase;
    this.applied = applied;
  }
}

function hintFor(failures: { reason: string }[]): string | undefined {
  const reasons = new Set(failures.map((f) => f.reason));
  if (reasons.has('Forbidden')) return 'the kubeconfig user lacks RBAC permission for the objects named; grant it or deploy to a namespace it may write';
  if (reasons.has('Conflict')) return 'another field manager owns these fields; set `force-conflicts: true` to take them over';
  if (reasons.has('Invalid') || reasons.has('BadRequest')) return 'fix the manifests named above';
  if (reasons.has('NotFound')) return 'create the namespace first or set `create-namespace: true`';
  return undefined;
}
