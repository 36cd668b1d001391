import { type Log, UserError } from '@shipline/kit';
import { urlSecrets } from '@shipline/kit/redact-url';
import {
  type BlobProgress,
  type CredentialSource,
  createCredentialSource,
  dockerImageSource,
  type ImageSource,
  OciError,
  ociLayoutSource,
  type PushResult,
  pushImage,
} from '@shipline/oci';
import { credentialRegistry, type Inputs } from './inputs.ts';

export interface Deps {
  log: Log;
  mask(secret: string): void;
  /** DOCKER_HOST of the environment, used when the `docker-host` input is empty. */
  dockerHost: string | undefined;
  /** For docker's config.json lookup (DOCKER_CONFIG, HOME). */
  env: Record<string, string | undefined>;
  /** Replaces the credential lookup (tests). */
  credentials?: CredentialSource;
}

export type LayerState = 'uploaded' | 'exists' | 'mounted';

export interface PushReport extends PushResult {
  source: string;
  /** Per blob digest: size and, per destination repository, what happened to it. */
  layers: { digest: string; size: number; mediaType: string; states: Record<string, LayerState> }[];
}

const MB = 1024 * 1024;
const PROXY_VARIABLES = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'];
const fmtBytes = (n: number) => (n >= MB ? `${(n / MB).toFixed(1)} MB` : `${(n / 1024).toFixed(1)} KB`);

/** OciError is the user's to fix (bad credentials, unknown image, unreachable registry): one line, with its hint. */
function asUserError(e: unknown, input?: string): unknown {
  if (e instanceof OciError && !(e instanceof UserError))
    return new UserError(e.message, { ...(input ? { input } : {}), ...(e.hint ? { hint: e.hint } : {}), cause: e });
  return e;
}

async function openSource(i: Inputs, deps: Deps): Promise<ImageSource> {
  try {
    if (i['oci-layout'] !== undefined) {
      return await ociLayoutSource(i['oci-layout'], i['oci-layout-ref'] ? { ref: i['oci-layout-ref'] } : {});
    }
    const dockerHost = i['docker-host'] ?? deps.dockerHost;
    return await dockerImageSource({
      image: i.image as string,
      ...(dockerHost ? { dockerHost } : {}),
      compression: i.compression,
      manifestFormat: i['manifest-format'],
      read: i['docker-read'],
      log: (line) => deps.log.info(line),
      warn: (line) => deps.log.warning(line),
    });
  } catch (e) {
    throw asUserError(e, i['oci-layout'] !== undefined ? 'oci-layout' : 'image');
  }
}

export async function run(i: Inputs, deps: Deps): Promise<PushReport> {
  const registry = credentialRegistry(i);
  if (i.password) deps.mask(i.password);
  // A proxy URL's userinfo is a credential too (it goes to the proxy as Proxy-Authorization).
  for (const name of PROXY_VARIABLES) for (const s of urlSecrets(deps.env[name] ?? '')) deps.mask(s);
  const credentials =
    deps.credentials ??
    createCredentialSource({
      ...(registry && i.username && i.password ? { explicit: { [registry]: { username: i.username, password: i.password } } } : {}),
      ...(i['docker-config'] ? { dockerConfigPath: i['docker-config'] } : {}),
      env: deps.env,
    });

  const source = await openSource(i, deps);
  const layers = new Map<string, PushReport['layers'][number]>();
  let sent = 0;
  const onProgress = (p: BlobProgress) => {
    let l = layers.get(p.digest);
    if (!l) {
      l = { digest: p.digest, size: p.size, mediaType: p.mediaType, states: {} };
      layers.set(p.digest, l);
    }
    if (p.state === 'uploaded' || p.state === 'exists' || p.state === 'mounted') {
      l.states[p.destination] = p.state;
      const what = p.state === 'uploaded' ? `uploaded ${fmtBytes(p.size)}` : p.state === 'exists' ? 'already there' : 'mounted from another repository';
      deps.log.info(`${p.destination}: ${p.digest.slice(0, 19)} ${what}`);
    }
  };
  // A heartbeat while big layers stream, so a slow push shows it is moving.
  const heartbeat = setInterval(() => {
    const bytes = [...layers.values()].reduce((n, l) => n + l.size, 0);
    if (sent !== bytes) deps.log.info(`… ${layers.size} blob(s) seen, ${fmtBytes(bytes)} in flight or done`);
    sent = bytes;
  }, 5000);
  heartbeat.unref();
  try {
    const result = await deps.log.group(`Push ${source.description} to ${i.destinations.length} destination(s)`, () =>
      pushImage({
        source,
        destinations: i.destinations,
        concurrency: i.concurrency,
        insecure: i['insecure-registries'],
        ...(i['ca-file'] ? { caFile: i['ca-file'] } : {}),
        credentials,
        onSecret: (s) => deps.mask(s),
        onProgress,
        log: (line) => deps.log.info(line),
        timeoutMs: i.timeout,
        proxyEnv: deps.env,
      }),
    );
    return { ...result, source: source.description, layers: [...layers.values()] };
  } catch (e) {
    throw asUserError(e);
  } finally {
    clearInterval(heartbeat);
    await source.close?.();
  }
}
