// Reads buildx's `--progress=rawjson` stream (one BuildKit SolveStatus JSON object a line) into
// readable log lines and into the facts `cache-hit` is made of: which Dockerfile steps ran and
// which came from cache. Reading the stream, not the human log, is what keeps cache-hit honest.

interface RawVertex {
  digest: string;
  name?: string;
  started?: string;
  completed?: string;
  cached?: boolean;
  error?: string;
}

interface RawLog {
  vertex: string;
  stream?: number;
  data?: string;
}

interface RawStatus {
  vertexes?: RawVertex[];
  logs?: RawLog[];
  warnings?: { vertex?: string; short?: string }[];
}

export interface Step {
  name: string;
  cached: boolean;
  error: string | undefined;
  durationMs: number | undefined;
}

/** `[2/5] RUN npm ci`, `[build 3/4] COPY . .`, `[linux/amd64 2/3] COPY …`: an instruction of the Dockerfile. */
const INSTRUCTION = /^\[[^\]]*?\b\d+\/\d+\]\s+(\S+)/;

export function isInstruction(name: string): boolean {
  return INSTRUCTION.test(name);
}

/** FROM resolves a base image; it is not work the cache can save, so cache-hit does not count it. */
export function isCountedStep(name: string): boolean {
  const m = INSTRUCTION.exec(name);
  return m !== null && m[1]?.toUpperCase() !== 'FROM';
}

export class ProgressReader {
  private readonly vertexes = new Map<string, { name: string; cached: boolean; error?: string; started?: number; completed?: number; printed: boolean }>();
  private readonly numbers = new Map<string, number>();
  private readonly pendingLog = new Map<string, string>();
  private readonly print: (line: string) => void;
  readonly warnings: string[] = [];
  /** Lines that were not JSON (buildx's own messages, e.g. a builder being booted). */
  readonly otherLines: string[] = [];

  constructor(print: (line: string) => void) {
    this.print = print;
  }

  private number(digest: string): number {
    let n = this.numbers.get(digest);
    if (n === undefined) {
      n = this.numbers.size + 1;
      this.numbers.set(digest, n);
    }
    return n;
  }

  /** Feeds one line of buildx's stderr. */
  line(text: string): void {
    const t = text.trim();
    if (t === '') return;
    let status: RawStatus;
    try {
      status = JSON.parse(t) as RawStatus;
    } catch {
      this.otherLines.push(t);
      this.print(t);
      return;
    }
    if (typeof status !== 'object' || status === null) return;
    for (const v of status.vertexes ?? []) this.vertex(v);
    for (const l of status.logs ?? []) this.log(l);
    for (const w of status.warnings ?? []) {
      const short = w.short ? Buffer.from(w.short, 'base64').toString('utf8') : '';
      if (short && !this.warnings.includes(short)) {
        this.warnings.push(short);
        this.print(`WARNING: ${short}`);
      }
    }
  }

  private vertex(v: RawVertex): void {
    if (!v.digest) return;
    const cur = this.vertexes.get(v.digest) ?? { name: v.name ?? v.digest, cached: false, printed: false };
    if (v.name) cur.name = v.name;
    if (v.cached) cur.cached = true;
    if (v.error) cur.error = v.error;
    if (v.started) cur.started = Date.parse(v.started);
    if (v.completed) cur.completed = Date.parse(v.completed);
    this.vertexes.set(v.digest, cur);
    if (!cur.printed && (v.completed || v.cached || v.error)) {
      cur.printed = true;
      this.flushLog(v.digest);
      const n = this.number(v.digest);
      const took = cur.started !== undefined && cur.completed !== undefined ? ` ${((cur.completed - cur.started) / 1000).toFixed(1)}s` : '';
      const state = cur.error ? `ERROR: ${cur.error}` : cur.cached ? 'CACHED' : `DONE${took}`;
      this.print(`#${n} ${cur.name} ${state}`);
    }
  }

  private log(l: RawLog): void {
    if (!l.vertex || !l.data) return;
    const text = (this.pendingLog.get(l.vertex) ?? '') + Buffer.from(l.data, 'base64').toString('utf8');
    const lines = text.split('\n');
    this.pendingLog.set(l.vertex, lines.pop() ?? '');
    const n = this.number(l.vertex);
    for (const line of lines) if (line.trim() !== '') this.print(`#${n} ${line.replace(/\r/g, '')}`);
  }

  private flushLog(digest: string): void {
    const rest = this.pendingLog.get(digest);
    if (rest?.trim()) this.print(`#${this.number(digest)} ${rest}`);
    this.pendingLog.delete(digest);
  }

  /** The Dockerfile steps cache-hit is judged on (FROM excluded), in first-seen order. */
  steps(): Step[] {
    const out: Step[] = [];
    for (const v of this.vertexes.values()) {
      if (!isCountedStep(v.name)) continue;
      out.push({
        name: v.name,
        cached: v.cached,
        error: v.error,
        durationMs: v.started !== undefined && v.completed !== undefined ? v.completed - v.started : undefined,
      });
    }
    return out;
  }

  /** Errors of failed vertexes, for the failure message. */
  errors(): string[] {
    return [...this.vertexes.values()].filter((v) => v.error).map((v) => `${v.name}: ${v.error}`);
  }
}

export interface CacheStats {
  steps: number;
  cached: number;
  /** True when there was at least one step and every one came from cache. */
  hit: boolean;
}

export function cacheStats(steps: readonly Step[]): CacheStats {
  const cached = steps.filter((s) => s.cached).length;
  return { steps: steps.length, cached, hit: steps.length > 0 && cached === steps.length };
}
