// A strict reader of the small declarative-pipeline subset examples/order-service/Jenkinsfile
// uses, so a test can run its stages the way Jenkins would without a Jenkins. It understands:
//   pipeline { agent { docker { image '…'; args "…" } } parameters { string(name:, defaultValue:, description:) … }
//              environment { NAME = "…" … } options { … } stages { stage('…') { steps { … } } … }
//              post { failure|always|success { steps } } }
// where steps are `sh '''…'''` and `withCredentials([usernamePassword(…)|file(…), …]) { steps }`,
// and "…" strings expand only `${env.X}` and `${params.X ?: 'the default of X'}`. The fallback is
// required and must be the declared default: on a job's first build `params.X` is null (JENKINS-40574),
// and a parameter an sh step reads as $X must be set in `environment {}` that way, as no parameter
// is in the environment then either.
// Anything else is an error naming what and where: a Jenkinsfile this reader silently misread would
// make the test pass on commands Jenkins never runs.

export interface Param {
  name: string;
  defaultValue: string;
}

export type Binding =
  | { kind: 'usernamePassword'; credentialsId: string; usernameVariable: string; passwordVariable: string }
  | { kind: 'file'; credentialsId: string; variable: string };

/** One `sh` step with the credential bindings of the withCredentials blocks around it. */
export interface ShStep {
  script: string;
  bindings: Binding[];
}

export interface Stage {
  name: string;
  steps: ShStep[];
}

export interface Pipeline {
  image: string;
  /** Raw `args` text; `${params.X}`/`${env.X}` are expanded by `interpolate`. */
  args: string;
  params: Param[];
  /** Values as written (GStrings not yet expanded). */
  environment: [string, string][];
  stages: Stage[];
  post: Partial<Record<'always' | 'success' | 'failure', ShStep[]>>;
}

export class JenkinsfileError extends Error {}

// ---- tokens ------------------------------------------------------------------------------

type Tok =
  | { t: 'id'; v: string; line: number }
  | { t: 'str'; v: string; gstring: boolean; line: number }
  | { t: 'num'; v: string; line: number }
  | { t: 'p'; v: string; line: number };

const GROOVY_ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', '\\': '\\', "'": "'", '"': '"', $: '$' };

function tokenize(src: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  let line = 1;
  const fail = (msg: string): never => {
    throw new JenkinsfileError(`Jenkinsfile line ${line}: ${msg}`);
  };
  while (i < src.length) {
    const c = src[i] as string;
    if (c === '\n') {
      line++;
      i++;
    } else if (/\s/.test(c)) i++;
    else if (src.startsWith('//', i)) {
      while (i < src.length && src[i] !== '\n') i++;
    } else if (src.startsWith('/*', i)) {
      const end = src.indexOf('*/', i + 2);
      if (end < 0) fail('unterminated /* comment');
      line += (src.slice(i, end).match(/\n/g) ?? []).length;
      i = end + 2;
    } else if (c === "'" || c === '"') {
      const triple = src.startsWith(c.repeat(3), i);
      const quote = triple ? c.repeat(3) : c;
      const start = line;
      let j = i + quote.length;
      let v = '';
      for (;;) {
        if (j >= src.length) fail(`unterminated string starting on line ${start}`);
        if (src.startsWith(quote, j)) break;
        const ch = src[j] as string;
        if (ch === '\n') {
          if (!triple) fail('newline in a one-line string');
          line++;
        }
        if (ch === '\\') {
          const next = src[j + 1] as string;
          // Groovy: a backslash before a newline joins the lines (both go).
          if (next === '\n') {
            line++;
            j += 2;
            continue;
          }
          const esc = GROOVY_ESCAPES[next];
          if (esc === undefined) fail(`escape \\${next} is not valid Groovy (write \\\\${next} for a backslash)`);
          v += esc;
          j += 2;
          continue;
        }
        v += ch;
        j++;
      }
      toks.push({ t: 'str', v, gstring: c === '"', line: start });
      i = j + quote.length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(src.slice(i)) as RegExpExecArray;
      toks.push({ t: 'id', v: m[0], line });
      i += m[0].length;
    } else if (/[0-9]/.test(c)) {
      const m = /^[0-9]+/.exec(src.slice(i)) as RegExpExecArray;
      toks.push({ t: 'num', v: m[0], line });
      i += m[0].length;
    } else if ('{}()[],:='.includes(c)) {
      toks.push({ t: 'p', v: c, line });
      i++;
    } else fail(`unexpected character ${JSON.stringify(c)}`);
  }
  return toks;
}

// ---- a generic statement tree --------------------------------------------------------------

type Value =
  | { kind: 'str'; v: string; gstring: boolean }
  | { kind: 'num'; v: string }
  | { kind: 'id'; v: string }
  | { kind: 'call'; call: Call }
  | { kind: 'list'; items: Value[] };

interface Arg {
  key?: string;
  value: Value;
}

interface Call {
  name: string;
  line: number;
  args: Arg[];
  /** `name = value` (environment entries). */
  assign?: Value;
  block?: Call[];
}

class Parser {
  private i = 0;
  private readonly toks: Tok[];
  constructor(toks: Tok[]) {
    this.toks = toks;
  }

  private peek(): Tok | undefined {
    return this.toks[this.i];
  }

  private fail(msg: string, tok = this.peek()): never {
    throw new JenkinsfileError(`Jenkinsfile line ${tok?.line ?? 'end'}: ${msg}`);
  }

  private isP(v: string): boolean {
    const t = this.peek();
    return t?.t === 'p' && t.v === v;
  }

  private expectP(v: string): void {
    if (!this.isP(v)) this.fail(`expected "${v}", found ${this.describe()}`);
    this.i++;
  }

  private describe(): string {
    const t = this.peek();
    return t ? `${t.t === 'str' ? 'a string' : JSON.stringify(t.v)}` : 'the end of the file';
  }

  /** Statements until `}` (or the end, at top level). */
  block(top = false): Call[] {
    const out: Call[] = [];
    while (this.peek() && !(this.isP('}') && !top)) out.push(this.statement());
    return out;
  }

  private statement(): Call {
    const t = this.peek();
    if (t?.t !== 'id') this.fail(`expected a step or section name, found ${this.describe()}`);
    this.i++;
    const call: Call = { name: t.v, line: t.line, args: [] };
    if (this.isP('=')) {
      this.i++;
      call.assign = this.value();
      return call;
    }
    if (this.isP('(')) {
      this.i++;
      call.args = this.args(')');
    } else if (this.peek()?.t === 'str' || this.peek()?.t === 'num') {
      call.args = [{ value: this.value() }];
    }
    if (this.isP('{')) {
      this.i++;
      call.block = this.block();
      this.expectP('}');
    }
    return call;
  }

  private args(close: string): Arg[] {
    const out: Arg[] = [];
    while (!this.isP(close)) {
      const t = this.peek();
      const n = this.toks[this.i + 1];
      if (t?.t === 'id' && n?.t === 'p' && n.v === ':') {
        this.i += 2;
        out.push({ key: t.v, value: this.value() });
      } else out.push({ value: this.value() });
      if (this.isP(',')) this.i++;
      else if (!this.isP(close)) this.fail(`expected "," or "${close}", found ${this.describe()}`);
    }
    this.i++;
    return out;
  }

  private value(): Value {
    const t = this.peek();
    if (!t) this.fail('unexpected end of the file');
    if (t.t === 'str') {
      this.i++;
      return { kind: 'str', v: t.v, gstring: t.gstring };
    }
    if (t.t === 'num') {
      this.i++;
      return { kind: 'num', v: t.v };
    }
    if (t.t === 'p' && t.v === '[') {
      this.i++;
      return { kind: 'list', items: this.args(']').map((a) => (a.key ? this.fail('a map entry in a list is not understood') : a.value)) };
    }
    if (t.t === 'id') {
      this.i++;
      if (this.isP('(')) {
        this.i++;
        return { kind: 'call', call: { name: t.v, line: t.line, args: this.args(')') } };
      }
      return { kind: 'id', v: t.v };
    }
    return this.fail(`expected a value, found ${this.describe()}`);
  }
}

// ---- the pipeline shape ----------------------------------------------------------------------

const where = (c: Call) => `Jenkinsfile line ${c.line}`;

function only(parent: Call, allowed: string[]): Call[] {
  for (const c of parent.block ?? []) {
    if (!allowed.includes(c.name))
      throw new JenkinsfileError(`${where(c)}: \`${c.name}\` in \`${parent.name}\` is not understood (expected ${allowed.join(', ')})`);
  }
  return parent.block ?? [];
}

function one(parent: Call, name: string): Call {
  const found = (parent.block ?? []).filter((c) => c.name === name);
  if (found.length !== 1) throw new JenkinsfileError(`${where(parent)}: \`${parent.name}\` needs exactly one \`${name}\` (found ${found.length})`);
  return found[0] as Call;
}

function literal(v: Value | undefined, what: string, c: Call, gstringOk = false): string {
  if (v?.kind !== 'str') throw new JenkinsfileError(`${where(c)}: ${what} must be a string literal`);
  if (v.gstring && !gstringOk && v.v.includes('$')) throw new JenkinsfileError(`${where(c)}: ${what} must not interpolate (use '…')`);
  return v.v;
}

function named(c: Call, key: string): string {
  const a = c.args.find((x) => x.key === key);
  return literal(a?.value, `${c.name}'s ${key}`, c);
}

function binding(v: Value, c: Call): Binding {
  if (v.kind !== 'call') throw new JenkinsfileError(`${where(c)}: withCredentials takes a list of bindings`);
  const b = v.call;
  if (b.name === 'usernamePassword')
    return {
      kind: 'usernamePassword',
      credentialsId: named(b, 'credentialsId'),
      usernameVariable: named(b, 'usernameVariable'),
      passwordVariable: named(b, 'passwordVariable'),
    };
  if (b.name === 'file') return { kind: 'file', credentialsId: named(b, 'credentialsId'), variable: named(b, 'variable') };
  throw new JenkinsfileError(`${where(b)}: binding \`${b.name}\` is not understood (usernamePassword, file)`);
}

function steps(calls: Call[], outer: Binding[]): ShStep[] {
  const out: ShStep[] = [];
  for (const c of calls) {
    if (c.name === 'sh') {
      if (c.block || c.args.length !== 1 || c.args[0]?.key) throw new JenkinsfileError(`${where(c)}: write sh steps as sh '''…'''`);
      out.push({ script: literal(c.args[0]?.value, 'an sh script', c), bindings: outer });
    } else if (c.name === 'withCredentials') {
      const list = c.args[0]?.value;
      if (c.args.length !== 1 || list?.kind !== 'list' || !c.block) throw new JenkinsfileError(`${where(c)}: write withCredentials([bindings]) { steps }`);
      out.push(...steps(c.block, [...outer, ...list.items.map((v) => binding(v, c))]));
    } else throw new JenkinsfileError(`${where(c)}: step \`${c.name}\` is not understood (sh, withCredentials)`);
  }
  return out;
}

export function parseJenkinsfile(src: string): Pipeline {
  const top = new Parser(tokenize(src)).block(true);
  if (top.length !== 1 || top[0]?.name !== 'pipeline' || !top[0].block)
    throw new JenkinsfileError('Jenkinsfile: expected one `pipeline { … }` block and nothing else');
  const p = top[0];
  only(p, ['agent', 'parameters', 'environment', 'options', 'stages', 'post']);

  const docker = one(one(p, 'agent'), 'docker');
  only(docker, ['image', 'args']);
  const image = literal(one(docker, 'image').args[0]?.value, 'the agent image', docker);
  const argsCall = (docker.block ?? []).find((c) => c.name === 'args');
  const args = argsCall ? literal(argsCall.args[0]?.value, 'the agent args', argsCall, true) : '';

  const paramsBlock = (p.block ?? []).find((c) => c.name === 'parameters');
  const params = (paramsBlock ? only(paramsBlock, ['string']) : []).map((c) => ({ name: named(c, 'name'), defaultValue: named(c, 'defaultValue') }));

  const envBlock = (p.block ?? []).find((c) => c.name === 'environment');
  const environment = (envBlock?.block ?? []).map((c): [string, string] => {
    if (!c.assign || c.args.length || c.block) throw new JenkinsfileError(`${where(c)}: environment entries are NAME = "…"`);
    return [c.name, literal(c.assign, `environment ${c.name}`, c, true)];
  });

  const stages = only(one(p, 'stages'), ['stage']).map((s) => {
    const name = literal(s.args[0]?.value, 'a stage name', s);
    return { name, steps: steps(only(one(s, 'steps'), ['sh', 'withCredentials']), []) };
  });
  if (stages.length === 0) throw new JenkinsfileError(`${where(p)}: no stages`);

  const post: Pipeline['post'] = {};
  const postBlock = (p.block ?? []).find((c) => c.name === 'post');
  for (const c of postBlock ? only(postBlock, ['always', 'success', 'failure']) : []) {
    post[c.name as 'always' | 'success' | 'failure'] = steps(c.block ?? [], []);
  }
  checkParams(params, args, environment, [...stages.flatMap((s) => s.steps), ...Object.values(post).flat()]);
  return { image, args, params, environment, stages, post };
}

/** `${params.X ?: 'fallback'}` or `${env.X}`, as the reader understands a GString expression. */
const EXPR = /^(?:params\.([A-Za-z_][A-Za-z0-9_]*)(?:\s*\?:\s*'([^'\\]*)')?|env\.([A-Za-z_][A-Za-z0-9_]*))$/;

function expressions(text: string): string[] {
  return [...text.matchAll(/\$\{([^}]*)\}/g)].map((m) => (m[1] as string).trim());
}

/**
 * Every `${params.X}` names a declared parameter and falls back to its default; every parameter an
 * sh step reads as $X is set in `environment {}` as X = "${params.X ?: 'default'}".
 */
function checkParams(params: Param[], args: string, environment: [string, string][], shSteps: ShStep[]): void {
  const declared = new Map(params.map((p) => [p.name, p.defaultValue]));
  const uses: [string, string][] = [['the agent args', args], ...environment.map(([n, v]): [string, string] => [`environment ${n}`, v])];
  for (const [what, text] of uses) {
    for (const expr of expressions(text)) {
      const m = EXPR.exec(expr);
      if (!m?.[1]) continue; // env.X, or not understood: interpolate says so
      const def = declared.get(m[1]);
      if (def === undefined) throw new JenkinsfileError(`Jenkinsfile: ${what} uses params.${m[1]}, which \`parameters\` does not declare`);
      if (m[2] !== def)
        throw new JenkinsfileError(
          `Jenkinsfile: ${what} uses params.${m[1]} ${m[2] === undefined ? 'without a fallback' : `with the fallback '${m[2]}'`}; write \${params.${m[1]} ?: '${def}'} (its default: on a job's first build params.${m[1]} is null, JENKINS-40574)`,
        );
    }
  }
  for (const [name, def] of declared) {
    const read = shSteps.some((st) => new RegExp(`\\$(?:${name}\\b|\\{${name}\\})`).test(st.script));
    const set = environment.find(([n]) => n === name)?.[1];
    if (read && set !== `\${params.${name} ?: '${def}'}`)
      throw new JenkinsfileError(
        `Jenkinsfile: an sh step reads $${name}, but \`environment {}\` does not set ${name} = "\${params.${name} ?: '${def}'}" (on a job's first build no parameter is in the environment, JENKINS-40574)`,
      );
  }
}

/**
 * Expands a GString's `${params.X ?: 'fallback'}` and `${env.X}` as Jenkins would (Groovy's `?:`
 * takes the fallback for null and for ''); any other `$` expression is an error (Groovy would
 * evaluate it, this reader cannot). `params` undefined: a job's first build, when it has none.
 */
export function interpolate(text: string, params: Record<string, string> | undefined, env: Record<string, string>): string {
  return text.replace(/\$\{([^}]*)\}|\$/g, (m, expr: string | undefined) => {
    const ref = expr === undefined ? undefined : EXPR.exec(expr.trim());
    if (!ref) throw new JenkinsfileError(`Jenkinsfile: ${JSON.stringify(m)} in a "…" string is not understood (only \${params.X ?: '…'} and \${env.X})`);
    const value = ref[1] ? params?.[ref[1]] || ref[2] : env[ref[3] as string];
    if (value === undefined) throw new JenkinsfileError(`Jenkinsfile: ${m} is not defined`);
    return value;
  });
}
