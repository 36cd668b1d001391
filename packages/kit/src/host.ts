import { appendFileSync } from 'node:fs';
import { EOL } from 'node:os';
import { appendFileCommand, command, fileCommandEntry } from './github.ts';
import { secrets } from './mask.ts';
import type { Summary } from './summary.ts';

/** What an action's logic may use to report progress. */
export interface Log {
  info(message: string): void;
  warning(message: string): void;
  debug(message: string): void;
  /** Runs `fn` inside a collapsible log section. */
  group<T>(title: string, fn: () => Promise<T>): Promise<T>;
}

/** A runner: where inputs come from and where outputs, annotations and the summary go. */
export interface Host extends Log {
  readonly kind: 'github' | 'gitlab' | 'cli';
  input(name: string): string | undefined;
  /** Registers a secret: it is masked from every line this host writes (and by the runner, where it can). */
  mask(secret: string, perLine?: boolean): void;
  setOutput(name: string, value: string): void;
  error(message: string): void;
  notice(message: string): void;
  writeSummary(summary: Summary): Promise<void>;
  /** Called once at the end, success or not. */
  finish(): Promise<void>;
}

type Write = (text: string) => void;

abstract class BaseHost implements Host {
  abstract readonly kind: 'github' | 'gitlab' | 'cli';
  protected readonly masker = secrets;
  protected readonly outputs = new Map<string, string>();
  private depth = 0;
  protected readonly inputs: ReadonlyMap<string, string>;
  protected readonly out: Write;
  protected readonly err: Write;

  constructor(inputs: ReadonlyMap<string, string>, out: Write, err: Write) {
    this.inputs = inputs;
    this.out = out;
    this.err = err;
  }

  input(name: string): string | undefined {
    return this.inputs.get(name);
  }

  mask(secret: string, perLine = true): void {
    this.masker.add(secret, perLine);
  }

  protected clean(message: string): string {
    return this.masker.redact(message);
  }

  setOutput(name: string, value: string): void {
    this.outputs.set(name, this.clean(value));
  }

  info(message: string): void {
    this.err(`${this.clean(message)}\n`);
  }

  warning(message: string): void {
    this.err(`warning: ${this.clean(message)}\n`);
  }

  error(message: string): void {
    this.err(`error: ${this.clean(message)}\n`);
  }

  notice(message: string): void {
    this.err(`notice: ${this.clean(message)}\n`);
  }

  debug(message: string): void {
    if (process.env.SHIPLINE_DEBUG === 'true' || process.env.RUNNER_DEBUG === '1') this.err(`debug: ${this.clean(message)}\n`);
  }

  async group<T>(title: string, fn: () => Promise<T>): Promise<T> {
    const outer = this.depth === 0;
    if (outer) this.openGroup(this.clean(title));
    else this.info(title);
    this.depth++;
    try {
      return await fn();
    } finally {
      this.depth--;
      if (outer) this.closeGroup();
    }
  }

  protected openGroup(title: string): void {
    this.err(`── ${title}\n`);
  }

  protected closeGroup(): void {}

  async writeSummary(summary: Summary): Promise<void> {
    this.err(`\n${this.clean(summary.toText())}`);
  }

  async finish(): Promise<void> {
    for (const [name, value] of this.outputs) {
      // Same framing as GITHUB_OUTPUT, so multi-line values survive a shell `read` loop.
      if (value.includes('\n')) this.out(`${name}<<__SHIPLINE_EOF__\n${value}\n__SHIPLINE_EOF__\n`);
      else this.out(`${name}=${value}\n`);
    }
  }
}

/** A terminal or any CI without its own adapter: logs on stderr, outputs as `name=value` on stdout. */
export class CliHost extends BaseHost {
  readonly kind = 'cli' as const;
}

/**
 * GitLab CI: collapsible sections, and outputs also written to a dotenv file that a job publishes
 * with `artifacts:reports:dotenv` (keys like SMOKE_TEST_P50_MS: dotenv names allow no dashes).
 */
export class GitLabHost extends BaseHost {
  readonly kind = 'gitlab' as const;
  private section = 0;
  private readonly dotenv: { path: string; prefix: string };

  constructor(inputs: ReadonlyMap<string, string>, out: Write, err: Write, dotenv: { path: string; prefix: string }) {
    super(inputs, out, err);
    this.dotenv = dotenv;
  }

  protected override openGroup(title: string): void {
    this.section++;
    const now = Math.floor(Date.now() / 1000);
    this.err(`\x1b[0Ksection_start:${now}:shipline_${this.section}[collapsed=true]\r\x1b[0K${title}\n`);
  }

  protected override closeGroup(): void {
    const now = Math.floor(Date.now() / 1000);
    this.err(`\x1b[0Ksection_end:${now}:shipline_${this.section}\r\x1b[0K\n`);
  }

  override error(message: string): void {
    this.err(`\x1b[31;1mERROR: ${this.clean(message)}\x1b[0m\n`);
  }

  override async finish(): Promise<void> {
    await super.finish();
    const lines = [...this.outputs].map(([k, v]) => `${dotenvKey(this.dotenv.prefix, k)}=${v.replace(/\r?\n/g, ' ')}`);
    if (lines.length) appendFileSync(this.dotenv.path, `${lines.join('\n')}\n`, { mode: 0o644 });
  }
}

export function dotenvKey(prefix: string, name: string): string {
  return `${prefix}${name}`.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
}

/** GitHub Actions (and act): INPUT_* variables, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, workflow commands. */
export class GitHubHost extends BaseHost {
  readonly kind = 'github' as const;
  private readonly env: NodeJS.ProcessEnv;

  constructor(env: NodeJS.ProcessEnv = process.env, write: Write = (t) => void process.stdout.write(t)) {
    super(new Map(), write, write);
    this.env = env;
  }

  override input(name: string): string | undefined {
    return this.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`];
  }

  override mask(secret: string, perLine = true): void {
    const before = new Set(this.masker.values);
    this.masker.add(secret, perLine);
    for (const s of this.masker.values) if (!before.has(s)) this.out(command('add-mask', s));
  }

  override setOutput(name: string, value: string): void {
    const v = this.clean(value);
    const file = this.env.GITHUB_OUTPUT;
    if (file) appendFileCommand(file, fileCommandEntry(name, v));
    else this.out(`${EOL}${command('set-output', v, { name })}`);
  }

  override info(message: string): void {
    this.out(`${this.clean(message)}${EOL}`);
  }

  override warning(message: string): void {
    this.out(command('warning', this.clean(message)));
  }

  override error(message: string): void {
    this.out(command('error', this.clean(message)));
  }

  override notice(message: string): void {
    this.out(command('notice', this.clean(message)));
  }

  override debug(message: string): void {
    this.out(command('debug', this.clean(message)));
  }

  // GitHub does not nest groups: BaseHost turns inner ones into plain lines.
  protected override openGroup(title: string): void {
    this.out(command('group', title));
  }

  protected override closeGroup(): void {
    this.out(command('endgroup', ''));
  }

  override async writeSummary(summary: Summary): Promise<void> {
    const path = this.env.GITHUB_STEP_SUMMARY;
    if (path) appendFileCommand(path, this.clean(summary.toMarkdown()));
  }

  override async finish(): Promise<void> {}
}

/** For tests: a host that records everything. */
export class MemoryHost extends BaseHost {
  readonly kind = 'cli' as const;
  readonly log: string[] = [];

  constructor(inputs: Record<string, string> = {}) {
    const lines: string[] = [];
    super(
      new Map(Object.entries(inputs)),
      (t) => lines.push(t),
      (t) => lines.push(t),
    );
    this.log = lines;
  }
}
