// The local stack's one entry for everything outside test/stack: the `./dev pipeline` script, the
// benches, vitest's global setup, `pnpm stack`, and the helpers of tests that use the stack. The
// stack stays a development tool (it lives beside the tests it serves, not in a package the
// actions could bundle); what its users may rely on is this list, and lib/ may change behind it.

export { type RunOptions, type RunResult, run } from './lib/proc.ts';
export { type ComponentStatus, clean, down, PATH_ADDITIONS, stackEnv, status, type UpResult, up, withStackEnv } from './lib/stack.ts';
export { need, sh, tempDir, uniq } from './test-helpers.ts';
