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
