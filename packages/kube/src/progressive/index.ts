export {
  applyPins,
  type BlueGreenOptions,
  type BlueGreenPlan,
  findBlueGreen,
  planBlueGreen,
  promoteBlueGreen,
  rejectBlueGreen,
  type ServicePin,
} from './bluegreen.ts';
export { type CanaryPromoteOptions, findCanaries, type PromoteResult, planCanary, promoteCanaries, type RejectResult, rejectCanary } from './canary.ts';
export { PROGRESSIVE_FIELD_MANAGER, type StepOptions } from './cluster.ts';
export { deployProgressive, type ProgressiveDeployOptions, type ProgressiveDeployResult } from './deploy.ts';
export {
  A as PROGRESSIVE_ANNOTATIONS,
  type CanaryReplicas,
  COLOR_LABEL,
  type Color,
  canaryName,
  canaryObject,
  canaryReplicaCount,
  colorName,
  colorObject,
  nextColor,
  ProgressiveError,
  type ProgressiveProblem,
  previewName,
  previewService,
  promotedStable,
  promotedTemplate,
  type Strategy,
  TRACK_LABEL,
} from './objects.ts';
export { type Release, splitManifests } from './prepare.ts';
export { type RejectOptions, rejectReleases, releaseOf } from './reject.ts';
