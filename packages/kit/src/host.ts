import { randomUUID } from 'node:crypto';
import { EOL } from 'node:os';
import * as core from '@actions/core';
import { type Annotation, UserError } from './errors.ts';
import { type MaskMode, runnerMasks, secrets } from './mask.ts';
import type { Summary } from './summary.ts';
import { inert } from './untrusted.ts';

/** What an action's logic may use to report progress. Every line is masked and made inert. */
export interface Log {
  info(message: string): void;
  warning(message: string, where?: Annotation): void;
  /** An error annotation; the action goes on (runAction adds the final one itself). */
  error(message: string, where?: Annotation): void;
  notice(message: string, where?: Annotation): void;
  debug(message: string): void;
  /** Runs `fn` inside a collapsible log section. */
  group<T>(title: string, fn: () => Promise<T>): Promise<T>;
  /**
   * A block of text from outside (process output, a diff, container logs, an API's message): masked,
   * every line inert, and on GitHub inside `::stop-commands::` so nothing in it can be a command.
   */
  external(text: string): void;
}

/** A runner: where inputs come from and where outputs, annotations and the summary go. */
export interface Host extends Log {
  readonly kind: 'github' | 'gitlab' | 'cli';
  input(name: string): string | undefined;
  /** Registers a secret: it is masked from every log line this host writes (and by the runner, where it can). */
  mask(secret: string, mode?: boolean | MaskMode): void;
  /** Outputs are written as they are: never masked (a masked JSON output is a corrupt one). */
  setOutput(name: string, value: string): void;
  writeSummary(summary: Summary): Promise<void>;
  /** State for a later step of the same action (GitHub's pre/post); other hosts keep it for this run. */
  saveState(name: string, value: string): void;
  getState(name: string): string;
  /** A GitHub OIDC token for `audience` (cloud registries and clusters federate on it). */
  getIDToken(audience?: string): Promise<string>;
  /** Called once at the end, success or not. */
  finish(): Promise<void>;
}

type Write = (text: string) => void;

function place(where: Annotation | undefined): string {
  if (!where?.file) return where?.title ? `${where.title}: ` : '';
  const at = [where.file, where.line, where.line !== undefined ? where.column : undefined].filter((x) => x !== undefined).join(':');
  return `${at}: ${where.title ? `${where.title}: ` : ''}`;
}

abstract class BaseHost implements Host {
  abstract readonly kind: 'github' | 'gitlab' | 'cli';
  protected readonly masker = secrets;
  protected readonly outputs = new Map<string, string>();
  private readonly state = new Map<string, string>();
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

  mask(secret: string, mode: boolean | MaskMode = true): void {
    this.masker.add(secret, mode);
  }

  /** Masked (for annotations: the runner escapes those, or they are one line anyway). */
  protected clean(message: string): string {
    return this.masker.redact(message);
  }

  /** Masked and inert: for every plain line a host writes. */
  protected lines(message: string): string {
    return inert(this.masker.redact(message));
  }

  setOutput(name: string, value: string): void {
    this.outputs.set(name, value);
  }

  info(message: string): void {
    this.err(`${this.lines(message)}\n`);
  }

  warning(message: string, where?: Annotation): void {
    this.err(`warning: ${this.lines(place(where) + message)}\n`);
  }

  error(message: string, where?: Annotation): void {
    this.err(`error: ${this.lines(place(where) + message)}\n`);
  }

  notice(message: string, where?: Annotation): void {
    this.err(`notice: ${this.lines(place(where) + message)}\n`);
  }

  debug(message: string): void {
    if (process.env.SHIPLINE_DEBUG === 'true' || process.env.RUNNER_DEBUG === '1') this.err(`debug: ${this.lines(message)}\n`);
  }

  external(text: string): void {
    if (text === '') return;
    this.err(`${this.lines(text.replace(/(\r\n|\r|\n)$/, ''))}\n`);
  }

  async group<T>(title: string, fn: () => Promise<T>): Promise<T> {
    const outer = this.depth === 0;
    if (outer) this.openGroup(title);
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
    this.err(`── ${this.lines(title)}\n`);
  }

  protected closeGroup(): void {}

  async writeSummary(summary: Summary): Promise<void> {
    this.err(`\n${this.lines(summary.toText())}`);
  }

  saveState(name: string, value: string): void {
    this.state.set(name, value);
  }

  getState(name: string): string {
    return this.state.get(name) ?? '';
  }

  async getIDToken(): Promise<string> {
    throw new UserError('an OIDC token exists only on GitHub Actions', {
      hint: 'run this step on GitHub Actions with `permissions: id-token: write`, or give static credentials',
    });
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
 * GitLab CI: collapsible sections, and the outputs also handed, raw, to `writeOutputs` once the
 * action is done — the CLI's dotenv writer (packages/cli/src/dotenv.ts) for
 * `artifacts:reports:dotenv`, which knows GitLab's line and size rules.
 */
export class GitLabHost extends BaseHost {
  readonly kind = 'gitlab' as const;
  private section = 0;
  private readonly writeOutputs: (outputs: ReadonlyMap<string, string>) => void;

  constructor(inputs: ReadonlyMap<string, string>, out: Write, err: Write, writeOutputs: (outputs: ReadonlyMap<string, string>) => void) {
    super(inputs, out, err);
    this.writeOutputs = writeOutputs;
  }

  protected override openGroup(title: string): void {
    this.section++;
    const now = Math.floor(Date.now() / 1000);
    this.err(`\x1b[0Ksection_start:${now}:shipline_${this.section}[collapsed=true]\r\x1b[0K${this.lines(title).replace(/\n/g, ' ')}\n`);
  }

  protected override closeGroup(): void {
    const now = Math.floor(Date.now() / 1000);
    this.err(`\x1b[0Ksection_end:${now}:shipline_${this.section}\r\x1b[0K\n`);
  }

  override error(message: string, where?: Annotation): void {
    this.err(`\x1b[31;1mERROR: ${this.lines(place(where) + message)}\x1b[0m\n`);
  }

  override async finish(): Promise<void> {
    await super.finish();
    this.writeOutputs(this.outputs);
  }
}

function properties(where: Annotation | undefined): core.AnnotationProperties {
  if (!where) return {};
  const p: core.AnnotationProperties = {};
  if (where.title) p.title = secrets.redact(where.title);
  if (where.file) p.file = secrets.redact(where.file);
  if (where.line !== undefined) p.startLine = where.line;
  if (where.column !== undefined) p.startColumn = where.column;
  if (where.endLine !== undefined) p.endLine = where.endLine;
  if (where.endColumn !== undefined) p.endColumn = where.endColumn;
  return p;
}

/**
 * GitHub Actions (and act), over @actions/core: inputs, outputs, masks, annotations, groups,
 * summary, state and OIDC tokens are core's. What core leaves to its callers is done here: plain
 * lines (core.info writes them as they are) are masked and made inert, and external text is
 * fenced with stop-commands (core has no call for it).
 */
export class GitHubHost extends BaseHost {
  readonly kind = 'github' as const;
  /** Values already sent as add-mask: one line each in the log is enough. */
  private readonly announced = new Set<string>();
  private readonly write: Write;

  constructor(write: Write = (t) => void process.stdout.write(t)) {
    super(new Map(), write, write);
    this.write = write;
  }

  override input(name: string): string | undefined {
    // Trimmed, as core trims (a password pasted with a trailing newline works).
    const v = core.getInput(name);
    return v === '' ? undefined : v;
  }

  override mask(secret: string, mode: boolean | MaskMode = true): void {
    this.masker.add(secret, mode);
    for (const v of runnerMasks(secret, mode)) {
      if (this.announced.has(v)) continue;
      this.announced.add(v);
      core.setSecret(v);
    }
  }

  override setOutput(name: string, value: string): void {
    core.setOutput(name, value);
  }

  override info(message: string): void {
    core.info(this.lines(message));
  }

  override warning(message: string, where?: Annotation): void {
    core.warning(this.clean(message), properties(where));
  }

  override error(message: string, where?: Annotation): void {
    core.error(this.clean(message), properties(where));
  }

  override notice(message: string, where?: Annotation): void {
    core.notice(this.clean(message), properties(where));
  }

  override debug(message: string): void {
    core.debug(this.clean(message));
  }

  override external(text: string): void {
    if (text === '') return;
    // A fresh token each time: text that guessed it could end the fence early.
    const token = randomUUID();
    this.write(`::stop-commands::${token}${EOL}${this.lines(text.replace(/(\r\n|\r|\n)$/, ''))}${EOL}::${token}::${EOL}`);
  }

  // GitHub does not nest groups: BaseHost turns inner ones into plain lines.
  protected override openGroup(title: string): void {
    core.startGroup(this.clean(title));
  }

  protected override closeGroup(): void {
    core.endGroup();
  }

  override async writeSummary(summary: Summary): Promise<void> {
    // Outside a runner (a local `node dist/x/index.js`) there is no summary file: nothing to write.
    if (!process.env.GITHUB_STEP_SUMMARY) return;
    await core.summary.addRaw(this.clean(summary.toMarkdown())).write();
  }

  override saveState(name: string, value: string): void {
    core.saveState(name, value);
  }

  override getState(name: string): string {
    return core.getState(name);
  }

  override async getIDToken(audience?: string): Promise<string> {
    const token = await core.getIDToken(audience);
    this.masker.add(token, false);
    return token;
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
