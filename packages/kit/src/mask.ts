const LINE_BREAK = /\r\n|\r|\n/;

/**
 * How a secret is registered. `lines`: the value and each of its lines (a PEM, a password).
 * `structured`: a document of mostly ordinary text (a kubeconfig), whose secret fields the action
 * registers one by one; only the document as a whole is redacted here.
 */
export type MaskMode = 'lines' | 'structured';

/** Remembers secrets and removes them from any text before it is written to a log line. */
export class Masker {
  private readonly secrets = new Set<string>();
  private sorted: string[] | undefined;

  /** `perLine` false is the `structured` mode. */
  add(secret: string, perLine: boolean | MaskMode = true): void {
    // Short strings would blank out ordinary words; GitHub's runner draws the same line for its own
    // redaction (it is still told about them: see runnerMasks).
    if (secret.length < 3) return;
    this.secrets.add(secret);
    this.sorted = undefined;
    if (perLine === false || perLine === 'structured') return;
    for (const line of secret.split(LINE_BREAK)) if (line.trim().length >= 3) this.secrets.add(line.trim());
  }

  get values(): readonly string[] {
    return [...this.secrets];
  }

  redact(text: string): string {
    if (this.secrets.size === 0) return text;
    // Longest first, so a secret containing another is masked whole.
    this.sorted ??= [...this.secrets].sort((a, b) => b.length - a.length);
    let out = text;
    for (const s of this.sorted) if (out.includes(s)) out = out.split(s).join('***');
    return out;
  }
}

/**
 * What the GitHub runner is told to mask for one secret. The runner splits an `add-mask` value on
 * line breaks and masks every piece for the rest of the job, so a multi-line value is sent one line
 * at a time (never whole), and a structured document not at all: its fields come on their own.
 * Values of any length are sent, as @actions/core's setSecret does.
 */
export function runnerMasks(secret: string, mode: boolean | MaskMode = true): string[] {
  if (mode === false || mode === 'structured') return [];
  if (!LINE_BREAK.test(secret)) return secret.trim() === '' ? [] : [secret];
  return secret.split(LINE_BREAK).filter((l) => l.trim() !== '');
}

/**
 * The process-wide list of secrets, as the runner's own mask list is job-wide: hosts register
 * into it, and `untrusted()` masks with it wherever text is cut, so libraries need no handle on the host.
 */
export const secrets = new Masker();
