/**
 * Where an annotation points: GitHub shows it on that line of that file (a manifest, a Dockerfile,
 * the workflow) and uses `title` as its heading. Lines and columns start at 1.
 */
export interface Annotation {
  title?: string;
  file?: string;
  line?: number;
  column?: number;
  endLine?: number;
  endColumn?: number;
}

/**
 * An error the user can fix: bad input, missing file, wrong credentials.
 * Hosts print it as one line (no stack) with the input it concerns and a hint.
 */
export class UserError extends Error {
  readonly input: string | undefined;
  readonly hint: string | undefined;
  /** The file and line the error is about, when it knows them. */
  readonly where: Annotation | undefined;

  constructor(message: string, options: { input?: string; hint?: string; cause?: unknown; where?: Annotation } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'UserError';
    this.input = options.input;
    this.hint = options.hint;
    this.where = options.where;
  }

  /** One line: `input "url": not a valid URL (fix: ...)`. */
  oneLine(): string {
    const where = this.input ? `input "${this.input}": ` : '';
    const hint = this.hint ? ` — ${this.hint}` : '';
    return flatten(`${where}${this.message}${hint}`);
  }
}

/** A failure of the action's work (not of its inputs): a check failed, a rollout broke. */
export class ActionFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ActionFailure';
  }
}

/** Annotations and error lines must stay on one line. */
export function flatten(text: string): string {
  return text.replace(/\s*\r?\n\s*/g, ' ').trim();
}

/** The message of anything thrown, without a stack. */
export function messageOf(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    const msg = e.message || e.name;
    return code && !msg.includes(code) ? `${msg} (${code})` : msg;
  }
  return String(e);
}
