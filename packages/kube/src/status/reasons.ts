// Named reasons of a verdict. Every rule returns one of these, so the action, its outputs and its
// tests speak of one vocabulary (the string values appear in the `reason` output and in JSON).

export const Reason = {
  // Success or still waiting.
  Current: 'Current',
  InProgress: 'InProgress',
  /** A paused Deployment: never waited on, reported at once. */
  Paused: 'Paused',
  /** `OnDelete` update strategy: the controller replaces nothing, so there is no rollout to see. */
  NotVerifiable: 'NotVerifiable',
  NotFound: 'NotFound',
  /** The object was deleted (or replaced by another with a new uid) while being watched. */
  Deleted: 'Deleted',
  // Pod fail-fast rules (new revision's pods only).
  CrashLoopBackOff: 'CrashLoopBackOff',
  TooManyRestarts: 'TooManyRestarts',
  OOMKilled: 'OOMKilled',
  ImageNotFound: 'ImageNotFound',
  ImageAccessDenied: 'ImageAccessDenied',
  InvalidImageName: 'InvalidImageName',
  CreateContainerConfigError: 'CreateContainerConfigError',
  RunContainerError: 'RunContainerError',
  ContainerCannotRun: 'ContainerCannotRun',
  PodFailed: 'PodFailed',
  Unschedulable: 'Unschedulable',
  // Workload-level failures.
  ProgressDeadlineExceeded: 'ProgressDeadlineExceeded',
  JobFailed: 'JobFailed',
  /** Generic rules: a `Stalled` condition, or `Ready`/`Available` False with a terminal reason. */
  Stalled: 'Stalled',
  /** Service of type LoadBalancer still without an ingress address. */
  NoLoadBalancerAddress: 'NoLoadBalancerAddress',
  /** PersistentVolumeClaim `Lost`. */
  ClaimLost: 'ClaimLost',
  // Engine-level.
  Timeout: 'Timeout',
  /** The API server refused to show the object (RBAC) or the kind is not served. */
  Forbidden: 'Forbidden',
  UnknownKind: 'UnknownKind',
} as const;

export type ReasonCode = (typeof Reason)[keyof typeof Reason];

/** Reasons a pod rule reports as this rollout's failure. */
export const POD_FAILURE_REASONS: ReadonlySet<ReasonCode> = new Set([
  Reason.CrashLoopBackOff,
  Reason.TooManyRestarts,
  Reason.OOMKilled,
  Reason.ImageNotFound,
  Reason.ImageAccessDenied,
  Reason.InvalidImageName,
  Reason.CreateContainerConfigError,
  Reason.RunContainerError,
  Reason.ContainerCannotRun,
  Reason.PodFailed,
  Reason.Unschedulable,
]);
