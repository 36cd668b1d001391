import * as input from './inputs.ts';

export { type ActionDefinition, type AnyAction, annotationOf, describeError, type RunContext, type RunOptions, runAction, runOnGitHub } from './action.ts';
export {
  CancelledError,
  cancelSignal,
  installCancellation,
  privateTempDir,
  registerCancelTask,
  registerCleanup,
  removeRegistered,
  type TempDir,
  tempParent,
  trackChild,
} from './cleanup.ts';
export { formatDuration, MAX_TIMER_MS, parseDuration } from './duration.ts';
export { ActionFailure, type Annotation, flatten, messageOf, UserError } from './errors.ts';
export { commandLine, type Exec, type ExecOptions, type ExecResult, exec, LineSplitter } from './exec.ts';
export { CliHost, GitHubHost, GitLabHost, type Host, type Log, MemoryHost } from './host.ts';
export { type Input, type InputsOf, maskMode, parseInputs, quote, revealsSecret, type Schema, splitList } from './inputs.ts';
export { Masker, type MaskMode, runnerMasks, secrets } from './mask.ts';
export { Pool, type PoolMode, PoolStoppedError, pool, poolSettled } from './pool.ts';
export {
  backoffDelay,
  DEFAULT_RETRY_POLICY,
  errorCode,
  isReplayableBody,
  isRetryableError,
  isRetryableStatus,
  parseRetryAfter,
  type RetryOptions,
  type RetryPolicy,
  RetrySchedule,
  retryDelay,
  sleep,
} from './retry.ts';
export { Summary } from './summary.ts';
export { tlsVerificationOff } from './tls.ts';
export { inert, inertLine, type UntrustedOptions, untrusted } from './untrusted.ts';
export { input };
