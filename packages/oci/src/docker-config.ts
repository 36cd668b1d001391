import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { exec } from '@shipline/kit/exec';
import { OciError } from './errors.ts';
import { DOCKER_HUB } from './reference.ts';

/** What a registry login yields: a password, or an OAuth2 refresh token (docker's identitytoken). */
export type Credential =
  | { kind: 'basic'; username: string; password: string }
  | { kind: 'identity-token'; token: string; username?: string }
  | { kind: 'registry-token'; token: string };

export interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string; registrytoken?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
}

/** Runs `docker-credential-<helper> get` with the server URL on stdin; injectable for callers. */
export type HelperRunner = (program: string, args: string[], stdin: string) => Promise<{ stdout: string; stderr: string; code: number }>;

export const runHelper: HelperRunner = async (program, args, stdin) => {
  // Through the suite's one exec: argument array, no shell (the helper name comes from a file the
  // user controls), nothing echoed (the answer holds the secret), killed after 30 s.
  const r = await exec(program, args, { input: stdin, timeoutMs: 30_000, maxOutput: 1024 * 1024 });
  if (r.notFound) {
    throw new OciError(`credential helper ${program} is not installed`, `install ${program} or remove it from docker's config.json (credsStore/credHelpers)`);
  }
  if (r.timedOut) throw new OciError(`credential helper ${program} did not answer within 30 s`, 'check that it can reach its store without a prompt');
  return { stdout: r.stdout, stderr: r.stderr, code: r.code };
};

export function defaultDockerConfigPath(env: Record<string, string | undefined> = process.env): string {
  const dir = env.DOCKER_CONFIG ?? path.join(env.HOME ?? homedir(), '.docker');
  return path.join(dir, 'config.json');
}

/** The key docker uses for a registry in config.json (Docker Hub keeps its legacy v1 URL). */
export function configKeyFor(registry: string): string {
  return registry === DOCKER_HUB ? 'https://index.docker.io/v1/' : registry;
}

/** Normalise an `auths` key: scheme, path and Docker Hub aliases are not significant. */
export function normaliseConfigKey(key: string): string {
  let k = key.trim();
  k = k.replace(/^[a-z]+:\/\//i, '');
  k = k.split('/')[0] ?? k;
  k = k.toLowerCase();
  if (k === 'index.docker.io' || k === 'registry-1.docker.io' || k === 'registry.hub.docker.com') return DOCKER_HUB;
  return k;
}

export async function loadDockerConfig(file: string): Promise<DockerConfig | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return undefined;
    throw new OciError(`cannot read docker config ${file}: ${(err as Error).message}`, "check DOCKER_CONFIG and the file's permissions");
  }
  try {
    return JSON.parse(text) as DockerConfig;
  } catch (err) {
    throw new OciError(`docker config ${file} is not valid JSON: ${(err as Error).message}`, 'fix or remove the file');
  }
}

function fromAuthEntry(registry: string, entry: NonNullable<DockerConfig['auths']>[string]): Credential | undefined {
  if (entry.identitytoken) return { kind: 'identity-token', token: entry.identitytoken, ...(entry.username ? { username: entry.username } : {}) };
  if (entry.registrytoken) return { kind: 'registry-token', token: entry.registrytoken };
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new OciError(`docker config: the auth for ${registry} does not decode to user:password`, `run docker login ${registry} again`);
    return { kind: 'basic', username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (entry.username && entry.password) return { kind: 'basic', username: entry.username, password: entry.password };
  return undefined;
}

async function fromHelper(helper: string, registry: string, run: HelperRunner): Promise<Credential | undefined> {
  const program = `docker-credential-${helper}`;
  if (!/^[A-Za-z0-9._-]+$/.test(helper))
    throw new OciError(`credential helper name ${JSON.stringify(helper)} is invalid`, "fix credsStore/credHelpers in docker's config.json");
  const out = await run(program, ['get'], configKeyFor(registry));
  if (out.code !== 0) {
    if (/credentials not found/i.test(out.stdout + out.stderr)) return undefined;
    throw new OciError(
      `credential helper ${program} failed for ${registry}: ${(out.stderr || out.stdout).trim().slice(0, 200)}`,
      `check that ${program} works: echo ${configKeyFor(registry)} | ${program} get`,
    );
  }
  let doc: { Username?: string; Secret?: string };
  try {
    doc = JSON.parse(out.stdout) as typeof doc;
  } catch {
    throw new OciError(`credential helper ${program} printed something that is not JSON`, `check ${program}`);
  }
  if (!doc.Secret) return undefined;
  // docker-credential-* report identity tokens with the username "<token>".
  if (doc.Username === '<token>') return { kind: 'identity-token', token: doc.Secret };
  return { kind: 'basic', username: doc.Username ?? '', password: doc.Secret };
}

/**
 * Credentials for `registry` the way the docker CLI finds them: credHelpers for that
 * registry, then credsStore, then inline `auths` entries.
 */
export async function credentialFromDockerConfig(config: DockerConfig, registry: string, run: HelperRunner = runHelper): Promise<Credential | undefined> {
  const helpers = config.credHelpers ?? {};
  for (const [key, helper] of Object.entries(helpers)) {
    if (normaliseConfigKey(key) === registry) return fromHelper(helper, registry, run);
  }
  if (config.credsStore) {
    const fromStore = await fromHelper(config.credsStore, registry, run);
    if (fromStore) return fromStore;
  }
  for (const [key, entry] of Object.entries(config.auths ?? {})) {
    if (normaliseConfigKey(key) === registry && entry) {
      const cred = fromAuthEntry(registry, entry);
      if (cred) return cred;
    }
  }
  return undefined;
}

export interface CredentialSourceOptions {
  /** Explicit credentials per registry (host[:port]); they win over docker's config. */
  explicit?: Record<string, { username: string; password: string }>;
  /** Path of docker's config.json; default $DOCKER_CONFIG/config.json or ~/.docker/config.json. */
  dockerConfigPath?: string | false;
  runHelper?: HelperRunner;
  env?: Record<string, string | undefined>;
}

export type CredentialSource = (registry: string) => Promise<Credential | undefined>;

/** One lookup function over explicit inputs and docker's config.json (read once, lazily). */
export function createCredentialSource(options: CredentialSourceOptions = {}): CredentialSource {
  let config: Promise<DockerConfig | undefined> | undefined;
  const explicit = new Map(Object.entries(options.explicit ?? {}).map(([k, v]) => [normaliseConfigKey(k), v]));
  return async (registry) => {
    const e = explicit.get(registry);
    if (e) return { kind: 'basic', username: e.username, password: e.password };
    if (options.dockerConfigPath === false) return undefined;
    config ??= loadDockerConfig(options.dockerConfigPath ?? defaultDockerConfigPath(options.env));
    const c = await config;
    return c ? credentialFromDockerConfig(c, registry, options.runHelper) : undefined;
  };
}
