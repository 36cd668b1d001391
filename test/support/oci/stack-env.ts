// Environment of the local stack (test/stack); stack tests fail rather than skip without it.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

let scratch: string | undefined;
let certDir: string | undefined;
let authFile: string | undefined;

/** A private directory for this test file's helpers; removeScratch() in afterAll. */
export function scratchDir(): string {
  scratch ??= mkdtempSync(path.join(tmpdir(), 'oci-stack-test-'));
  return scratch;
}

/** For afterAll: vitest may end a worker without an 'exit' event. */
export function removeScratch(): void {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  scratch = certDir = authFile = undefined;
}

/** skopeo wants a directory of *.crt files rather than a CA file. */
export function skopeoCertDir(): string {
  if (!certDir) {
    certDir = path.join(scratchDir(), 'certs');
    mkdirSync(certDir);
    copyFileSync(stack.ca, path.join(certDir, 'ca.crt'));
  }
  return certDir;
}

/** Credentials for skopeo go in a 0600 auth file, never on its command line. */
export function skopeoAuthFile(): string {
  if (!authFile) {
    authFile = path.join(scratchDir(), 'auth.json');
    const auth = Buffer.from(`${stack.user}:${stack.password}`).toString('base64');
    writeFileSync(authFile, JSON.stringify({ auths: { [stack.tlsRegistry]: { auth } } }), { mode: 0o600 });
  }
  return authFile;
}

/** A repository name unique to this run, so reruns against a warm registry start cold. */
export function uniqueRepo(base: string): string {
  return `${base}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
}
