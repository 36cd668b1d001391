// Turning certificate verification off is the user's explicit choice (smoke-test `insecure`, a
// kubeconfig's `insecure-skip-tls-verify`, registry-push `insecure-registries`), and a quiet one is
// how a man-in-the-middle goes unnoticed for months. Each such choice is a warning in the log when it
// takes effect and a section of the job summary, even when the run fails (issue 14).
import type { Log } from './host.ts';
import { Summary } from './summary.ts';
import { untrusted } from './untrusted.ts';

const notes: string[] = [];
let current: Pick<Log, 'warning'> | undefined;

/** The log warnings go to; runAction sets it for the run (until then they are only recorded). */
export function setTlsLog(log: Pick<Log, 'warning'> | undefined): void {
  current = log;
}

/**
 * Records that TLS verification is off for `target` (a host, a URL) because of `cause` (the input
 * or kubeconfig field that turned it off). Once per target and cause.
 */
export function tlsVerificationOff(target: string, cause: string): void {
  const line = `TLS certificate verification is OFF for ${untrusted(target, { oneLine: true, max: 200 })} (${cause}) — nothing proves the server is the one meant`;
  if (notes.includes(line)) return;
  notes.push(line);
  current?.warning(line);
}

/** The notes so far, emptied (one run's worth). */
export function takeTlsNotes(): string[] {
  return notes.splice(0);
}

/** The summary section for `lines`, added to `summary` (or a new one). */
export function withTlsNotes(summary: Summary | undefined, lines: string[]): Summary | undefined {
  if (lines.length === 0) return summary;
  return (summary ?? new Summary()).heading('⚠️ TLS verification off').list(lines);
}
