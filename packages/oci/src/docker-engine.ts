import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { untrusted } from '@shipline/kit/untrusted';
import { DEFAULT_BLOCK_SIZE, DEFAULT_COMPRESSION } from './compress.ts';
import { sha256Digest } from './digest.ts';
import { type DockerArchiveOptions, dockerArchiveSource, fileLayerCache } from './docker-archive.ts';
import { dockerStoreSource, findStoredImage } from './docker-store.ts';
import { OciError } from './errors.ts';
import type { ImageSource } from './source.ts';

export type DockerEndpoint = { socketPath: string } | { host: string; port: number };

/** Where the Docker Engine API listens: DOCKER_HOST (unix:// or tcp://) or the default socket. */
export function dockerEndpoint(dockerHost: string | undefined = process.env.DOCKER_HOST): DockerEndpoint {
  const value = dockerHost?.trim() || 'unix:///var/run/docker.sock';
  if (value.startsWith('unix://')) {
    const socketPath = value.slice('unix://'.length);
    if (!socketPath.startsWith('/')) throw new OciError(`DOCKER_HOST ${value} does not name an absolute socket path`, 'use unix:///path/to/docker.sock');
    return { socketPath };
  }
  if (value.startsWith('tcp://')) {
    const u = new URL(value.replace(/^tcp:/, 'http:'));
    return { host: u.hostname, port: Number(u.port || 2375) };
  }
  throw new OciError(`DOCKER_HOST ${value} is not supported`, 'use unix:///var/run/docker.sock or tcp://host:port (TLS-protected daemons are not supported)');
}

function describe(ep: DockerEndpoint): string {
  return 'socketPath' in ep ? `unix://${ep.socketPath}` : `tcp://${ep.host}:${ep.port}`;
}

/** One request to the Engine API; the response stream is the caller's to consume. */
export function dockerRequest(ep: DockerEndpoint, method: string, path: string): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = http.request({ ...ep, method, path, headers: { host: 'docker' } }, resolve);
    req.on('error', (err) => {
      const code = (err as { code?: string }).code;
      reject(
        new OciError(
          `cannot reach the docker engine at ${describe(ep)}: ${err.message}`,
          code === 'ENOENT' || code === 'ECONNREFUSED'
            ? 'is dockerd running? set DOCKER_HOST to its socket'
            : code === 'EACCES'
              ? 'the user may not use the docker socket; add it to the docker group'
              : undefined,
          { cause: err },
        ),
      );
    });
    req.end();
  });
}

async function readAll(res: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of res) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function engineError(res: http.IncomingMessage): Promise<string> {
  const text = (await readAll(res)).toString('utf8');
  let message = text.trim();
  try {
    message = String((JSON.parse(text) as { message?: string }).message ?? text);
  } catch {
    // Not JSON: the whole text is the message.
  }
  // The engine echoes names and build output it was given: outside text, shown in errors.
  return untrusted(message, { max: 500, oneLine: true });
}

export interface DockerImageInfo {
  /** The image ID: digest of its config. */
  id: string;
  repoTags: string[];
  size: number;
}

/** `GET /images/{name}/json`; a missing image is a user error naming the image. */
export async function inspectDockerImage(ep: DockerEndpoint, image: string): Promise<DockerImageInfo> {
  const res = await dockerRequest(ep, 'GET', `/images/${encodeURIComponent(image)}/json`);
  if (res.statusCode === 404) {
    await readAll(res);
    throw new OciError(
      `image ${image} is not in the docker image store`,
      'build or pull it first (docker images lists what is there), or push from an oci-layout',
    );
  }
  if (res.statusCode !== 200) throw new OciError(`docker engine could not inspect ${image}: ${await engineError(res)}`);
  const doc = JSON.parse((await readAll(res)).toString('utf8')) as { Id: string; RepoTags?: string[]; Size?: number };
  return { id: doc.Id, repoTags: doc.RepoTags ?? [], size: doc.Size ?? 0 };
}

/** Where a daemon keeps images: `GET /info`'s Driver and DockerRootDir. */
export async function dockerStorage(ep: DockerEndpoint): Promise<{ driver: string; rootDir: string }> {
  const res = await dockerRequest(ep, 'GET', '/info');
  if (res.statusCode !== 200) throw new OciError(`docker engine could not describe itself: ${await engineError(res)}`);
  const doc = JSON.parse((await readAll(res)).toString('utf8')) as { Driver?: string; DockerRootDir?: string };
  return { driver: doc.Driver ?? '', rootDir: doc.DockerRootDir ?? '' };
}

/** `GET /images/get?names=…`: the `docker save` tar as a stream. */
export async function exportDockerImage(ep: DockerEndpoint, image: string): Promise<Readable> {
  const res = await dockerRequest(ep, 'GET', `/images/get?names=${encodeURIComponent(image)}`);
  if (res.statusCode !== 200) throw new OciError(`docker engine could not export ${image}: ${await engineError(res)}`);
  return res;
}

export interface DockerImageSourceOptions extends Omit<DockerArchiveOptions, 'expectConfigDigest' | 'image' | 'description'> {
  /** Name or ID in the docker image store. */
  image: string;
  /** DOCKER_HOST-style address; default the environment's DOCKER_HOST or /var/run/docker.sock. */
  dockerHost?: string;
  /**
   * `auto` (default): read the layers straight from the daemon's overlay2 store when it is on
   * this machine and readable here, else export; `export`: always `docker save` through the API.
   */
  read?: 'auto' | 'export';
  /** Told which way the image is read, and why the direct way was not taken. */
  log?: (line: string) => void;
  /** Told when the store was readable but did not rebuild the image (the export is used instead). */
  warn?: (line: string) => void;
  /**
   * Directory where the manifest made for an image ID is remembered, so pushing the same image
   * again (from a fresh process) skips the export when the registry has every blob.
   */
  cacheDir?: string;
}

/**
 * An image from the docker image store. The image is inspected first, so an unknown image
 * fails before any registry is contacted; the export streams through compression and upload.
 */
export async function dockerImageSource(options: DockerImageSourceOptions): Promise<ImageSource & { imageId: string }> {
  const ep = dockerEndpoint(options.dockerHost);
  const info = await inspectDockerImage(ep, options.image);
  const { image: _i, dockerHost: _d, cacheDir, read = 'auto', log, warn, ...archive } = options;
  const settings = [archive.compression ?? DEFAULT_COMPRESSION, archive.manifestFormat ?? 'oci', archive.blockSize ?? DEFAULT_BLOCK_SIZE];
  const layerCache = cacheDir !== undefined ? fileLayerCache(cacheDir, settings) : undefined;
  const description = `docker:${options.image}`;
  // Export by ID so a tag moved by a concurrent build can't change what we push.
  const exported = () =>
    dockerArchiveSource(() => exportDockerImage(ep, info.id), {
      ...archive,
      expectConfigDigest: info.id,
      description,
      ...(layerCache ? { layerCache } : {}),
    });
  let source: ImageSource | undefined;
  if (read === 'auto') {
    const stored = await readableStore(ep, info.id);
    if (typeof stored === 'string') log?.(`exporting ${options.image} through the docker engine: ${stored}`);
    else {
      log?.(`reading ${options.image} from the docker store (${stored.layers.length} layers)`);
      source = dockerStoreSource(stored, {
        ...archive,
        description,
        fallback: exported,
        ...(layerCache ? { layerCache } : {}),
        ...(warn ? { warn } : {}),
      });
    }
  }
  source ??= exported();
  if (cacheDir !== undefined) {
    const key = createHash('sha256')
      .update(JSON.stringify([info.id, ...settings]))
      .digest('hex')
      .slice(0, 40);
    const file = path.join(cacheDir, `docker-${key}.json`);
    source.cached = async () => {
      let saved: { mediaType: string; manifest: string };
      try {
        saved = JSON.parse(await readFile(file, 'utf8')) as typeof saved;
      } catch {
        return undefined;
      }
      const bytes = Buffer.from(saved.manifest, 'base64');
      const doc = JSON.parse(bytes.toString('utf8')) as { config?: { digest?: string } };
      // Only trust a record that still describes this very image.
      if (doc.config?.digest !== info.id) return undefined;
      return { root: { digest: sha256Digest(bytes), mediaType: saved.mediaType, bytes }, children: [], configDigest: info.id };
    };
    const rememberLayers = source.pushed;
    source.pushed = async (m) => {
      await rememberLayers?.(m);
      await mkdir(cacheDir, { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify({ mediaType: m.root.mediaType, manifest: m.root.bytes.toString('base64') }));
      await rename(tmp, file);
    };
  }
  return Object.assign(source, { imageId: info.id });
}

/** The image's layers in the daemon's overlay2 store, or why they can't be read from here. */
async function readableStore(ep: DockerEndpoint, imageId: string) {
  if (!('socketPath' in ep)) return 'the daemon is reached over TCP, so its store is not on this machine';
  const { driver, rootDir } = await dockerStorage(ep);
  if (driver !== 'overlay2') return `the daemon's storage driver is ${driver || 'unknown'}, not overlay2`;
  if (!path.isAbsolute(rootDir)) return 'the daemon did not say where its data root is';
  return findStoredImage(rootDir, imageId);
}
