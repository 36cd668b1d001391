// Starts the service in-process on 127.0.0.1, port 0, with its logs captured, and parses metrics.
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { startService } from '../src/service.js';

/** A promise with its resolve function outside, for start-up work the test finishes itself. */
export function deferred() {
  let resolve;
  const promise = new Promise((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * @param {Record<string, string>} [env] variables as the process would see them
 * @param {{ random?: () => number, warmUp?: () => Promise<void> }} [deps] by default ready at once
 */
export async function start(env = {}, deps = {}) {
  const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'debug', ...env });
  const lines = [];
  const log = createLogger({ level: config.logLevel, write: (line) => lines.push(JSON.parse(line)) });
  const service = await startService(config, { log, warmUp: async () => {}, ...deps });
  const base = `http://127.0.0.1:${service.port}`;
  return {
    service,
    base,
    logs: lines,
    /** fetch relative to the service; each request on its own connection, so shutdown never waits for idle keep-alives */
    request: (path, init = {}) => fetch(`${base}${path}`, { ...init, headers: { connection: 'close', ...init.headers } }),
    stop: () => service.shutdown('test'),
  };
}

/** Parses text format 0.0.4 into samples, checking each line's syntax on the way. */
export function parseMetrics(text) {
  const samples = [];
  const types = new Map();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      types.set(type[1], type[2]);
      continue;
    }
    if (line.startsWith('# HELP ')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    samples.push({ name: m[1], labels: m[2] ? parseLabels(m[2]) : {}, value: Number(m[3] === '+Inf' ? Infinity : m[3]) });
  }
  return { samples, types };
}

function parseLabels(text) {
  const labels = {};
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\[\\"n])*)"(,|\})/y;
  re.lastIndex = 1;
  while (re.lastIndex < text.length) {
    const m = re.exec(text);
    if (!m) throw new Error(`bad labels: ${text}`);
    labels[m[1]] = m[2].replace(/\\(["\\n])/g, (_, c) => (c === 'n' ? '\n' : c));
    if (m[3] === '}') break;
  }
  return labels;
}

/** The value of the sample with exactly these labels (0 when absent, as Prometheus sees it). */
export function sampleValue(metrics, name, labels = {}) {
  const s = metrics.samples.find((x) => x.name === name && sameLabels(x.labels, labels));
  return s ? s.value : 0;
}

function sameLabels(a, b) {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}
