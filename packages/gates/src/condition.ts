// Gate definitions as a user writes them, one per line:
//
//   error-rate: sum(rate(http_requests_total{code=~"5.."}[1m])) / sum(rate(http_requests_total[1m])) < 0.01
//     samples: sum(increase(http_requests_total[1m])) >= 50
//
// The comparison is the LAST comparison operator outside brackets, braces and quotes: PromQL itself
// has comparisons (`x > 0` filters a vector) and `=~`/`!=` matchers inside braces, so neither the
// first operator nor a plain search for "<" would do. The threshold after it must be a number.
// An indented `samples:` line under a gate adds a traffic query and its minimum (only `>=`): when
// fewer requests than that were seen, a measurement is inconclusive, not a pass (low traffic is the
// most reported false verdict of metric analysis).
import { UserError } from './kit.ts';

export const OPERATORS = ['<', '<=', '>', '>=', '==', '!='] as const;
export type Operator = (typeof OPERATORS)[number];

export interface GateDefinition {
  name: string;
  query: string;
  op: Operator;
  threshold: number;
  /** A query whose value is the traffic behind a measurement (e.g. requests in the window). */
  samples?: string;
  /** Fewer than this many samples: inconclusive. Only with `samples`. */
  minSamples?: number;
}

export function compare(value: number, op: Operator, threshold: number): boolean {
  switch (op) {
    case '<':
      return value < threshold;
    case '<=':
      return value <= threshold;
    case '>':
      return value > threshold;
    case '>=':
      return value >= threshold;
    case '==':
      return value === threshold;
    case '!=':
      return value !== threshold;
  }
}

const NAME = /^([A-Za-z0-9][A-Za-z0-9_.-]*)\s*:\s*(.*)$/;
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const EXAMPLE = 'error-rate: sum(rate(http_requests_total{code=~"5.."}[1m])) / sum(rate(http_requests_total[1m])) < 0.01';

/** The error of a bad line: the line (1-based), what is wrong, and the form that works. */
export class GateSyntaxError extends UserError {
  readonly line: number;
  constructor(input: string, line: number, text: string, problem: string) {
    super(`line ${line} ${JSON.stringify(text.trim().slice(0, 200))}: ${problem}`, {
      input,
      hint: `write each gate as "name: <promql> <op> <number>", e.g. ${EXAMPLE}`,
    });
    this.name = 'GateSyntaxError';
    this.line = line;
  }
}

/** Where the comparison operator is: the last one at depth 0 outside quotes, or undefined. */
export function lastTopLevelOperator(expr: string): { at: number; op: Operator } | undefined {
  let depth = 0;
  let quote: string | undefined;
  let found: { at: number; op: Operator } | undefined;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i] as string;
    if (quote) {
      if (c === '\\' && quote !== '`') i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') quote = c;
    else if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    else if (c === '#')
      break; // a PromQL comment runs to the end of the line
    else if (depth === 0 && (c === '<' || c === '>' || c === '=' || c === '!')) {
      const two = expr.slice(i, i + 2);
      if (two === '<=' || two === '>=' || two === '==' || two === '!=') {
        found = { at: i, op: two };
        i++;
      } else if (c === '<' || c === '>') found = { at: i, op: c };
      // `=~`, `!~` and a lone `=` belong to matchers, which live inside braces; ignore strays here.
    }
  }
  return found;
}

const CLOSER: Record<string, string> = { '(': ')', '[': ']', '{': '}' };

/** What is left open at the end of `expr` (a bracket or a quote), so an error can say which. */
export function unclosed(expr: string): string | undefined {
  const open: string[] = [];
  const pairs: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
  let quote: string | undefined;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i] as string;
    if (quote) {
      if (c === '\\' && quote !== '`') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'" || c === '`') quote = c;
    else if (c === '#') break;
    else if (c === '(' || c === '[' || c === '{') open.push(c);
    else if (pairs[c]) {
      const was = open.pop();
      if (was === undefined) return `"${c}" without its "${pairs[c]}"`;
      if (was !== pairs[c]) return `"${c}" where "${CLOSER[was]}" is expected`;
    }
  }
  if (quote) return `a quote ${quote} that is never closed`;
  const last = open.at(-1);
  return last ? `"${last}" that is never closed` : undefined;
}

function splitCondition(input: string, lineNo: number, line: string, rest: string): { query: string; op: Operator; threshold: number } {
  // Unbalanced brackets would hide the comparison; say so rather than "no comparison".
  const open = unclosed(rest);
  if (open) throw new GateSyntaxError(input, lineNo, line, `the query has ${open}`);
  const op = lastTopLevelOperator(rest);
  if (!op) throw new GateSyntaxError(input, lineNo, line, `no comparison (one of ${OPERATORS.join(' ')}) outside brackets, braces and quotes`);
  const query = rest.slice(0, op.at).trim();
  const right = rest.slice(op.at + op.op.length).trim();
  if (query === '') throw new GateSyntaxError(input, lineNo, line, `no PromQL query before "${op.op}"`);
  // `up =< 1` splits as `up =` < 1: a query left ending in an operator is a mistyped comparison,
  // which Prometheus would only reject on every measurement, long after the rollout.
  const dangling = /[=!<>+\-*/%^]$/.exec(query)?.[0];
  if (dangling)
    throw new GateSyntaxError(
      input,
      lineNo,
      line,
      `the query ends with "${dangling}" before "${op.op}": write the comparison as one of ${OPERATORS.join(' ')}`,
    );
  if (!NUMBER.test(right))
    throw new GateSyntaxError(input, lineNo, line, `the threshold after "${op.op}" must be a number, not ${JSON.stringify(right.slice(0, 60))}`);
  return { query, op: op.op, threshold: Number(right) };
}

/** One line, `name: <promql> <op> <number>`. */
export function parseCondition(line: string, options: { input?: string; lineNo?: number } = {}): GateDefinition {
  const input = options.input ?? 'metrics';
  const lineNo = options.lineNo ?? 1;
  const m = NAME.exec(line.trim());
  if (!m) throw new GateSyntaxError(input, lineNo, line, 'no gate name: start the line with a name (letters, digits, ".", "_", "-") and a colon');
  const name = m[1] as string;
  return { name, ...splitCondition(input, lineNo, line, m[2] as string) };
}

/**
 * Several gates, one per line; blank lines and lines starting with `#` are skipped; an indented
 * `samples: <promql> >= <n>` line belongs to the gate above it.
 */
export function parseGates(text: string, input = 'metrics', options: { minSamples?: number; minSamplesInput?: string } = {}): GateDefinition[] {
  const gates: GateDefinition[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const lineNo = i + 1;
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const samples = /^samples\s*:\s*(.*)$/.exec(trimmed);
    if (samples && /^\s/.test(line)) {
      const gate = gates.at(-1);
      if (!gate) throw new GateSyntaxError(input, lineNo, line, 'a "samples:" line must follow the gate it belongs to');
      if (gate.samples !== undefined) throw new GateSyntaxError(input, lineNo, line, `gate "${gate.name}" already has a samples line`);
      const body = (samples[1] as string).trim();
      // `samples: <promql>` alone takes its minimum from min-samples.
      if (!lastTopLevelOperator(body) && !unclosed(body) && body !== '') {
        if (!options.minSamples)
          throw new GateSyntaxError(
            input,
            lineNo,
            line,
            `the samples line sets no minimum: write "samples: <promql> >= <number>" or set \`${options.minSamplesInput ?? 'min-samples'}\``,
          );
        gate.samples = body;
        gate.minSamples = options.minSamples;
        continue;
      }
      const c = splitCondition(input, lineNo, line, body);
      if (c.op !== '>=') throw new GateSyntaxError(input, lineNo, line, `a samples line sets a minimum: write "samples: <promql> >= <number>", not "${c.op}"`);
      if (c.threshold < 0) throw new GateSyntaxError(input, lineNo, line, 'the minimum number of samples cannot be negative');
      gate.samples = c.query;
      gate.minSamples = c.threshold;
      continue;
    }
    const gate = parseCondition(line, { input, lineNo });
    if (gates.some((g) => g.name === gate.name))
      throw new GateSyntaxError(input, lineNo, line, `gate "${gate.name}" is defined twice; give each gate its own name`);
    gates.push(gate);
  }
  if (gates.length === 0) throw new UserError('no gate defined', { input, hint: `write one gate per line, e.g. ${EXAMPLE}` });
  if (options.minSamples && !gates.some((g) => g.samples !== undefined))
    throw new UserError(`\`${options.minSamplesInput ?? 'min-samples'}\` is set but no gate has a samples line to count requests with`, {
      input: options.minSamplesInput ?? 'min-samples',
      hint: 'indent a line "samples: <promql counting requests>" under a gate, e.g. samples: sum(increase(http_requests_total[1m]))',
    });
  return gates;
}
