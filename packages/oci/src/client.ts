import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { isReplayableBody } from '@shipline/kit/retry';
import { untrusted } from '@shipline/kit/untrusted';
import { type RegistryAuth, repositoryScope } from './auth.ts';
import { DigestingStream, sha256Digest } from './digest.ts';
import { endpointOf, errorDetail } from './error-detail.ts';
import { OciError, RegistryError, RegistryTlsError } from './errors.ts';
import { MANIFEST_TYPES } from './media-types.ts';
import { isLoopbackRegistry, registryApiHost } from './reference.ts';
import type { Blob, ManifestDoc } from './source.ts';
import { drain, type HttpRequest, type HttpResponse, readBody, type Transport } from './transport.ts';

export interface RegistryClientOptions {
  transport: Transport;
  auth: RegistryAuth;
  /** Registries (host[:port]) allowed over plain HTTP besides loopback ones. */
  insecure?: Iterable<string>;
  /** Blobs up to this size go in one PUT; larger ones in PATCH chunks of this size. Default 64 MiB. */
  chunkSize?: number;
}

export const MANIFEST_ACCEPT = MANIFEST_TYPES.join(', ');

function isTlsMismatch(err: unknown): boolean {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.cause?.code ?? e.code ?? '';
  const msg = `${e.cause?.message ?? ''} ${e.message ?? ''}`;
  return code === 'EPROTO' || code.startsWith('ERR_SSL') || /wrong version number|packet length too long/i.test(msg);
}

/** One registry, spoken to over the OCI distribution API. */
export class RegistryClient {
  readonly registry: string;
  private readonly opts: RegistryClientOptions;
  private base: string | undefined;
  private pinging: Promise<string> | undefined;

  constructor(registry: string, options: RegistryClientOptions) {
    this.registry = registry;
    this.opts = options;
  }

  private get insecureAllowed(): boolean {
    return isLoopbackRegistry(this.registry) || [...(this.opts.insecure ?? [])].includes(this.registry);
  }

  /** Find the scheme (HTTPS first; HTTP only for insecure/loopback) and the auth challenge. */
  ping(): Promise<string> {
    this.pinging ??= this.doPing();
    return this.pinging;
  }

  private async doPing(): Promise<string> {
    const host = registryApiHost(this.registry);
    const schemes = this.insecureAllowed ? ['https', 'http'] : ['https'];
    let lastErr: unknown;
    for (const scheme of schemes) {
      const url = `${scheme}://${host}/v2/`;
      let res: HttpResponse;
      try {
        res = await this.opts.transport({ method: 'GET', url });
      } catch (err) {
        lastErr = err;
        if (scheme === 'https' && schemes.length > 1 && isTlsMismatch(err)) continue;
        if (
          isTlsMismatch(err) ||
          /certificate|self.signed|CERT_/i.test(`${(err as Error).message} ${((err as Error).cause as Error | undefined)?.message ?? ''}`)
        ) {
          throw new RegistryTlsError(this.registry, ((err as Error).cause as Error | undefined)?.message ?? (err as Error).message, {
            endpoint: url,
            cause: err,
          });
        }
        throw err;
      }
      // A plain HTTP client talking to a TLS port gets Go's "HTTP request to an HTTPS server".
      if (res.status === 400 && scheme === 'http') {
        await drain(res);
        throw new RegistryError(`registry ${this.registry} speaks HTTPS but the TLS handshake failed earlier`, { endpoint: url, status: 400 });
      }
      if (res.status === 200) {
        this.opts.auth.setChallenge(this.registry, undefined);
      } else if (res.status === 401) {
        this.opts.auth.setChallenge(this.registry, res.headers['www-authenticate']);
      } else {
        const detail = await errorDetail(res);
        throw new RegistryError(`${url} answered HTTP ${res.status}${detail ? `: ${detail}` : ''}; is this an OCI registry?`, {
          endpoint: url,
          status: res.status,
        });
      }
      await drain(res);
      this.base = `${scheme}://${host}`;
      return this.base;
    }
    throw lastErr;
  }

  /** An authorised request; one 401 refreshes the challenge/token and replays. */
  private async request(scopes: string[], req: HttpRequest): Promise<HttpResponse> {
    const base = await this.ping();
    const url = req.url.startsWith('http') ? req.url : `${base}${req.url}`;
    // Credentials belong to the registry's own origin: an upload Location that points at another
    // host (a storage bucket, a CDN, a hostile registry) gets the request without them.
    const sameOrigin = new URL(url).origin === new URL(base).origin;
    for (let attempt = 0; ; attempt++) {
      const authz = sameOrigin ? await this.opts.auth.header(this.registry, scopes) : undefined;
      const headers = { ...req.headers, ...(authz ? { authorization: authz } : {}) };
      const res = await this.opts.transport({ ...req, url, headers });
      if (res.status !== 401 || attempt > 0 || !sameOrigin || !isReplayableBody(req.body)) {
        if (res.status === 401 || res.status === 403) {
          const detail = await errorDetail(res);
          throw new RegistryError(`${endpointOf(req.method, url)}: access denied (HTTP ${res.status}${detail ? `: ${detail}` : ''})`, {
            endpoint: endpointOf(req.method, url),
            status: res.status,
            hint: `check the credentials for ${this.registry} and that they may push to ${scopes.map((s) => s.split(':')[1]).join(', ')}`,
          });
        }
        return res;
      }
      const challenge = res.headers['www-authenticate'];
      await drain(res);
      this.opts.auth.setChallenge(this.registry, challenge);
      this.opts.auth.invalidate(this.registry, scopes);
    }
  }

  private async fail(res: HttpResponse, what: string, method: string): Promise<never> {
    const detail = await errorDetail(res);
    const endpoint = endpointOf(method, res.url);
    throw new RegistryError(`${what} failed: ${endpoint} answered HTTP ${res.status}${detail ? `: ${detail}` : ''}`, { endpoint, status: res.status });
  }

  /** Proves the credentials work for this repository before anything is uploaded. */
  async checkAccess(repository: string): Promise<void> {
    const res = await this.request([repositoryScope(repository, ['pull', 'push'])], { method: 'GET', url: '/v2/' });
    if (res.status !== 200) return this.fail(res, `authenticating to ${this.registry}`, 'GET');
    await drain(res);
  }

  /** Size of the blob if the repository has it. */
  async hasBlob(repository: string, digest: string): Promise<number | undefined> {
    const path = `/v2/${repository}/blobs/${digest}`;
    const res = await this.request([repositoryScope(repository, ['pull', 'push'])], { method: 'HEAD', url: path });
    await drain(res);
    if (res.status === 200) return Number(res.headers['content-length'] ?? '0');
    if (res.status === 404) return undefined;
    return this.fail(res, `checking blob ${digest} in ${this.registry}/${repository}`, 'HEAD');
  }

  /**
   * Start an upload, asking to mount `digest` from `from` (same registry). Returns
   * `{ mounted: true }` or the upload location when the registry wants the bytes.
   */
  async startUpload(repository: string, mount?: { digest: string; from: string }): Promise<{ mounted: true } | { mounted: false; location: string }> {
    const scopes = [repositoryScope(repository, ['pull', 'push'])];
    let path = `/v2/${repository}/blobs/uploads/`;
    if (mount) {
      scopes.push(repositoryScope(mount.from, ['pull']));
      path += `?mount=${encodeURIComponent(mount.digest)}&from=${encodeURIComponent(mount.from)}`;
    }
    const res = await this.request(scopes, { method: 'POST', url: path });
    await drain(res);
    if (res.status === 201 && mount) return { mounted: true };
    if (res.status !== 202) return this.fail(res, `starting an upload to ${this.registry}/${repository}`, 'POST');
    return { mounted: false, location: this.resolveLocation(res, path) };
  }

  private resolveLocation(res: HttpResponse, from: string): string {
    const loc = res.headers.location;
    if (!loc) throw new RegistryError(`${this.registry} sent no Location for an upload`, { endpoint: from });
    return new URL(loc, `${this.base}${from.startsWith('http') ? '' : from}`).toString();
  }

  private withDigest(location: string, digest: string): string {
    const u = new URL(location);
    u.searchParams.set('digest', digest);
    return u.toString();
  }

  /**
   * Upload a blob's bytes: one PUT when small, PATCH chunks then PUT when large. The sha256 is
   * computed while streaming and checked against the blob's digest before the upload is
   * committed (and the registry checks it again).
   */
  async uploadBlob(repository: string, blob: Blob, onBytes?: (n: number) => void, location?: string): Promise<void> {
    const scopes = [repositoryScope(repository, ['pull', 'push'])];
    const loc = location ?? (await this.startUploadLocation(repository));
    const chunkSize = this.opts.chunkSize ?? 64 * 1024 * 1024;
    // Progress is reported per byte on the wire: a retried request reports its bytes again.
    const track = (n: number) => onBytes?.(n);
    // One upload per blob hashes it; others (other destinations) rely on that and on the
    // registry's own check.
    const hashHere = !blob.verified && !blob.verifying;
    if (hashHere) blob.verifying = true;
    try {
      if (blob.size <= chunkSize) await this.putMonolithic(scopes, repository, blob, loc, hashHere, track);
      else await this.commitBlob(scopes, repository, blob, await this.streamChunks(scopes, repository, blob, loc, chunkSize, hashHere, track));
    } finally {
      if (hashHere) blob.verifying = false;
    }
  }

  /** One PUT that streams the bytes and commits them at once (blobs up to one chunk). */
  private async putMonolithic(scopes: string[], repository: string, blob: Blob, loc: string, hashHere: boolean, track: (n: number) => void): Promise<void> {
    let hasher: DigestingStream | undefined;
    const res = await this.request(scopes, {
      method: 'PUT',
      url: this.withDigest(loc, blob.digest),
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.size) },
      body: () => {
        if (!hashHere) {
          const s = blob.open();
          s.on('data', (c: Buffer) => track(c.length));
          return s;
        }
        // A fresh hash per attempt: a retry resends the whole blob.
        hasher = new DigestingStream(track);
        return blob.open().pipe(hasher);
      },
    });
    if (res.status !== 201) {
      this.checkLocalDigest(hasher, blob);
      return this.fail(res, `uploading blob ${blob.digest} to ${this.registry}/${repository}`, 'PUT');
    }
    await drain(res);
    this.checkLocalDigest(hasher, blob);
  }

  /** PATCH the bytes chunk by chunk (hashing them on the first pass); the location to commit to. */
  private async streamChunks(
    scopes: string[],
    repository: string,
    blob: Blob,
    location: string,
    chunkSize: number,
    hashHere: boolean,
    track: (n: number) => void,
  ): Promise<string> {
    let loc = location;
    const hasher = createHash('sha256');
    // A chunk whose first pass broke off hashed only part of its bytes; then verify by re-reading.
    let partial = false;
    for (let start = 0; start < blob.size; start += chunkSize) {
      const end = Math.min(blob.size, start + chunkSize);
      let first = hashHere;
      const res = await this.request(scopes, {
        method: 'PATCH',
        url: loc,
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(end - start), 'content-range': `${start}-${end - 1}` },
        body: () => {
          const s: Readable = blob.open({ start, end });
          if (first) {
            first = false;
            let seen = 0;
            s.on('data', (c: Buffer) => {
              hasher.update(c);
              seen += c.length;
            });
            s.on('close', () => {
              if (seen !== end - start) partial = true;
            });
          }
          s.on('data', (c: Buffer) => track(c.length));
          return s;
        },
      });
      if (res.status !== 202) return this.fail(res, `uploading blob ${blob.digest} (bytes ${start}-${end - 1}) to ${this.registry}/${repository}`, 'PATCH');
      await drain(res);
      loc = this.resolveLocation(res, loc);
    }
    if (hashHere) {
      const got = partial ? await digestOf(blob) : `sha256:${hasher.digest('hex')}`;
      if (got !== blob.digest) throw corruptBlob(blob, got);
      blob.verified = true;
    }
    return loc;
  }

  /** The closing PUT of a chunked upload: the registry checks the digest and stores the blob. */
  private async commitBlob(scopes: string[], repository: string, blob: Blob, loc: string): Promise<void> {
    const res = await this.request(scopes, { method: 'PUT', url: this.withDigest(loc, blob.digest), headers: { 'content-length': '0' } });
    if (res.status !== 201) return this.fail(res, `committing blob ${blob.digest} to ${this.registry}/${repository}`, 'PUT');
    await drain(res);
  }

  private async startUploadLocation(repository: string): Promise<string> {
    const r = await this.startUpload(repository);
    if (r.mounted) throw new OciError('unexpected mount');
    return r.location;
  }

  private checkLocalDigest(hasher: DigestingStream | undefined, blob: Blob): void {
    if (!hasher?.writableFinished) return;
    const got = hasher.digest();
    if (got !== blob.digest) throw corruptBlob(blob, got);
    blob.verified = true;
  }

  /** PUT a manifest or index; returns the registry's digest, checked against ours. */
  async putManifest(repository: string, reference: string, doc: ManifestDoc): Promise<string> {
    const path = `/v2/${repository}/manifests/${reference}`;
    const res = await this.request([repositoryScope(repository, ['pull', 'push'])], {
      method: 'PUT',
      url: path,
      headers: { 'content-type': doc.mediaType },
      body: doc.bytes,
    });
    if (res.status !== 201 && res.status !== 200 && res.status !== 202)
      return this.fail(res, `pushing manifest ${this.registry}/${repository}:${reference}`, 'PUT');
    await drain(res);
    const local = sha256Digest(doc.bytes);
    const remote = res.headers['docker-content-digest'];
    if (remote !== undefined && remote !== local) {
      throw new RegistryError(
        `${this.registry}/${repository}:${reference}: the registry stored the manifest as ${untrusted(remote, { max: 100, oneLine: true })} but its bytes hash to ${local}`,
        {
          endpoint: path,
        },
      );
    }
    return local;
  }

  async getManifest(repository: string, reference: string): Promise<ManifestDoc | undefined> {
    const path = `/v2/${repository}/manifests/${reference}`;
    const res = await this.request([repositoryScope(repository, ['pull'])], { method: 'GET', url: path, headers: { accept: MANIFEST_ACCEPT } });
    if (res.status === 404) {
      await drain(res);
      return undefined;
    }
    if (res.status !== 200) return this.fail(res, `reading manifest ${this.registry}/${repository}:${reference}`, 'GET');
    const bytes = await readBody(res);
    return { bytes, digest: sha256Digest(bytes), mediaType: res.headers['content-type'] ?? '' };
  }
}

async function digestOf(blob: Blob): Promise<string> {
  const h = createHash('sha256');
  for await (const c of blob.open()) h.update(c as Buffer);
  return `sha256:${h.digest('hex')}`;
}

function corruptBlob(blob: Blob, got: string): OciError {
  return new OciError(`blob ${blob.digest} is corrupt: its bytes hash to ${got}`, 'the source image is damaged; rebuild or re-export it');
}
