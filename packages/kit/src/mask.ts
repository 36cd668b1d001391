/** Remembers secrets and removes them from any text before it is written anywhere. */
export class Masker {
  private readonly secrets = new Set<string>();

  add(secret: string): void {
    // Short strings would blank out ordinary words; GitHub's runner draws the same line.
    if (secret.length < 3) return;
    this.secrets.add(secret);
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
