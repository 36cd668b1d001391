// Cluster access from, in order: kubeconfig content (read from memory: nothing reads a copy on disk,
// so none is written — a credential file a cancelled job could leave behind), a kubeconfig path, $KUBECONFIG (a path list, merged as kubectl merges it: the first file
// to define a name wins), the in-cluster service account, ~/.kube/config. Errors never quote the
// kubeconfig's content: it holds credentials.
//
// Static credentials (client certificates, tokens, token files, basic auth) are read here directly.
// Users with an exec plugin or an auth-provider are handed to @kubernetes/client-node, which runs
// them; it is loaded only then, so the common case does not pay ~130 ms for loading the library.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { redactUrl, urlSecrets } from '@shipline/kit/redact-url';
import { untrusted } from '@shipline/kit/untrusted';
import { parse } from 'yaml';
import { KubeconfigError } from './errors.ts';
import { isRecord } from './object.ts';

export interface KubeconfigSource {
  /** Kubeconfig text (a secret). */
  content?: string;
  /** Path of a kubeconfig file. */
  path?: string;
  /** Context to use instead of the file's current-context. */
  context?: string;
  /** Unused: content is no longer written anywhere (kept so callers need not change). */
  tempDir?: string;
  /** The environment to read KUBECONFIG, KUBERNETES_SERVICE_HOST and HOME from. */
  env: Readonly<Record<string, string | undefined>>;
}

type Raw = Record<string, unknown>;

/** A cluster or user entry with the directory its file is in (relative paths are relative to it). */
interface Entry {
  name: string;
  value: Raw;
  dir: string;
}

export interface ClusterAccess {
  /** API server URL, e.g. https://127.0.0.1:6443. */
  server: string;
  context: string;
  /** The context's namespace, when it sets one. */
  namespace: string | undefined;
  /** How the access was found, for logs: `kubeconfig content`, `/path/to/config`, `in-cluster service account`. */
  origin: string;
  /** Releases what the access holds (nothing on disk today); safe to call twice. */
  close(): void;
  /** The context's cluster and user entries. */
  cluster: Entry;
  user: Entry | undefined;
  /** Every user entry the kubeconfig holds (for masking). */
  users: Entry[];
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

interface Merged {
  clusters: Map<string, Entry>;
  users: Map<string, Entry>;
  contexts: Map<string, Raw>;
  currentContext: string | undefined;
}

export function openKubeconfig(src: KubeconfigSource): ClusterAccess {
  const merged: Merged = { clusters: new Map(), users: new Map(), contexts: new Map(), currentContext: undefined };
  let origin: string;
  const close = () => {};
  try {
    if (src.content !== undefined && src.content.trim() !== '') {
      const doc = checkShape(src.content, 'the kubeconfig content');
      // Relative paths in content (a tokenFile, a certificate file) are relative to the working directory.
      merge(merged, doc, process.cwd(), 'the kubeconfig content');
      origin = 'kubeconfig content';
    } else if (src.path !== undefined && src.path !== '') {
      fileOrThrow(src.path);
      load(merged, src.path, src.path);
      origin = src.path;
    } else if (src.env.KUBECONFIG) {
      const files = src.env.KUBECONFIG.split(delimiter).filter((f) => f !== '');
      const present = files.filter((f) => existsSync(f));
      if (present.length === 0)
        throw new KubeconfigError(
          'source',
          'env-missing',
          `KUBECONFIG names no existing file (${files.join(', ')})`,
          'set KUBECONFIG to your kubeconfig file, or give the kubeconfig directly',
        );
      // Several files may each hold a part (clusters in one, users in another), as kubectl allows.
      for (const f of present) load(merged, f, f, present.length > 1);
      if (merged.clusters.size === 0 || merged.contexts.size === 0) {
        throw new KubeconfigError(
          'file',
          'invalid',
          `the KUBECONFIG files (${present.join(', ')}) define no ${merged.clusters.size === 0 ? 'clusters' : 'contexts'}`,
          'a kubeconfig needs clusters, users and contexts',
        );
      }
      origin = `KUBECONFIG (${present.join(delimiter)})`;
    } else if (src.env.KUBERNETES_SERVICE_HOST && existsSync(join(SA_DIR, 'token'))) {
      inCluster(merged, src.env);
      origin = 'in-cluster service account';
    } else {
      const home = src.env.HOME;
      const file = home ? join(home, '.kube', 'config') : undefined;
      if (!file || !existsSync(file)) {
        throw new KubeconfigError(
          'source',
          'unconfigured',
          'no cluster access configured',
          'give a kubeconfig (its content or a file), set KUBECONFIG, or run in a cluster with a service account',
        );
      }
      load(merged, file, file);
      origin = file;
    }
    if (src.context && !merged.contexts.has(src.context)) {
      throw new KubeconfigError(
        'context',
        'unknown-context',
        `context ${JSON.stringify(src.context)} is not in the kubeconfig`,
        `use one of: ${[...merged.contexts.keys()].join(', ') || '(none defined)'}`,
      );
    }
    const current = src.context || merged.currentContext;
    if (!current)
      throw new KubeconfigError(
        'context',
        'no-current-context',
        'the kubeconfig has no current-context',
        'set current-context in the kubeconfig or choose a context',
      );
    const ctx = merged.contexts.get(current);
    if (!ctx)
      throw new KubeconfigError(
        'context',
        'unknown-current-context',
        `current-context ${JSON.stringify(current)} is not defined in the kubeconfig`,
        'fix current-context or choose a context',
      );
    const cluster = typeof ctx.cluster === 'string' ? merged.clusters.get(ctx.cluster) : undefined;
    if (!cluster)
      throw new KubeconfigError(
        'context',
        'invalid',
        `context ${JSON.stringify(current)} names cluster ${JSON.stringify(ctx.cluster)}, which is not defined`,
        'fix the kubeconfig',
      );
    const serverText = typeof cluster.value.server === 'string' ? cluster.value.server : '';
    let server: URL;
    try {
      server = new URL(serverText);
    } catch {
      throw new KubeconfigError(
        'cluster',
        'invalid',
        `cluster ${JSON.stringify(cluster.name)} has no valid server URL`,
        'set clusters[].cluster.server to https://host:port',
      );
    }
    if (server.protocol !== 'https:' && server.protocol !== 'http:') {
      throw new KubeconfigError(
        'cluster',
        'invalid',
        `cluster ${JSON.stringify(cluster.name)} server uses ${server.protocol}`,
        'the server must be an http(s) URL',
      );
    }
    let user: Entry | undefined;
    if (typeof ctx.user === 'string' && ctx.user !== '') {
      user = merged.users.get(ctx.user);
      if (!user)
        throw new KubeconfigError(
          'context',
          'invalid',
          `context ${JSON.stringify(current)} names user ${JSON.stringify(ctx.user)}, which is not defined`,
          'fix the kubeconfig',
        );
    }
    const namespace = typeof ctx.namespace === 'string' && ctx.namespace !== '' ? ctx.namespace : undefined;
    return {
      server: serverText.replace(/\/+$/, ''),
      context: current,
      namespace,
      origin,
      close,
      cluster,
      user,
      users: [...merged.users.values()],
    };
  } catch (e) {
    close();
    throw e;
  }
}

function fileOrThrow(path: string): void {
  const what = `kubeconfig file ${JSON.stringify(path)}`;
  if (!existsSync(path)) throw new KubeconfigError('file', 'not-found', `${what} does not exist`, 'give the path of a kubeconfig file');
  if (!statSync(path).isFile()) throw new KubeconfigError('file', 'not-found', `${what} is not a file`, 'give the path of a kubeconfig file');
}

// YAML errors are summarised, never quoted: the text holds credentials.
function checkShape(text: string, what: string, partial = false): Raw {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch {
    throw new KubeconfigError('file', 'not-yaml', `${what} is not valid YAML`, 'pass the whole kubeconfig file (from a secret, say)');
  }
  if (!isRecord(doc))
    throw new KubeconfigError(
      'file',
      'not-kubeconfig',
      `${what} is not a kubeconfig (not a YAML mapping)`,
      'pass the whole kubeconfig file, not a path or a token',
    );
  if (partial) return doc;
  if (!Array.isArray(doc.clusters) || doc.clusters.length === 0)
    throw new KubeconfigError('file', 'invalid', `${what} defines no clusters`, 'a kubeconfig needs clusters, users and contexts');
  if (!Array.isArray(doc.contexts) || doc.contexts.length === 0)
    throw new KubeconfigError('file', 'invalid', `${what} defines no contexts`, 'a kubeconfig needs clusters, users and contexts');
  return doc;
}

function load(merged: Merged, file: string, what: string, partial = false): void {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new KubeconfigError('file', 'invalid', `cannot read ${what}: ${e instanceof Error ? e.message : String(e)}`, 'check the path and its permissions');
  }
  merge(merged, checkShape(text, what, partial), dirname(resolve(file)), what);
}

/** Adds one file's entries; names already defined by an earlier file keep their first definition. */
function merge(merged: Merged, doc: Raw, dir: string, what: string): void {
  const invalid = (why: string) =>
    new KubeconfigError('file', 'invalid', `${what} is not a valid kubeconfig: ${why}`, 'check clusters, users and contexts (names, server, certificate data)');
  const entries = (key: 'clusters' | 'users' | 'contexts', field: 'cluster' | 'user' | 'context'): Array<{ name: string; value: Raw }> => {
    const list = doc[key] ?? [];
    if (!Array.isArray(list)) throw invalid(`${key} is not a list`);
    return list.map((e, i) => {
      if (!isRecord(e) || typeof e.name !== 'string' || e.name === '') throw invalid(`${key}[${i}] has no name`);
      const value = e[field] ?? {};
      if (!isRecord(value)) throw invalid(`${key}[${i}] (${e.name}) has no ${field} mapping`);
      return { name: e.name, value };
    });
  };
  for (const c of entries('clusters', 'cluster')) if (!merged.clusters.has(c.name)) merged.clusters.set(c.name, { ...c, dir });
  for (const u of entries('users', 'user')) if (!merged.users.has(u.name)) merged.users.set(u.name, { ...u, dir });
  for (const c of entries('contexts', 'context')) if (!merged.contexts.has(c.name)) merged.contexts.set(c.name, c.value);
  const current = doc['current-context'];
  if (merged.currentContext === undefined && typeof current === 'string' && current !== '') merged.currentContext = current;
}

/** The pod's service account, as kubectl and client libraries read it inside a cluster. */
function inCluster(merged: Merged, env: Readonly<Record<string, string | undefined>>): void {
  const host = env.KUBERNETES_SERVICE_HOST as string;
  const port = env.KUBERNETES_SERVICE_PORT || '443';
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  let namespace: string | undefined;
  try {
    namespace = readFileSync(join(SA_DIR, 'namespace'), 'utf8').trim() || undefined;
  } catch {}
  merged.clusters.set('in-cluster', { name: 'in-cluster', value: { server, 'certificate-authority': join(SA_DIR, 'ca.crt') }, dir: SA_DIR });
  merged.users.set('in-cluster', { name: 'in-cluster', value: { tokenFile: join(SA_DIR, 'token') }, dir: SA_DIR });
  merged.contexts.set('in-cluster', { cluster: 'in-cluster', user: 'in-cluster', ...(namespace ? { namespace } : {}) });
  merged.currentContext = 'in-cluster';
}

/** TLS material and headers for requests to the API server (runs exec/OIDC auth plugins). */
export interface Connection {
  server: URL;
  ca?: Buffer | string;
  cert?: Buffer | string;
  key?: Buffer | string;
  rejectUnauthorized: boolean;
  servername?: string;
  headers: Record<string, string>;
  /** The cluster's `proxy-url` (http or https), when it names one. */
  proxyUrl?: string;
}

export async function connectionOf(access: ClusterAccess): Promise<Connection> {
  const { cluster, user } = access;
  const bad = (what: string, e: unknown) =>
    new KubeconfigError(
      'user',
      'auth',
      // A plugin's error carries its stderr, which may echo its environment (exec.env holds credentials).
      `cannot authenticate with the kubeconfig user: ${what}${e instanceof Error ? `: ${untrusted(e.message.split('\n')[0], { max: 300, oneLine: true })}` : ''}`,
      'check the user entry (token, client certificate, exec plugin)',
      { cause: e },
    );
  if (user && (isRecord(user.value.exec) || isRecord(user.value['auth-provider']))) {
    try {
      return await viaClientNode(access);
    } catch (e) {
      throw bad(isRecord(user.value.exec) ? 'the exec plugin failed' : 'the auth provider failed', e);
    }
  }
  const c: Connection = { server: new URL(access.server), rejectUnauthorized: cluster.value['insecure-skip-tls-verify'] !== true, headers: {} };
  const proxy = proxyUrlOf(cluster);
  if (proxy) c.proxyUrl = proxy;
  const tlsName = cluster.value['tls-server-name'];
  if (typeof tlsName === 'string' && tlsName !== '') c.servername = tlsName;
  const ca = material(cluster, 'certificate-authority', 'cluster');
  if (ca) c.ca = ca;
  if (!user) return c;
  const cert = material(user, 'client-certificate', 'user');
  const key = material(user, 'client-key', 'user');
  if (!cert !== !key) {
    throw new KubeconfigError(
      'user',
      'invalid',
      `user ${JSON.stringify(user.name)} has a client ${cert ? 'certificate without a key' : 'key without a certificate'}`,
      'set both client-certificate(-data) and client-key(-data)',
    );
  }
  if (cert && key) {
    c.cert = cert;
    c.key = key;
  }
  let token = typeof user.value.token === 'string' && user.value.token !== '' ? user.value.token : undefined;
  if (!token && typeof user.value.tokenFile === 'string' && user.value.tokenFile !== '') {
    const file = pathOf(user, user.value.tokenFile);
    try {
      token = readFileSync(file, 'utf8').trim();
    } catch (e) {
      throw bad(`cannot read tokenFile ${file}`, e);
    }
  }
  if (token) c.headers.Authorization = `Bearer ${token}`;
  else if (typeof user.value.username === 'string' && typeof user.value.password === 'string') {
    c.headers.Authorization = `Basic ${Buffer.from(`${user.value.username}:${user.value.password}`).toString('base64')}`;
  }
  return c;
}

/** A cluster's `proxy-url`: http(s) proxies only (kubectl also speaks SOCKS5, Node's agents do not). */
function proxyUrlOf(cluster: Entry): string | undefined {
  const raw = cluster.value['proxy-url'];
  if (raw === undefined || raw === '') return undefined;
  let u: URL | undefined;
  try {
    u = typeof raw === 'string' ? new URL(raw) : undefined;
  } catch {
    u = undefined;
  }
  // Quoted only with its userinfo and token parameters replaced: a proxy URL may carry credentials.
  const shown = typeof raw === 'string' ? JSON.stringify(redactUrl(raw)) : 'that is not text';
  if (!u)
    throw new KubeconfigError(
      'cluster',
      'invalid',
      `cluster ${JSON.stringify(cluster.name)} has an invalid proxy-url ${shown}`,
      'write proxy-url as http://host:port',
    );
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new KubeconfigError(
      'cluster',
      'invalid',
      `cluster ${JSON.stringify(cluster.name)} has proxy-url ${shown} with scheme ${u.protocol.replace(/:$/, '')}`,
      'use an HTTP proxy (http://host:port); SOCKS proxies are not supported',
    );
  }
  return u.href;
}

function pathOf(e: Entry, p: string): string {
  return isAbsolute(p) ? p : join(e.dir, p);
}

/** `<field>-data` (base64) or the file `<field>` names, relative to the kubeconfig's directory. */
function material(e: Entry, field: string, what: 'cluster' | 'user'): Buffer | undefined {
  const bytes = rawMaterial(e, field, what);
  // Node takes CA, certificate and key as PEM only; anything else surfaces later as a TLS failure
  // that names no field of the kubeconfig (found by the bad-input corpus, issue 14). The content is
  // never quoted: a key is a credential.
  if (bytes && !bytes.includes('-----BEGIN ')) {
    throw new KubeconfigError(
      what,
      'invalid',
      `${what} ${JSON.stringify(e.name)} has a ${field} that holds no PEM block`,
      `give ${field} as PEM (-----BEGIN …----- blocks)`,
    );
  }
  return bytes;
}

function rawMaterial(e: Entry, field: string, what: 'cluster' | 'user'): Buffer | undefined {
  const data = e.value[`${field}-data`];
  if (typeof data === 'string' && data !== '') {
    const bytes = Buffer.from(data, 'base64');
    if (bytes.length === 0 || !/^[A-Za-z0-9+/=\s]+$/.test(data)) {
      throw new KubeconfigError(
        what,
        'invalid',
        `${what} ${JSON.stringify(e.name)} has ${field}-data that is not base64`,
        `set ${field}-data to the base64 of the PEM file`,
      );
    }
    return bytes;
  }
  const file = e.value[field];
  if (typeof file !== 'string' || file === '') return undefined;
  const full = pathOf(e, file);
  try {
    return readFileSync(full);
  } catch (err) {
    throw new KubeconfigError(
      what,
      'invalid',
      `${what} ${JSON.stringify(e.name)}: cannot read ${field} ${full} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      `check that ${full} exists and is readable, or use ${field}-data`,
    );
  }
}

/** Exec plugins and auth providers: client-node runs them (with absolute paths, from memory). */
async function viaClientNode(access: ClusterAccess): Promise<Connection> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const abs = (e: Entry, fields: string[]) => {
    const v: Raw = { ...e.value };
    for (const f of fields) if (typeof v[f] === 'string' && v[f] !== '') v[f] = pathOf(e, v[f] as string);
    return v;
  };
  const user = access.user as Entry;
  const kc = new KubeConfig();
  // JSON is YAML: nothing touches the disk.
  kc.loadFromString(
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: access.cluster.name, cluster: abs(access.cluster, ['certificate-authority']) }],
      users: [{ name: user.name, user: abs(user, ['client-certificate', 'client-key', 'tokenFile']) }],
      contexts: [{ name: access.context, context: { cluster: access.cluster.name, user: user.name } }],
      'current-context': access.context,
    }),
  );
  const opts: import('node:https').RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.headers ?? {})) if (v !== undefined) headers[k] = String(v);
  if (opts.auth) headers.Authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
  const c: Connection = { server: new URL(access.server), rejectUnauthorized: opts.rejectUnauthorized !== false, headers };
  const proxy = proxyUrlOf(access.cluster);
  if (proxy) c.proxyUrl = proxy;
  if (opts.ca) c.ca = opts.ca as Buffer;
  if (opts.cert) c.cert = opts.cert as Buffer;
  if (opts.key) c.key = opts.key as Buffer;
  if (opts.servername) c.servername = opts.servername;
  return c;
}

/**
 * Secrets a kubeconfig holds, each on its own (a kubeconfig is never masked whole: the runner splits
 * a mask on line breaks, so `apiVersion: v1` would be masked for the rest of the job): tokens,
 * passwords, client key data (as written and decoded), auth-provider config values, exec plugin
 * environment values, and the userinfo of proxy URLs.
 */
export function secretsOf(access: ClusterAccess): string[] {
  const out = new Set<string>();
  const add = (v: unknown, min = 1) => {
    if (typeof v === 'string' && v.trim().length >= min) out.add(v);
  };
  for (const u of access.users) {
    const v = u.value;
    for (const f of ['token', 'password']) add(v[f]);
    const keyData = v['client-key-data'];
    if (typeof keyData === 'string' && keyData !== '') {
      add(keyData);
      add(Buffer.from(keyData, 'base64').toString('utf8'));
    }
    const provider = v['auth-provider'];
    if (isRecord(provider) && isRecord(provider.config)) for (const x of Object.values(provider.config)) add(x);
    const exec = v.exec;
    if (isRecord(exec) && Array.isArray(exec.env)) {
      // Values like `1` or `us` are settings, not credentials, and masking them would blank the log.
      for (const e of exec.env) if (isRecord(e)) add(e.value, 3);
    }
  }
  for (const s of urlSecrets(typeof access.cluster.value['proxy-url'] === 'string' ? access.cluster.value['proxy-url'] : '')) add(s);
  return [...out];
}
