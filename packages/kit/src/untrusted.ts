// Text that did not come from the action itself — response bodies, API messages, live objects,
// process output, container logs, events, label values — is untrusted: on GitHub a line of it could
// otherwise issue a runner command. The runner reads its stdout line by line (a lone CR ends a line
// too), trims each line and runs it as a command when it starts with `::`; the legacy form `##[`
// is recognised anywhere in a line. `::stop-commands::<token>` turns all of that off until
// `::<token>::`, which hosts use around blocks of streamed text (see Log.external).
//
// Secrets are removed *before* text is cut, so an excerpt that ends inside a reflected token can
// never leave part of it readable.
import { secrets } from './mask.ts';

// U+200B (zero width space) is not whitespace to the runner's Trim() and breaks both prefixes.
const ZWSP = '\u200b';
const LINE_BREAK = /\r\n|\r|\n|\u2028|\u2029|\u0085/;

/** One line that can never be read as a runner command (line breaks must already be split off). */
export function inertLine(line: string): string {
  let out = line.replace(/##\[/g, `#${ZWSP}#[`);
  const lead = /^[\s\u00a0\ufeff]*::/.exec(out);
  if (lead) out = `${out.slice(0, lead[0].length - 1)}${ZWSP}${out.slice(lead[0].length - 1)}`;
  return out;
}

/** Every line of `text` made inert; line breaks of any kind become `\n`. */
export function inert(text: string): string {
  return text.split(LINE_BREAK).map(inertLine).join('\n');
}

export interface UntrustedOptions {
  /** Cut to this many characters (after masking), marking the cut with `…`. */
  max?: number;
  /** Fold the text onto one line (for error messages and table cells). */
  oneLine?: boolean;
}

/**
 * The one way outside text is made printable: every registered secret masked, then cut, then
 * made inert. Use it for anything shown in a log line, error, annotation or summary that came
 * from a server, cluster, file or process.
 */
export function untrusted(text: unknown, opts: UntrustedOptions = {}): string {
  let out = secrets.redact(typeof text === 'string' ? text : String(text ?? ''));
  if (opts.oneLine)
    out = out
      .split(LINE_BREAK)
      .map((l) => l.trim())
      .filter((l) => l !== '')
      .join(' ');
  if (opts.max !== undefined && out.length > opts.max) out = `${out.slice(0, Math.max(0, opts.max - 1))}…`;
  return inert(out);
}
