import { InvalidReferenceError } from './errors.ts';

/** A fully normalised image reference: registry and repository are always set. */
export interface ImageReference {
  /** host[:port], lowercase; `docker.io` for Docker Hub. */
  registry: string;
  /** path inside the registry, e.g. `library/nginx`. */
  repository: string;
  tag?: string;
  digest?: string;
}

export interface ParseOptions {
  /** Add `latest` when neither tag nor digest is given (docker's behaviour). Default true. */
  defaultTag?: boolean;
}

export const DOCKER_HUB = 'docker.io';

// The grammar of distribution/reference, written out so each failure can be named.
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;
const IPV6 = /^\[[0-9a-fA-F:.]+\]$/;
const MAX_NAME = 255;

function fail(input: string, reason: string): never {
  throw new InvalidReferenceError(input, reason);
}

function checkDomain(input: string, domain: string): string {
  let host = domain;
  let port: string | undefined;
  if (domain.startsWith('[')) {
    const end = domain.indexOf(']');
    if (end < 0) fail(input, `registry "${domain}" has an unclosed IPv6 bracket`);
    host = domain.slice(0, end + 1);
    const rest = domain.slice(end + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) fail(input, `registry "${domain}" has junk after the IPv6 address`);
      port = rest.slice(1);
    }
    if (!IPV6.test(host)) fail(input, `registry "${domain}" is not a valid IPv6 address`);
  } else {
    const colon = domain.indexOf(':');
    if (colon >= 0) {
      host = domain.slice(0, colon);
      port = domain.slice(colon + 1);
    }
    if (host === '') fail(input, `registry "${domain}" has no host name`);
    for (const part of host.split('.')) {
      if (part === '') fail(input, `registry host "${host}" has an empty label`);
      if (!DOMAIN_COMPONENT.test(part)) fail(input, `registry host "${host}" has an invalid label "${part}"`);
    }
  }
  if (port !== undefined) {
    if (!/^[0-9]+$/.test(port)) fail(input, `registry port "${port}" is not a number`);
    const n = Number(port);
    if (n < 1 || n > 65535) fail(input, `registry port ${port} is out of range 1-65535`);
  }
  const lower = host.toLowerCase();
  // index.docker.io and registry-1.docker.io are spellings of Docker Hub; normalise them so
  // repository matching and credential lookup see one name.
  if (port === undefined && (lower === 'index.docker.io' || lower === 'registry-1.docker.io')) return DOCKER_HUB;
  return port === undefined ? lower : `${lower}:${port}`;
}

function looksLikeDomain(first: string): boolean {
  return first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('[') || first !== first.toLowerCase();
}

/**
 * Parse and normalise an image reference the way docker does (`nginx` →
 * `docker.io/library/nginx:latest`). Throws InvalidReferenceError naming the offending part;
 * it never touches the network.
 */
export function parseReference(input: string, options: ParseOptions = {}): ImageReference {
  if (typeof input !== 'string') fail(String(input), 'not a string');
  if (input === '') fail(input, 'it is empty');
  if (input !== input.trim()) fail(input, 'it has leading or trailing whitespace');
  if (/\s/.test(input)) fail(input, 'it contains whitespace');
  if (input.includes('://')) fail(input, 'a URL scheme is not part of an image reference; drop "http(s)://"');

  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (digest.includes('@')) fail(input, 'it has more than one "@"');
    if (!digest.includes(':')) fail(input, `digest "${digest}" has no algorithm; expected sha256:<64 hex>`);
    if (!DIGEST.test(digest)) {
      const [alg, hex = ''] = digest.split(':', 2);
      if (alg !== 'sha256' && alg !== 'sha512') fail(input, `digest algorithm "${alg}" is not supported; use sha256`);
      fail(input, `digest "${digest}" must be ${alg}: followed by ${alg === 'sha256' ? 64 : 128} lowercase hex characters (got ${hex.length})`);
    }
  }

  let tag: string | undefined;
  // A tag follows the last colon only if no slash comes after it (otherwise it is a port).
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > rest.lastIndexOf('/')) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (tag === '') fail(input, 'tag after ":" is empty');
    if (!TAG.test(tag)) {
      if (tag.length > 128) fail(input, `tag is ${tag.length} characters long; at most 128 are allowed`);
      fail(input, `tag "${tag}" may only contain letters, digits, "_", "." and "-" and must not start with "." or "-"`);
    }
  }

  if (rest === '') fail(input, 'repository name is missing');
  let registry = DOCKER_HUB;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0 && looksLikeDomain(rest.slice(0, slash))) {
    registry = checkDomain(input, rest.slice(0, slash));
    path = rest.slice(slash + 1);
  } else if (slash < 0 && rest.startsWith('[')) {
    fail(input, `"${rest}" looks like a registry address but no repository follows it`);
  }
  if (path === '') fail(input, 'repository name is missing after the registry');
  if (path.startsWith('/')) fail(input, 'repository has an empty path component ("//")');
  if (path.endsWith('/')) fail(input, 'repository ends with "/"');
  for (const part of path.split('/')) {
    if (part === '') fail(input, 'repository has an empty path component ("//")');
    if (part !== part.toLowerCase()) fail(input, `repository "${path}" must be lowercase`);
    if (!PATH_COMPONENT.test(part)) {
      fail(input, `repository component "${part}" may only contain lowercase letters, digits and single separators (".", "_", "__", "-") between them`);
    }
  }
  if (registry === DOCKER_HUB && !path.includes('/')) path = `library/${path}`;
  const fullName = `${registry}/${path}`;
  if (fullName.length > MAX_NAME) fail(input, `repository name is ${fullName.length} characters long; at most ${MAX_NAME} are allowed`);

  const ref: ImageReference = { registry, repository: path };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  if (tag === undefined && digest === undefined && options.defaultTag !== false) ref.tag = 'latest';
  return ref;
}

/** `registry/repository` — the key for matching, credentials per repository and mounts. */
export function repositoryName(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}`;
}

/** `registry/repository[:tag][@digest]`, always fully qualified. */
export function formatReference(ref: ImageReference): string {
  return `${repositoryName(ref)}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}

/** The shortest form docker would print (`nginx:latest`, `team/app:1`), for humans. */
export function familiarReference(ref: ImageReference): string {
  let name = repositoryName(ref);
  if (ref.registry === DOCKER_HUB) {
    name = ref.repository.startsWith('library/') && ref.repository.split('/').length === 2 ? ref.repository.slice(8) : ref.repository;
  }
  return `${name}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}

/**
 * True when both name the same repository after normalisation. Never a prefix match:
 * `registry/app` does not match `registry/app-worker` or `registry/app/sidecar`.
 */
export function sameRepository(a: string | ImageReference, b: string | ImageReference): boolean {
  const ra = typeof a === 'string' ? parseReference(a, { defaultTag: false }) : a;
  const rb = typeof b === 'string' ? parseReference(b, { defaultTag: false }) : b;
  return ra.registry === rb.registry && ra.repository === rb.repository;
}

/**
 * Like sameRepository but for strings found in the wild (e.g. container images in a manifest):
 * an unparsable candidate matches nothing instead of throwing.
 */
export function matchesRepository(candidate: string, ref: string | ImageReference): boolean {
  try {
    return sameRepository(candidate, ref);
  } catch {
    return false;
  }
}

/** Host the API is served from: Docker Hub's API lives on registry-1.docker.io. */
export function registryApiHost(registry: string): string {
  return registry === DOCKER_HUB ? 'registry-1.docker.io' : registry;
}

/** Registries talked to over plain HTTP without being listed: loopback only. */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.startsWith('[') ? registry.slice(0, registry.indexOf(']') + 1) : (registry.split(':')[0] ?? '');
  return host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
