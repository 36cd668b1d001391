// The shapes shared by the rules, the engine, evidence and rollback, and by the actions that use
// them (rollout-verify, k8s-deploy's `wait`).
import type { ReasonCode } from './reasons.ts';

/** One object to verify. Accepts k8s-deploy's `resources` entries as they are (nulls included). */
export interface Target {
  apiVersion: string;
  kind: string;
  namespace?: string | null;
  name: string;
  uid?: string | null;
  generation?: number | null;
  revision?: { before: string | null; after: string | null };
  /** k8s-deploy's action: created | configured | unchanged. */
  action?: string;
}

export type State = 'current' | 'in-progress' | 'failed' | 'unverifiable';

export interface Progress {
  desired: number;
  updated: number;
  ready: number;
  available: number;
}

export interface PodProblem {
  pod: string;
  container?: string;
  reason: ReasonCode;
  message: string;
  exitCode?: number;
  signal?: number;
  restarts?: number;
  /** ISO time the condition was first seen (container state's start, pod condition's transition). */
  since?: string;
}

/** What one pure rule returns. */
export interface ResourceStatus {
  state: State;
  reason: ReasonCode;
  message: string;
  progress?: Progress;
  pods?: PodProblem[];
}

export interface VerifyOptions {
  /** One deadline for the whole set. */
  timeoutMs: number;
  /** Default 20_000. */
  imagePullGraceMs: number;
  /** Default 10_000. */
  configGraceMs: number;
  /** Default 30_000. */
  unschedulableGraceMs: number;
  /** Default 2. */
  maxRestarts: number;
  waitForLoadBalancer: boolean;
  /**
   * How long a container without a readiness/startup probe must stay up before its Ready counts
   * (default 10_000; 0 = trust Ready as `kubectl rollout status` does). Without a probe a pod is
   * Ready the moment its process starts, even if it exits a second later.
   */
  stableMs?: number;
  /** `web: 2/3 updated, 1/3 ready, 1/3 available`, throttled per workload. */
  onProgress?: (line: string) => void;
  signal?: AbortSignal;
  /** Millisecond clock, injectable for tests. */
  now?: () => number;
}

export const DEFAULT_VERIFY_OPTIONS: Omit<VerifyOptions, 'timeoutMs'> = {
  imagePullGraceMs: 20_000,
  configGraceMs: 10_000,
  unschedulableGraceMs: 30_000,
  maxRestarts: 2,
  waitForLoadBalancer: false,
  stableMs: 10_000,
};

export interface ResourceVerdict extends ResourceStatus {
  target: Target;
  /** `Deployment ns/web`. */
  ref: string;
  durationMs: number;
}

export interface VerifyResult {
  status: 'success' | 'failed' | 'timeout';
  /** Of the first failure; Current on success; Timeout on timeout. */
  reason: ReasonCode;
  message: string;
  /** Every target, final state. */
  resources: ResourceVerdict[];
  durationMs: number;
}
