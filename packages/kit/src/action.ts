import { cancelSignal, installCancellation, privateTempDir, removeRegistered } from './cleanup.ts';
import { ActionFailure, type Annotation, flatten, messageOf, UserError } from './errors.ts';
import { GitHubHost, type Host, type Log } from './host.ts';
import { type InputsOf, parseInputs, type Schema, scrubbed } from './inputs.ts';
import type { Summary } from './summary.ts';
import { setTlsLog, takeTlsNotes, withTlsNotes } from './tls.ts';

export interface RunContext {
  log: Log;
  /** Registers a secret discovered at run time (a token read from a file, say). */
  mask(secret: string): void;
  /**
   * A private directory (0700) under the runner's temp dir, for credential files: removed when the
   * run ends and when the job is cancelled.
   */
  tempDir(prefix: string): string;
  /** Aborted when the job is cancelled (SIGTERM/SIGINT). */
  signal: AbortSignal;
  /** A GitHub OIDC token (`permissions: id-token: write`); other hosts throw a UserError. */
  getIDToken(audience?: string): Promise<string>;
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

export interface RunOptions {
  /**
   * Install SIGTERM/SIGINT handlers for the run (credential files removed, children stopped, exit
   * 1). Default true; tests that run actions in-process may turn it off.
   */
  cancellation?: boolean;
}

/** Runs an action on a host and returns the exit code: 0 done, 1 bad input or failed work. */
export async function runAction<S extends Schema, R>(def: ActionDefinition<S, R>, host: Host, opts: RunOptions = {}): Promise<number> {
  let code = 0;
  const uninstall =
    opts.cancellation === false
      ? () => {}
      : installCancellation({ onCancel: (signal) => host.error(`${def.name}: cancelled (${signal}); temporary credential files removed`) });
  // Secret inputs as given, so an error about one (from validate or run) can be checked for them.
  // Structured ones (a kubeconfig) are left out: their ordinary values (a server URL, a plugin's
  // path) rightly appear in errors, and their secret fields are masked one by one.
  const secretValues = new Map<string, string>();
  takeTlsNotes();
  setTlsLog(host);
  try {
    const inputs = parseInputs(
      def.schema,
      (n) => host.input(n),
      (s, mode) => host.mask(s, mode),
    );
    for (const [name, spec] of Object.entries(def.schema)) {
      const raw = spec.secret === true ? host.input(name)?.trim() : undefined;
      if (raw) secretValues.set(name, raw);
    }
    def.validate?.(inputs);
    if (process.env.SHIPLINE_VALIDATE_ONLY === 'true') {
      host.info(`${def.name}: inputs are valid`);
      return 0;
    }
    const ctx: RunContext = {
      log: host,
      mask: (s) => host.mask(s),
      tempDir: (prefix) => privateTempDir(prefix).path,
      signal: cancelSignal(),
      getIDToken: (audience) => host.getIDToken(audience),
    };
    const result = await def.run(inputs, ctx);
    for (const [k, v] of Object.entries(def.outputs(result))) host.setOutput(k, v);
    const summary = withTlsNotes(def.summary?.(result), takeTlsNotes());
    if (summary && !summary.empty) await host.writeSummary(summary);
    const failed = def.failure?.(result);
    if (failed) {
      host.error(flatten(failed));
      code = 1;
    }
  } catch (caught) {
    const about = caught instanceof UserError && caught.input !== undefined ? secretValues.get(caught.input) : undefined;
    const e = about !== undefined ? scrubbed(caught, about, def.schema[(caught as UserError).input as string] as Schema[string]) : caught;
    host.error(describeError(e), annotationOf(e));
    if (!(e instanceof UserError) && !(e instanceof ActionFailure) && e instanceof Error && e.stack) host.debug(e.stack);
    code = 1;
  } finally {
    // A run that failed after turning verification off still says so in its summary.
    const tls = withTlsNotes(undefined, takeTlsNotes());
    if (tls) await host.writeSummary(tls).catch(() => {});
    setTlsLog(undefined);
    removeRegistered();
    uninstall();
    await host.finish();
  }
  return code;
}

export function describeError(e: unknown): string {
  if (e instanceof UserError) return e.oneLine();
  return flatten(messageOf(e));
}

/**
 * Where the final error annotation points: the file and line (and title) when the error knows
 * them; otherwise none, and the message names the input.
 */
export function annotationOf(e: unknown): Annotation | undefined {
  return e instanceof UserError ? e.where : undefined;
}

/** Entry point of a bundled action under GitHub Actions (or act). */
export async function runOnGitHub<S extends Schema, R>(def: ActionDefinition<S, R>): Promise<void> {
  process.exitCode = await runAction(def, new GitHubHost());
}
