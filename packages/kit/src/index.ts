export { type ActionDefinition, type AnyAction, describeError, type RunContext, runAction, runOnGitHub } from './action.ts';
export { formatDuration, parseDuration } from './duration.ts';
export { ActionFailure, flatten, messageOf, UserError } from './errors.ts';
export { CliHost, dotenvKey, GitHubHost, GitLabHost, type Host, type Log, MemoryHost } from './host.ts';
export * as input from './inputs.ts';
export { type Input, type InputsOf, parseInputs, quote, type Schema, splitList } from './inputs.ts';
export { Masker } from './mask.ts';
export { pool } from './pool.ts';
export { Summary } from './summary.ts';
