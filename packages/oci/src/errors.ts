// User-fixable problems carry a hint; the action wrapper turns them into one annotation.
export class OciError extends Error {
  readonly hint: string | undefined;
  constructor(message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OciError';
    this.hint = hint;
  }
}

export class InvalidReferenceError extends OciError {
  readonly input: string;
  readonly reason: string;
  constructor(input: string, reason: string) {
    super(
      `invalid image reference ${JSON.stringify(input)}: ${reason}`,
      'use [registry[:port]/]repository[:tag][@sha256:<64 hex>], repository in lowercase, e.g. 127.0.0.1:5000/team/app:1.2.3',
    );
    this.name = 'InvalidReferenceError';
    this.input = input;
    this.reason = reason;
  }
}

/** A registry answered with an error (after retries, where retrying made sense). */
export class RegistryError extends OciError {
  readonly status: number | undefined;
  readonly endpoint: string;
  readonly code: string | undefined;
  constructor(message: string, opts: { endpoint: string; status?: number; code?: string; hint?: string; cause?: unknown }) {
    super(message, opts.hint, { cause: opts.cause });
    this.name = 'RegistryError';
    this.endpoint = opts.endpoint;
    this.status = opts.status;
    this.code = opts.code;
  }
}

/** A CA bundle that could not be read. The caller knows which input or flag named `path`. */
export class CaFileError extends OciError {
  readonly path: string;
  constructor(path: string, options: { cause?: unknown } = {}) {
    super(
      `cannot read CA file ${path}: ${options.cause instanceof Error ? options.cause.message : String(options.cause ?? 'unreadable')}`,
      "give a readable PEM file with the registry's CA certificate",
      options,
    );
    this.name = 'CaFileError';
    this.path = path;
  }
}

/**
 * The TLS handshake with a registry failed: its certificate is not trusted here, or the port
 * speaks plain HTTP. `registry` is host[:port]; the caller says how its user adds a CA or marks
 * the registry insecure.
 */
export class RegistryTlsError extends RegistryError {
  readonly registry: string;
  readonly reason: string;
  constructor(registry: string, reason: string, opts: { endpoint: string; cause?: unknown }) {
    super(`TLS connection to ${registry} failed: ${reason}`, {
      endpoint: opts.endpoint,
      cause: opts.cause,
      hint: `trust the registry's CA, or allow ${registry} as insecure if it speaks plain HTTP`,
    });
    this.name = 'RegistryTlsError';
    this.registry = registry;
    this.reason = reason;
  }
}
