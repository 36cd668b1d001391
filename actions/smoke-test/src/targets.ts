// Targets inside a cluster, reached through the API server's proxy
// (/api/v1/namespaces/<ns>/services/<name>:<port>/proxy/<path>), so checks work from a runner
// outside the cluster network with nothing but a kubeconfig.

export interface ProxyTarget {
  kind: 'service' | 'pod';
  namespace: string;
  name: string;
  /** Port number or name; empty means the first port (services) or the default. */
  port: string;
  /** Scheme the API server uses towards the target (`https:` prefix in the name part). */
  scheme: 'http' | 'https';
  /** Path and query, starting with `/`. */
  path: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const OBJECT_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const PORT_NAME = /^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/;

/** `namespace/name[:port][/path]`, optionally `namespace/https:name:port/path`; reason on failure. */
export function parseProxyTarget(kind: 'service' | 'pod', raw: string): ProxyTarget | { error: string } {
  const slash = raw.indexOf('/');
  if (slash <= 0) return { error: 'it must start with namespace/ (e.g. shop/orders:8080/healthz)' };
  const namespace = raw.slice(0, slash);
  if (namespace.includes(':')) return { error: 'it must start with namespace/ (e.g. shop/orders:8080/healthz)' };
  if (!DNS_LABEL.test(namespace)) return { error: `namespace "${namespace}" is not a lowercase DNS label` };
  let rest = raw.slice(slash + 1);
  const pathAt = rest.indexOf('/');
  const path = pathAt >= 0 ? rest.slice(pathAt) : '/';
  rest = pathAt >= 0 ? rest.slice(0, pathAt) : rest;
  let scheme: 'http' | 'https' = 'http';
  if (rest.startsWith('https:')) {
    scheme = 'https';
    rest = rest.slice('https:'.length);
  } else if (rest.startsWith('http:')) {
    rest = rest.slice('http:'.length);
  }
  const [name = '', port = '', extra] = rest.split(':');
  if (extra !== undefined) return { error: `"${rest}" has more than one ":"; write name:port` };
  if (!OBJECT_NAME.test(name)) return { error: `${kind} name "${name}" is not a valid object name` };
  // All digits is a number; a port name has at least one letter (IANA service name rules).
  const numeric = /^\d+$/.test(port);
  if (port !== '' && (numeric ? Number(port) < 1 || Number(port) > 65535 : !PORT_NAME.test(port) || !/[a-z]/.test(port))) {
    return { error: `port "${port}" is neither a number from 1 to 65535 nor a port name` };
  }
  if (/\s|#/.test(path)) return { error: 'the path must not contain spaces or #' };
  return { kind, namespace, name, port, scheme, path };
}

export function formatProxyTarget(t: ProxyTarget): string {
  return `${t.kind} ${t.namespace}/${t.scheme === 'https' ? 'https:' : ''}${t.name}${t.port ? `:${t.port}` : ''}${t.path}`;
}

/** The proxy URL on the API server `server` (which may carry a path prefix, e.g. behind a gateway). */
export function proxyUrl(server: URL, t: ProxyTarget): URL {
  const base = server.href.replace(/\/+$/, '');
  const id = `${t.scheme === 'https' ? 'https:' : ''}${t.name}${t.port ? `:${t.port}` : ''}`;
  return new URL(`${base}/api/v1/namespaces/${t.namespace}/${t.kind === 'service' ? 'services' : 'pods'}/${id}/proxy${t.path}`);
}
