// The media types of the OCI image spec and of Docker's schema 2, spelled once. Docker's names
// still matter: registries, daemons and `docker save` use them, and a Docker-format manifest
// must name Docker layer and config types.

export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const OCI_LAYER_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';

export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

/** Every manifest and index type the client reads, for the Accept header. */
export const MANIFEST_TYPES: readonly string[] = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST];

/** True for an index (multi-platform), false for an image manifest, undefined for anything else. */
export function isIndexType(mediaType: string | undefined): boolean | undefined {
  if (mediaType === OCI_INDEX || mediaType === DOCKER_LIST) return true;
  if (mediaType === OCI_MANIFEST || mediaType === DOCKER_MANIFEST) return false;
  return undefined;
}

/** The layer type for already-compressed bytes in a manifest of `format`. */
export function compressedLayerType(algorithm: 'gzip' | 'zstd', format: 'oci' | 'docker'): string {
  if (algorithm === 'zstd') return OCI_LAYER_ZSTD;
  return format === 'docker' ? DOCKER_LAYER_GZIP : OCI_LAYER_GZIP;
}
