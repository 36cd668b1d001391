import { untrusted } from '@shipline/kit/untrusted';
import type { Credential, CredentialSource } from './docker-config.ts';
import { errorDetail } from './error-detail.ts';
import { OciError, RegistryError } from './errors.ts';
import { drain, type HttpResponse, readBody, type Transport } from './transport.ts';
import { type AuthChallenge, parseWwwAuthenticate } from './www-authenticate.ts';

export interface AuthDeps {
  transport: Transport;
  credentials: CredentialSource;
  /** Called with every secret (password, token) before it is used, so the caller can mask it. */
  onSecret?: (secret: string) => void;
  now?: () => number;
}

interface CachedToken {
  header: string;
  expiresAt: number;
}

/** `repository:<name>:<actions>` scopes of the token flow. */
export function repositoryScope(repository: string, actions: string[]): string {
  return `repository:${repository}:${actions.join(',')}`;
}

/**
 * Turns a registry's challenge into an Authorization header and caches it: bearer tokens per
 * (registry, scope set) until shortly before they expire, basic per registry.
 */
export class RegistryAuth {
  private readonly deps: AuthDeps;
  private readonly challenges = new Map<string, AuthChallenge | null>();
  private readonly tokens = new Map<string, CachedToken>();
  private readonly inflight = new Map<string, Promise<string | undefined>>();
  private readonly creds = new Map<string, Promise<Credential | undefined>>();
  private readonly basicSeen = new Set<string>();

  constructor(deps: AuthDeps) {
    this.deps = deps;
  }

  /** Record what the registry asked for (from /v2/ or any 401). null = no auth needed. */
  setChallenge(registry: string, header: string | undefined): void {
    if (header === undefined) {
      this.challenges.set(registry, null);
      return;
    }
    const all = parseWwwAuthenticate(header);
    const pick = all.find((c) => c.scheme === 'bearer') ?? all.find((c) => c.scheme === 'basic');
    if (!pick)
      throw new OciError(
        `registry ${registry} asks for unsupported authentication: ${untrusted(header, { max: 100, oneLine: true })}`,
        'only Bearer and Basic registry auth are supported',
      );
    this.challenges.set(registry, pick);
  }

  hasChallenge(registry: string): boolean {
    return this.challenges.has(registry);
  }

  /** Drop a cached token the registry refused, so the next call fetches a new one. */
  invalidate(registry: string, scopes: string[]): void {
    this.tokens.delete(this.key(registry, scopes));
  }

  private key(registry: string, scopes: string[]): string {
    return `${registry} ${[...scopes].sort().join(' ')}`;
  }

  private credential(registry: string): Promise<Credential | undefined> {
    let p = this.creds.get(registry);
    if (!p) {
      p = this.deps.credentials(registry).then((c) => {
        if (c) {
          if (c.kind === 'basic') this.deps.onSecret?.(c.password);
          else this.deps.onSecret?.(c.token);
        }
        return c;
      });
      this.creds.set(registry, p);
    }
    return p;
  }

  /** The Authorization header for these scopes, or undefined when the registry needs none. */
  async header(registry: string, scopes: string[]): Promise<string | undefined> {
    const challenge = this.challenges.get(registry);
    if (!challenge) return undefined;
    const cred = await this.credential(registry);
    if (challenge.scheme === 'basic') {
      if (cred?.kind !== 'basic') {
        throw new RegistryError(`registry ${registry} requires a username and password`, {
          endpoint: registry,
          status: 401,
          hint: `pass username/password for ${registry} or run docker login ${registry}`,
        });
      }
      const h = `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}`;
      if (!this.basicSeen.has(h)) {
        this.basicSeen.add(h);
        this.deps.onSecret?.(h.slice(6));
      }
      return h;
    }
    const key = this.key(registry, scopes);
    const now = (this.deps.now ?? Date.now)();
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt > now) return cached.header;
    let p = this.inflight.get(key);
    if (!p) {
      p = this.fetchToken(registry, challenge, scopes, cred).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  private async fetchToken(registry: string, challenge: AuthChallenge, scopes: string[], cred: Credential | undefined): Promise<string | undefined> {
    if (cred?.kind === 'registry-token') return `Bearer ${cred.token}`;
    const realm = challenge.params.realm;
    if (!realm) throw new RegistryError(`registry ${registry} sent a Bearer challenge without a realm`, { endpoint: registry });
    let realmUrl: URL;
    try {
      realmUrl = new URL(realm);
    } catch {
      throw new RegistryError(`registry ${registry} sent an invalid token realm ${untrusted(realm, { max: 200, oneLine: true })}`, { endpoint: registry });
    }
    const service = challenge.params.service;
    const endpoint = `${realmUrl.protocol}//${realmUrl.host}${realmUrl.pathname}`;
    let res: HttpResponse;
    if (cred?.kind === 'identity-token') {
      // OAuth2 refresh-token grant, as docker does with identity tokens.
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: cred.token, client_id: 'shipline', ...(service ? { service } : {}) });
      if (scopes.length) form.set('scope', scopes.join(' '));
      res = await this.deps.transport({
        method: 'POST',
        url: realmUrl.toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: Buffer.from(form.toString()),
      });
    } else {
      if (service) realmUrl.searchParams.set('service', service);
      for (const s of scopes) realmUrl.searchParams.append('scope', s);
      const headers: Record<string, string> = {};
      if (cred?.kind === 'basic') headers.authorization = `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}`;
      res = await this.deps.transport({ method: 'GET', url: realmUrl.toString(), headers });
    }
    if (res.status === 401 || res.status === 403) {
      await drain(res);
      throw new RegistryError(`authentication to ${registry} failed: the token service ${endpoint} answered ${res.status}`, {
        endpoint,
        status: res.status,
        hint: cred ? `check the username and password for ${registry}` : `no credentials for ${registry}: pass username/password or run docker login`,
      });
    }
    if (res.status !== 200) {
      const detail = await errorDetail(res);
      throw new RegistryError(`token request to ${endpoint} failed: HTTP ${res.status} ${detail}`, { endpoint, status: res.status });
    }
    const doc = tokenAnswer(await readBody(res, 1024 * 1024));
    if (!doc) {
      // An HTML login page or a proxy's error page, say: name the registry and what came back, not the body.
      const type = untrusted(res.headers['content-type'] ?? 'no content type', { max: 80, oneLine: true });
      throw new RegistryError(`the token service ${endpoint} of registry ${registry} answered HTTP ${res.status} with ${type}, not a JSON token`, {
        endpoint,
        status: res.status,
        hint: `check that ${registry} is a container registry and that nothing (a proxy, a login page) stands in front of its token service`,
      });
    }
    const token = doc.token ?? doc.access_token;
    if (!token) throw new RegistryError(`token service ${endpoint} returned no token`, { endpoint });
    this.deps.onSecret?.(token);
    const header = `Bearer ${token}`;
    const now = (this.deps.now ?? Date.now)();
    // Refresh 10 s early so a token doesn't expire in the middle of a layer upload's requests.
    const lifetime = Math.max(10, doc.expires_in ?? 60) * 1000;
    this.tokens.set(this.key(registry, scopes), { header, expiresAt: now + lifetime - 10_000 });
    return header;
  }
}

type TokenAnswer = { token?: string; access_token?: string; expires_in?: number; issued_at?: string };

/** The token document, or undefined when the answer is not a JSON object. */
function tokenAnswer(bytes: Buffer): TokenAnswer | undefined {
  try {
    const doc: unknown = JSON.parse(bytes.toString('utf8'));
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return undefined;
    const d = doc as Record<string, unknown>;
    return {
      ...(typeof d.token === 'string' ? { token: d.token } : {}),
      ...(typeof d.access_token === 'string' ? { access_token: d.access_token } : {}),
      ...(typeof d.expires_in === 'number' ? { expires_in: d.expires_in } : {}),
    };
  } catch {
    return undefined;
  }
}
