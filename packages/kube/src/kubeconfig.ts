// Cluster access from, in order: kubeconfig content (written 0600 to a private temp dir, removed by
// close()), a kubeconfig path, $KUBECONFIG (a path list, merged), the in-cluster service account,
// ~/.kube/config. Errors never quote the kubeconfig's content: it holds credentials.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type https from 'node:https';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
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
  /** Where content is written (the runner's temp dir). */
  tempDir: string;
  /** The environment to read KUBECONFIG, KUBERNETES_SERVICE_HOST and HOME from. */
  env: Readonly<Record<string, string | undefined>>;
}

export interface ClusterAccess {
  config: KubeConfig;
  /** API server URL, e.g. https://127.0.0.1:6443. */
  server: string;
  context: string;
  /** The context's namespace, when it sets one. */
  namespace: string | undefined;
  /** How the access was found, for logs: `kubeconfig input`, `/path/to/config`, `in-cluster`. */
  origin: string;
  /** Path of the temporary kubeconfig written from content, while open. */
  tempPath: string | undefined;
  /** Removes the temporary kubeconfig (safe to call twice). */
  close(): void;
}

const IN_CLUSTER_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export function openKubeconfig(src: KubeconfigSource): ClusterAccess {
  const kc = new KubeConfig();
  let origin: string;
  let tempDir: string | undefined;
  let tempPath: string | undefined;
  const close = () => {
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
    tempDir = undefined;
  };
  try {
    if (src.content !== undefined && src.content.trim() !== '') {
      checkShape(src.content, 'the kubeconfig input');
      tempDir = mkdtempSync(join(src.tempDir, 'shipline-kube-'));
      tempPath = join(tempDir, 'config');
      writeFileSync(tempPath, src.content, { mode: 0o600 });
      load(kc, tempPath, 'the kubeconfig input');
      origin = 'kubeconfig input';
    } else if (src.path !== undefined && src.path !== '') {
      fileOrThrow(src.path, 'kubeconfig-path');
      load(kc, src.path, src.path);
      origin = src.path;
    } else if (src.env.KUBECONFIG) {
      const files = src.env.KUBECONFIG.split(delimiter).filter((f) => f !== '');
      const present = files.filter((f) => existsSync(f));
      if (present.length === 0)
        throw new KubeconfigError(
          `KUBECONFIG names no existing file (${files.join(', ')})`,
          'set KUBECONFIG to your kubeconfig file, or use the kubeconfig input',
        );
      load(kc, present[0] as string, present[0] as string);
      for (const f of present.slice(1)) {
        const more = new KubeConfig();
        load(more, f, f);
        kc.mergeConfig(more);
      }
      origin = `KUBECONFIG (${present.join(delimiter)})`;
    } else if (src.env.KUBERNETES_SERVICE_HOST && existsSync(IN_CLUSTER_TOKEN)) {
      kc.loadFromCluster();
      origin = 'in-cluster service account';
    } else {
      const home = src.env.HOME;
      const file = home ? join(home, '.kube', 'config') : undefined;
      if (!file || !existsSync(file)) {
        throw new KubeconfigError('no cluster access configured', 'set the kubeconfig input (content, from a secret), kubeconfig-path, or KUBECONFIG');
      }
      load(kc, file, file);
      origin = file;
    }
    if (src.context) {
      if (!kc.getContextObject(src.context)) {
        const names = kc.getContexts().map((c) => c.name);
        throw new KubeconfigError(`context ${JSON.stringify(src.context)} is not in the kubeconfig`, `use one of: ${names.join(', ') || '(none defined)'}`);
      }
      kc.setCurrentContext(src.context);
    }
    const current = kc.getCurrentContext();
    if (!current) throw new KubeconfigError('the kubeconfig has no current-context', 'set current-context in the kubeconfig or the context input');
    const ctx = kc.getContextObject(current);
    if (!ctx)
      throw new KubeconfigError(`current-context ${JSON.stringify(current)} is not defined in the kubeconfig`, 'fix current-context or set the context input');
    const cluster = kc.getCurrentCluster();
    if (!cluster)
      throw new KubeconfigError(`context ${JSON.stringify(current)} names cluster ${JSON.stringify(ctx.cluster)}, which is not defined`, 'fix the kubeconfig');
    let server: URL;
    try {
      server = new URL(cluster.server);
    } catch {
      throw new KubeconfigError(`cluster ${JSON.stringify(cluster.name)} has no valid server URL`, 'set clusters[].cluster.server to https://host:port');
    }
    if (server.protocol !== 'https:' && server.protocol !== 'http:') {
      throw new KubeconfigError(`cluster ${JSON.stringify(cluster.name)} server uses ${server.protocol}`, 'the server must be an http(s) URL');
    }
    if (ctx.user && !kc.getCurrentUser())
      throw new KubeconfigError(`context ${JSON.stringify(current)} names user ${JSON.stringify(ctx.user)}, which is not defined`, 'fix the kubeconfig');
    return { config: kc, server: cluster.server.replace(/\/+$/, ''), context: current, namespace: ctx.namespace, origin, tempPath, close };
  } catch (e) {
    close();
    throw e;
  }
}

function fileOrThrow(path: string, what: string): void {
  if (!existsSync(path)) throw new KubeconfigError(`${what} ${JSON.stringify(path)} does not exist`, 'give the path of a kubeconfig file');
  if (!statSync(path).isFile()) throw new KubeconfigError(`${what} ${JSON.stringify(path)} is not a file`, 'give the path of a kubeconfig file');
}

// Checked before the client library sees it: its own errors may echo parts of the text.
function checkShape(text: string, what: string): void {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch {
    throw new KubeconfigError(`${what} is not valid YAML`, 'pass the whole kubeconfig file, e.g. from a secret: `kubeconfig: ${{ secrets.KUBECONFIG }}`');
  }
  if (!isRecord(doc)) throw new KubeconfigError(`${what} is not a kubeconfig (not a YAML mapping)`, 'pass the whole kubeconfig file, not a path or a token');
  if (!Array.isArray(doc.clusters) || doc.clusters.length === 0)
    throw new KubeconfigError(`${what} defines no clusters`, 'a kubeconfig needs clusters, users and contexts');
  if (!Array.isArray(doc.contexts) || doc.contexts.length === 0)
    throw new KubeconfigError(`${what} defines no contexts`, 'a kubeconfig needs clusters, users and contexts');
}

function load(kc: KubeConfig, file: string, what: string): void {
  if (what !== 'the kubeconfig input') {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new KubeconfigError(`cannot read ${what}: ${e instanceof Error ? e.message : String(e)}`, 'check the path and its permissions');
    }
    checkShape(text, what);
  }
  try {
    kc.loadFromFile(file);
  } catch (e) {
    const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new KubeconfigError(`${what} is not a valid kubeconfig: ${why}`, 'check clusters, users and contexts (names, server, certificate data)');
  }
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
}

export async function connectionOf(access: ClusterAccess): Promise<Connection> {
  const opts: https.RequestOptions = {};
  try {
    await access.config.applyToHTTPSOptions(opts);
  } catch (e) {
    throw new KubeconfigError(
      `cannot authenticate with the kubeconfig user: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`,
      'check the user entry (token, client certificate, exec plugin)',
      { cause: e },
    );
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.headers ?? {})) if (v !== undefined) headers[k] = String(v);
  if (opts.auth) headers.Authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
  const c: Connection = { server: new URL(access.server), rejectUnauthorized: opts.rejectUnauthorized !== false, headers };
  if (opts.ca) c.ca = opts.ca as Buffer;
  if (opts.cert) c.cert = opts.cert as Buffer;
  if (opts.key) c.key = opts.key as Buffer;
  if (opts.servername) c.servername = opts.servername;
  return c;
}

/** Secrets a kubeconfig holds (tokens, keys, passwords) so callers can mask them before any log line. */
export function secretsOf(access: ClusterAccess): string[] {
  const out: string[] = [];
  for (const u of access.config.getUsers()) {
    for (const v of [u.token, u.password, u.keyData]) if (typeof v === 'string' && v.length >= 8) out.push(v);
  }
  return out;
}
