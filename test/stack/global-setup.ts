// Vitest global setup for the `stack` project: brings the stack up (idempotent, fast when warm)
// and exports its variables so that test workers inherit them. With SHIPLINE_STACK_EXTERNAL=1
// nothing is started and the caller's environment is trusted. A stack that cannot start fails
// the run: integration tests never skip.
import { up, withStackEnv } from './index.ts';

export default async function setup(): Promise<void> {
  // `vitest list` runs global setups too, but it only collects names: it must not start daemons.
  if (process.argv[2] === 'list') {
    process.stderr.write('[stack] vitest list: the stack is not started\n');
    return;
  }
  if (process.env.SHIPLINE_STACK_EXTERNAL === '1') return;
  try {
    await up((m) => process.stderr.write(`[stack] ${m}\n`));
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(`the local stack could not start${process.env.CI === 'true' ? ' (CI: failing, not skipping)' : ''}: ${msg}`);
  }
  Object.assign(process.env, withStackEnv(process.env));
}
