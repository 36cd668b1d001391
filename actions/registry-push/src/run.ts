import type { Log } from '@shipline/kit';
import type { BlobProgress, Compression, ImageSource, PushResult } from '@shipline/oci';
import type { Inputs } from './inputs.ts';

/** The image to push, as the inputs name it. */
export type SourceSpec =
  | { kind: 'oci-layout'; path: string; ref: string | undefined }
  | { kind: 'docker'; image: string; dockerHost: string | undefined; compression: Compression; manifestFormat: 'oci' | 'docker'; read: 'auto' | 'export' };

/** One push of an opened image; credentials, TLS, proxies and timeouts are the client's own. */
export interface PushRequest {
  source: ImageSource;
  destinations: string[];
  concurrency: number;
  onProgress(p: BlobProgress): void;
  log(line: string): void;
}

/** What run() needs from @shipline/oci, bound to this job's credentials and network settings. */
export interface Registry {
  /** Opens the layout or the docker-store image; lines are the reader's notes and warnings. */
  open(spec: SourceSpec, log: { info(line: string): void; warning(line: string): void }): Promise<ImageSource>;
  push(request: PushRequest): Promise<PushResult>;
}

export interface Deps {
  registry: Registry;
  log: Log;
  mask(secret: string): void;
  /** DOCKER_HOST of the environment, used when the `docker-host` input is empty. */
  dockerHost: string | undefined;
  /** How often a long push says it is still moving (default 5 s). */
  heartbeatMs?: number;
}

export type LayerState = 'uploaded' | 'exists' | 'mounted';

export interface PushReport extends PushResult {
  source: string;
  /** Per blob digest: size and, per destination repository, what happened to it. */
  layers: { digest: string; size: number; mediaType: string; states: Record<string, LayerState> }[];
}

const MB = 1024 * 1024;
const fmtBytes = (n: number) => (n >= MB ? `${(n / MB).toFixed(1)} MB` : `${(n / 1024).toFixed(1)} KB`);

/** The source the inputs describe; validate() has made sure exactly one of them is set. */
export function sourceSpec(i: Inputs, dockerHost: string | undefined): SourceSpec {
  if (i['oci-layout'] !== undefined) return { kind: 'oci-layout', path: i['oci-layout'], ref: i['oci-layout-ref'] };
  return {
    kind: 'docker',
    image: i.image as string,
    dockerHost: i['docker-host'] ?? dockerHost,
    compression: i.compression,
    manifestFormat: i['manifest-format'],
    read: i['docker-read'],
  };
}

/** Per blob and destination, what happened to it; logs each blob's outcome once. */
class LayerLedger {
  readonly layers = new Map<string, PushReport['layers'][number]>();
  private readonly log: Log;

  constructor(log: Log) {
    this.log = log;
  }

  record(p: BlobProgress): void {
    let l = this.layers.get(p.digest);
    if (!l) {
      l = { digest: p.digest, size: p.size, mediaType: p.mediaType, states: {} };
      this.layers.set(p.digest, l);
    }
    if (p.state === 'uploaded' || p.state === 'exists' || p.state === 'mounted') {
      l.states[p.destination] = p.state;
      const what = p.state === 'uploaded' ? `uploaded ${fmtBytes(p.size)}` : p.state === 'exists' ? 'already there' : 'mounted from another repository';
      this.log.info(`${p.destination}: ${p.digest.slice(0, 19)} ${what}`);
    }
  }

  bytesSeen(): number {
    return [...this.layers.values()].reduce((n, l) => n + l.size, 0);
  }
}

export async function run(i: Inputs, deps: Deps): Promise<PushReport> {
  const { log } = deps;
  if (i.password) deps.mask(i.password);
  const source = await deps.registry.open(sourceSpec(i, deps.dockerHost), { info: (l) => log.info(l), warning: (l) => log.warning(l) });
  const ledger = new LayerLedger(log);
  // A heartbeat while big layers stream, so a slow push shows it is moving.
  let reported = 0;
  const heartbeat = setInterval(() => {
    const bytes = ledger.bytesSeen();
    if (reported !== bytes) log.info(`… ${ledger.layers.size} blob(s) seen, ${fmtBytes(bytes)} in flight or done`);
    reported = bytes;
  }, deps.heartbeatMs ?? 5000);
  heartbeat.unref();
  try {
    const result = await log.group(`Push ${source.description} to ${i.destinations.length} destination(s)`, () =>
      deps.registry.push({
        source,
        destinations: i.destinations,
        concurrency: i.concurrency,
        onProgress: (p) => ledger.record(p),
        log: (line) => log.info(line),
      }),
    );
    return { ...result, source: source.description, layers: [...ledger.layers.values()] };
  } finally {
    clearInterval(heartbeat);
    await source.close?.();
  }
}
