// Environment of the local stack (test/stack); stack tests fail rather than skip without it.
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

function need(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the stack tests through the vitest "stack" project (or export \`pnpm stack env\`)`);
  return v;
}

export const stack = {
  get registry(): string {
    return need('SHIPLINE_REGISTRY');
  },
  get tlsRegistry(): string {
    return need('SHIPLINE_REGISTRY_TLS');
  },
  get ca(): string {
    return need('SHIPLINE_REGISTRY_CA');
  },
  get user(): string {
    return need('SHIPLINE_REGISTRY_USER');
  },
  get password(): string {
    return need('SHIPLINE_REGISTRY_PASSWORD');
  },
  get dockerHost(): string {
    return need('DOCKER_HOST');
  },
};

let certDir: string | undefined;
/** skopeo wants a directory of *.crt files rather than a CA file. */
export function skopeoCertDir(): string {
  if (!certDir) {
    certDir = mkdtempSync(path.join(tmpdir(), 'oci-certs-'));
    copyFileSync(stack.ca, path.join(certDir, 'ca.crt'));
  }
  return certDir;
}

/** A repository name unique to this run, so reruns against a warm registry start cold. */
export function uniqueRepo(base: string): string {
  return `${base}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
}
