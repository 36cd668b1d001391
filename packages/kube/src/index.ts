export {
  type AppliedResource,
  type ApplyAction,
  applyPlan,
  type DeployLog,
  type DeployOptions,
  type DeployPlan,
  type DeployResult,
  deploy,
  dryRunPlan,
  FIELD_MANAGER,
  type PlannedObject,
  planDeploy,
  previewPlan,
  prunePlan,
  revisionOf,
  SET_LABEL,
} from './apply.ts';
export { type ClientOptions, describeNetError, KubeClient, type Resource, type WatchEvent } from './client.ts';
export { comparable, diffLines, diffObject, toYaml } from './diff.ts';
export {
  ApiError,
  ApplyError,
  type ApplyFailure,
  type ApplyPhase,
  type ApplyRemedy,
  type FieldConflict,
  ImageRefError,
  KubeconfigError,
  type KubeconfigField,
  type KubeconfigProblem,
  KubeError,
  ManifestError,
  ManifestSourceError,
  NamespaceMissingError,
  UnreachableError,
} from './errors.ts';
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
export {
  claimedLease,
  DeployLock,
  holderIdentity,
  type Lease,
  type LeaseState,
  LOCK_LEASE_SECONDS,
  LockLostError,
  type LockOptions,
  LockTimeoutError,
  leaseNameFor,
  leaseState,
  microTime,
} from './lock.ts';
export { type LoadOptions, loadManifests, type Manifest, parseManifests, resolveSource, substituteVars } from './manifests.ts';
export { describeObject, groupOf, type KubeObject, type ObjectMeta, objectKey } from './object.ts';
export { orderObjects, phaseOf, phases } from './order.ts';
export {
  type CanaryReplicas,
  canaryName,
  colorName,
  deployProgressive,
  findBlueGreen,
  findCanaries,
  PROGRESSIVE_ANNOTATIONS,
  type ProgressiveDeployOptions,
  type ProgressiveDeployResult,
  ProgressiveError,
  type ProgressiveProblem,
  type PromoteResult,
  previewName,
  promoteBlueGreen,
  promoteCanaries,
  type RejectOptions,
  type RejectResult,
  type Release,
  rejectReleases,
  type Strategy,
} from './progressive/index.ts';
export { annotateProvenance, type Provenance } from './provenance.ts';
export { addPullSecret, dockerConfigSecret, secretValuesOf } from './pull-secret.ts';
export { type EngineOptions, verifyRollout } from './status/engine/verify.ts';
export { type ContainerLog, collectEvidence, type EventLine, type Evidence, type EvidenceOptions } from './status/evidence.ts';
export { classifyPullError, type RuleContext, type RuleOptions } from './status/pod.ts';
export { POD_FAILURE_REASONS, Reason, type ReasonCode } from './status/reasons.ts';
export { type RollbackResult, rollbackWorkload } from './status/rollback.ts';
export { computeStatus, ruleFor } from './status/rules.ts';
export { kindOf, resolveTargets, type TargetSpec } from './status/targets.ts';
export {
  DEFAULT_VERIFY_OPTIONS,
  type PodProblem,
  type Progress,
  type ResourceStatus,
  type ResourceVerdict,
  type State,
  type Target,
  type VerifyOptions,
  type VerifyResult,
} from './status/types.ts';
