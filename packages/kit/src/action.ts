import { ActionFailure, flatten, messageOf, UserError } from './errors.ts';
import { GitHubHost, type Host, type Log } from './host.ts';
import { type InputsOf, parseInputs, type Schema } from './inputs.ts';
import type { Summary } from './summary.ts';

export interface RunContext {
  log: Log;
  /** Registers a secret discovered at run time (a token read from a file, say). */
  mask(secret: string): void;
}

/** Everything a host needs to run one action; `run` holds the logic and touches no globals. */
export interface ActionDefinition<S extends Schema, R> {
  name: string;
  schema: S;
  /** Checks across inputs (one input's value making another invalid); throws UserError. */
  validate?(inputs: InputsOf<S>): void;
  run(inputs: InputsOf<S>, ctx: RunContext): Promise<R>;
  outputs(result: R): Record<string, string>;
  summary?(result: R): Summary;
  /** A message when the work itself failed (outputs and summary are still written). */
  failure?(result: R): string | undefined;
}

// biome-ignore lint/suspicious/noExplicitAny: a registry holds definitions of every input shape.
export type AnyAction = ActionDefinition<any, any>;

/** Runs an action on a host and returns the exit code: 0 done, 1 bad input or failed work. */
export async function runAction<S extends Schema, R>(def: ActionDefinition<S, R>, host: Host): Promise<number> {
  let code = 0;
  try {
    const inputs = parseInputs(
      def.schema,
      (n) => host.input(n),
      (s, perLine) => host.mask(s, perLine),
    );
    def.validate?.(inputs);
    if (process.env.SHIPLINE_VALIDATE_ONLY === 'true') {
      host.info(`${def.name}: inputs are valid`);
      return 0;
    }
    const result = await def.run(inputs, { log: host, mask: (s) => host.mask(s) });
    for (const [k, v] of Object.entries(def.outputs(result))) host.setOutput(k, v);
    const summary = def.summary?.(result);
    if (summary && !summary.empty) await host.writeSummary(summary);
    const failed = def.failure?.(result);
    if (failed) {
      host.error(flatten(failed));
      code = 1;
    }
  } catch (e) {
    host.error(describeError(e));
    if (!(e instanceof UserError) && !(e instanceof ActionFailure) && e instanceof Error && e.stack) host.debug(e.stack);
    code = 1;
  } finally {
    await host.finish();
  }
  return code;
}

export function describeError(e: unknown): string {
  if (e instanceof UserError) return e.oneLine();
  return flatten(messageOf(e));
}

/** Entry point of a bundled action under GitHub Actions (or act). */
export async function runOnGitHub<S extends Schema, R>(def: ActionDefinition<S, R>): Promise<void> {
  process.exitCode = await runAction(def, new GitHubHost());
}
