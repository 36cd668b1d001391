// The GitHub Actions runner protocol: workflow commands on stdout and file commands
// (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY). Written here rather than taken from @actions/core,
// whose v3 bundle drags undici and ws (≈600 KB, ~150 ms of start-up) into every action for OIDC.
import { randomUUID } from 'node:crypto';
import { appendFileSync, existsSync } from 'node:fs';
import { EOL } from 'node:os';

function escapeData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

export function command(name: string, message: string, properties: Record<string, string> = {}): string {
  const props = Object.entries(properties)
    .filter(([, v]) => v !== '')
    .map(([k, v]) => `${k}=${escapeProperty(v)}`)
    .join(',');
  return `::${name}${props ? ` ${props}` : ''}::${escapeData(message)}${EOL}`;
}

/** `name<<delimiter` framing, as the runner reads GITHUB_OUTPUT and GITHUB_ENV. */
export function fileCommandEntry(name: string, value: string): string {
  const delimiter = `ghadelimiter_${randomUUID()}`;
  if (name.includes(delimiter) || value.includes(delimiter)) throw new Error('output collides with its delimiter');
  return `${name}<<${delimiter}${EOL}${value}${EOL}${delimiter}${EOL}`;
}

export function appendFileCommand(path: string, entry: string): void {
  // The runner creates the file; a missing one means a broken environment, not a place to create files.
  if (!existsSync(path)) throw new Error(`file command target does not exist: ${path}`);
  appendFileSync(path, entry, 'utf8');
}
