import type { Readable } from 'node:stream';

/** Content-addressed bytes ready to upload. */
export interface Blob {
  digest: string;
  size: number;
  mediaType: string;
  /**
   * A fresh stream of the bytes, or of [start, end) when a range is given. Called once per
   * destination and per retry, so it must be cheap to call again (file or memory).
   */
  open(range?: { start: number; end: number }): Readable;
  /**
   * Set once the bytes are known to hash to `digest` (computed by us, or checked on a first
   * upload), so further uploads of the same blob skip hashing.
   */
  verified?: boolean;
  /** Set while one upload is hashing the blob, so concurrent uploads elsewhere don't also. */
  verifying?: boolean;
}

/** A manifest or index exactly as it will be pushed. */
export interface ManifestDoc {
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

export interface ImageManifests {
  /** What tags point at: an image manifest or a multi-platform index. */
  root: ManifestDoc;
  /** Manifests an index refers to, pushed by digest before the root. */
  children: ManifestDoc[];
  /** The image config digest (docker's image ID) of a single-platform image. */
  configDigest?: string;
}

/** What the pusher tells a source while it reads blobs. */
export interface BlobContext {
  /** True when every destination already has this blob (so the source may skip producing it). */
  isPresent(digest: string): Promise<boolean>;
}

/**
 * Where an image comes from. Blobs are yielded as they become ready so uploads can start
 * while later layers are still being compressed.
 */
export interface ImageSource {
  /** For messages, e.g. `oci-layout:/tmp/out` or `docker:app:1`. */
  readonly description: string;
  blobs(context?: BlobContext): AsyncIterable<Blob>;
  /** Resolves once every blob has been yielded. */
  manifests(): Promise<ImageManifests>;
  /** Release what the source holds (sockets, buffers). */
  close?(): Promise<void>;
  /**
   * Manifests known without reading the image (e.g. remembered from an earlier push of the
   * same image ID). When every blob they name is already in every destination, the pusher
   * pushes only the manifests and never calls blobs().
   */
  cached?(): Promise<ImageManifests | undefined>;
  /** Told after a successful push, e.g. to remember the manifests for next time. */
  pushed?(manifests: ImageManifests): Promise<void>;
}
