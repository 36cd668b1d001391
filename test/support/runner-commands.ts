// Reads a step's stdout the way the GitHub Actions runner does, to find every workflow command it
// would run. The runner (ActionCommandManager) reads output line by line — `\r\n`, `\r` and `\n`
// each end a line —, trims each line, and runs it as a command when it starts with `::name ...::`;
// the legacy form `##[name ...]message` is recognised anywhere in a line. After
// `::stop-commands::T` nothing is a command until a line reads `::T::`.
//
// This parser is stricter than the runner in one way: any `::word...::` counts as a command, not
// only the names the runner registers, so a test flags more, never less.

export interface RunnerCommand {
  name: string;
  /** Unescaped message (`%0A` → newline, as the runner decodes it). */
  message: string;
  properties: Record<string, string>;
  form: 'v2' | 'legacy';
  /** 0-based index of the line it came from. */
  line: number;
}

export interface Parsed {
  commands: RunnerCommand[];
  /** True when output ended inside a stop-commands block (what came after was ignored). */
  stopped: boolean;
}

const LINE = /\r\n|\r|\n/;

function unescapeData(s: string): string {
  return s.replace(/%0D/gi, '\r').replace(/%0A/gi, '\n').replace(/%25/g, '%');
}

function unescapeProperty(s: string): string {
  return unescapeData(s).replace(/%3A/gi, ':').replace(/%2C/gi, ',');
}

function parseV2(trimmed: string, line: number): RunnerCommand | undefined {
  if (!trimmed.startsWith('::')) return undefined;
  const end = trimmed.indexOf('::', 2);
  if (end < 0) return undefined;
  const info = trimmed.slice(2, end);
  const space = info.indexOf(' ');
  const name = space < 0 ? info : info.slice(0, space);
  if (!/^[A-Za-z][\w-]*$/.test(name)) return undefined;
  const properties: Record<string, string> = {};
  if (space >= 0) {
    for (const pair of info.slice(space + 1).split(',')) {
      const eq = pair.indexOf('=');
      if (eq > 0) properties[pair.slice(0, eq).trim()] = unescapeProperty(pair.slice(eq + 1));
    }
  }
  return { name, message: unescapeData(trimmed.slice(end + 2)), properties, form: 'v2', line };
}

function parseLegacy(text: string, line: number): RunnerCommand | undefined {
  const at = text.indexOf('##[');
  if (at < 0) return undefined;
  const close = text.indexOf(']', at);
  if (close < 0) return undefined;
  const info = text.slice(at + 3, close);
  const space = info.indexOf(' ');
  const name = space < 0 ? info : info.slice(0, space);
  if (!/^[A-Za-z][\w-]*$/.test(name)) return undefined;
  const properties: Record<string, string> = {};
  if (space >= 0) {
    for (const pair of info.slice(space + 1).split(';')) {
      const eq = pair.indexOf('=');
      if (eq > 0) properties[pair.slice(0, eq).trim()] = unescapeProperty(pair.slice(eq + 1));
    }
  }
  return { name, message: unescapeData(text.slice(close + 1)), properties, form: 'legacy', line };
}

/** Every command the runner would run, in order. */
export function parseRunnerCommands(stdout: string): Parsed {
  const commands: RunnerCommand[] = [];
  let stopToken: string | undefined;
  stdout.split(LINE).forEach((raw, i) => {
    const trimmed = raw.trim();
    if (stopToken !== undefined) {
      if (trimmed.toLowerCase() === `::${stopToken}::`.toLowerCase()) stopToken = undefined;
      return;
    }
    const cmd = parseV2(trimmed, i) ?? parseLegacy(raw, i);
    if (!cmd) return;
    commands.push(cmd);
    if (cmd.name === 'stop-commands' && cmd.message !== '') stopToken = cmd.message;
  });
  return { commands, stopped: stopToken !== undefined };
}

export interface CommandPolicy {
  /** Values the action may add-mask (its secrets, or any line/part of them). */
  secrets?: string[];
  /** Text that marks an injected payload: no command may carry it as its message's start or its name. */
  markers: string[];
  /** Tokens the hostile input used for `::stop-commands::` (the action's own must differ). */
  hostileTokens?: string[];
}

const OWN = new Set(['add-mask', 'group', 'endgroup', 'error', 'warning', 'notice', 'debug', 'stop-commands']);

/**
 * What is wrong with the commands in `stdout` (empty when nothing): a command the action does not
 * issue, an add-mask of something that is no secret, a command whose message is an injected
 * payload, a stop-commands with a hostile token, or output that ends with commands switched off.
 */
export function injectedCommands(stdout: string, policy: CommandPolicy): string[] {
  const { commands, stopped } = parseRunnerCommands(stdout);
  const problems: string[] = [];
  const hostile = new Set((policy.hostileTokens ?? []).map((t) => t.toLowerCase()));
  const secretParts = policy.secrets ?? [];
  for (const c of commands) {
    const where = `line ${c.line}: ${c.form} ${c.name} ${JSON.stringify(c.message.slice(0, 80))}`;
    if (c.form === 'legacy') problems.push(`legacy command (${where})`);
    else if (!OWN.has(c.name)) problems.push(`command the action never issues (${where})`);
    if (c.name === 'add-mask' && !secretParts.some((s) => s === c.message || s.includes(c.message))) problems.push(`add-mask of a non-secret (${where})`);
    if (c.name === 'stop-commands' && hostile.has(c.message.toLowerCase())) problems.push(`stop-commands with a hostile token (${where})`);
    const text = `${c.message} ${Object.values(c.properties).join(' ')}`;
    for (const m of policy.markers) {
      if (c.message.startsWith(m) || c.name.includes(m) || Object.values(c.properties).some((v) => v.startsWith(m)))
        problems.push(`injected payload ${m} (${where})`);
      else if (c.name === 'add-mask' && text.includes(m)) problems.push(`add-mask carrying ${m} (${where})`);
    }
  }
  if (stopped) problems.push('output ends with workflow commands stopped: the action’s own commands after that were ignored');
  return problems;
}

/** The `::error` commands the runner would act on (the action's failure must be among them). */
export function errorCommands(stdout: string): RunnerCommand[] {
  return parseRunnerCommands(stdout).commands.filter((c) => c.name === 'error');
}
