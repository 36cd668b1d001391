export {
  type AppliedResource,
  type ApplyAction,
  type DeployLog,
  type DeployOptions,
  type DeployResult,
  deploy,
  FIELD_MANAGER,
  revisionOf,
  SET_LABEL,
} from './apply.ts';
export { type ClientOptions, describeNetError, KubeClient, type Resource } from './client.ts';
export { comparable, diffLines, diffObject, toYaml } from './diff.ts';
export { ApiError, ApplyError, ImageRefError, KubeconfigError, KubeError, ManifestError, ManifestSourceError, UnreachableError } from './errors.ts';
export {
  type ImageChange,
  type ImageName,
  type ImagePin,
  isWorkload,
  parseImageName,
  planImages,
  podSpecOf,
  podTemplateMetaOf,
  substituteImages,
} from './images.ts';
export { type ClusterAccess, type Connection, connectionOf, type KubeconfigSource, openKubeconfig, secretsOf } from './kubeconfig.ts';
export { type LoadOptions, loadManifests, type Manifest, parseManifests, resolveSource, substituteVars } from './manifests.ts';
export { describeObject, groupOf, type KubeObject, type ObjectMeta, objectKey } from './object.ts';
export { orderObjects, phaseOf, phases } from './order.ts';
export { annotateProvenance, type Provenance } from './provenance.ts';
export { addPullSecret, dockerConfigSecret } from './pull-secret.ts';
