// The public surface of @shipline/oci, listed name by name: what actions, the CLI, tests and
// benches may use. Everything else in src/ is internal and may change without notice.
export { type AuthDeps, RegistryAuth, repositoryScope } from './auth.ts';
export { MANIFEST_ACCEPT, RegistryClient, type RegistryClientOptions } from './client.ts';
export { type Compression, DEFAULT_COMPRESSION, DEFAULT_GZIP_LEVEL, DEFAULT_ZSTD_LEVEL, layerMediaType, parseCompression, zstdAvailable } from './compress.ts';
export { assertDigest, DigestingStream, isSha256Digest, sha256Digest } from './digest.ts';
export {
  type CachedLayer,
  type DockerArchiveOptions,
  dockerArchiveFileSource,
  dockerArchiveSource,
  fileLayerCache,
  type LayerCache,
} from './docker-archive.ts';
export {
  type Credential,
  type CredentialSource,
  type CredentialSourceOptions,
  configKeyFor,
  createCredentialSource,
  credentialFromDockerConfig,
  type DockerConfig,
  defaultDockerConfigPath,
  type HelperRunner,
  loadDockerConfig,
  normaliseConfigKey,
  runHelper,
} from './docker-config.ts';
export {
  type DockerEndpoint,
  type DockerImageInfo,
  type DockerImageSourceOptions,
  dockerEndpoint,
  dockerImageSource,
  dockerRequest,
  dockerStorage,
  exportDockerImage,
  inspectDockerImage,
} from './docker-engine.ts';
export { CaFileError, InvalidReferenceError, OciError, RegistryError, RegistryTlsError } from './errors.ts';
export { type Descriptor, type LayoutOptions, ociLayoutSource, readOciLayout } from './layout.ts';
export {
  compressedLayerType,
  DOCKER_CONFIG,
  DOCKER_LAYER_GZIP,
  DOCKER_LIST,
  DOCKER_MANIFEST,
  isIndexType,
  MANIFEST_TYPES,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_LAYER_GZIP,
  OCI_LAYER_ZSTD,
  OCI_MANIFEST,
} from './media-types.ts';
export {
  BlobDedup,
  type BlobProgress,
  type BlobState,
  ImagePush,
  type PushOptions,
  type PushResult,
  type PushTarget,
  planDestinations,
  pushImage,
} from './push.ts';
export {
  DOCKER_HUB,
  familiarReference,
  formatReference,
  type ImageReference,
  isLoopbackRegistry,
  matchesRepository,
  type ParseOptions,
  parseReference,
  registryApiHost,
  repositoryName,
  sameRepository,
} from './reference.ts';
export { type BackoffOptions, type RetryDeps, type RetryInfo, withRetry } from './retrying-transport.ts';
export type { Blob, BlobContext, ImageManifests, ImageSource, ManifestDoc } from './source.ts';
export { readTar, type TarEntry, writeTar } from './tar.ts';
export {
  bodyStream,
  createNodeTransport,
  drain,
  type HttpRequest,
  type HttpResponse,
  type NodeTransportOptions,
  proxyVariables,
  type RequestBody,
  readBody,
  type Transport,
} from './transport.ts';
export { type AuthChallenge, parseWwwAuthenticate } from './www-authenticate.ts';
