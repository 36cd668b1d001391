/** Remembers secrets and removes them from any text before it is written anywhere. */
export class Masker {
  private readonly secrets = new Set<string>();

  /**
   * `perLine` also masks each line alone, so a multi-line secret split across log lines stays
   * hidden. Structured secrets (a kubeconfig) turn that off: their lines are mostly ordinary text
   * such as `apiVersion: v1`, and the caller masks the fields that are secret.
   */
  add(secret: string, perLine = true): void {
    // Short strings would blank out ordinary words; GitHub's runner draws the same line.
    if (secret.length < 3) return;
    this.secrets.add(secret);
    if (!perLine) return;
    for (const line of secret.split(/\r?\n/)) if (line.trim().length >= 3) this.secrets.add(line.trim());
  }

  get values(): readonly string[] {
    return [...this.secrets];
  }

  redact(text: string): string {
    let out = text;
    // Longest first, so a secret containing another is masked whole.
    for (const s of [...this.secrets].sort((a, b) => b.length - a.length)) out = out.split(s).join('***');
    return out;
  }
}

/**
 * The process-wide list of secrets, as the runner's own mask list is job-wide: hosts register
 * into it, and `untrusted()` masks with it wherever text is cut, so libraries need no handle on the host.
 */
export const secrets = new Masker();
