// A tiny registry of counters, gauges and histograms written in the Prometheus text exposition
// format 0.0.4. Label *names* are fixed when a metric is declared; callers keep label *values*
// bounded (route patterns, not raw paths), since every distinct set is a new time series.

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** The usual latency buckets of an HTTP service, in seconds. */
export const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Label values escape backslash, double quote and line feed (format 0.0.4). */
export function escapeLabelValue(value) {
  return String(value).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text escapes backslash and line feed only. */
function escapeHelp(text) {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function formatValue(n) {
  if (n === Number.POSITIVE_INFINITY) return '+Inf';
  if (n === Number.NEGATIVE_INFINITY) return '-Inf';
  if (Number.isNaN(n)) return 'NaN';
  return String(n);
}

function labelText(names, values, extra = '') {
  const pairs = names.map((n, i) => `${n}="${escapeLabelValue(values[i])}"`);
  if (extra) pairs.push(extra);
  return pairs.length ? `{${pairs.join(',')}}` : '';
}

function checkDeclaration(name, labelNames) {
  if (!NAME.test(name)) throw new Error(`metric name ${JSON.stringify(name)} is not valid`);
  for (const l of labelNames) {
    if (!LABEL.test(l) || l.startsWith('__') || l === 'le') throw new Error(`label name ${JSON.stringify(l)} of ${name} is not valid`);
  }
}

function valuesOf(name, labelNames, labels) {
  const keys = Object.keys(labels);
  if (keys.length !== labelNames.length || !labelNames.every((l) => Object.hasOwn(labels, l))) {
    throw new Error(`${name} takes labels {${labelNames.join(',')}}, got {${keys.join(',')}}`);
  }
  return labelNames.map((l) => String(labels[l]));
}

export function createRegistry() {
  const metrics = [];
  const names = new Set();

  const declare = (metric) => {
    if (names.has(metric.name)) throw new Error(`metric ${metric.name} is declared twice`);
    names.add(metric.name);
    metrics.push(metric);
  };

  /** A counter only goes up. */
  function counter({ name, help, labelNames = [] }) {
    checkDeclaration(name, labelNames);
    const series = new Map();
    // A counter without labels has one series: expose its 0 before the first increment.
    if (labelNames.length === 0) series.set('[]', { values: [], value: 0 });
    declare({
      name,
      help,
      type: 'counter',
      lines: () => [...series.values()].map((s) => `${name}${labelText(labelNames, s.values)} ${formatValue(s.value)}`),
    });
    return {
      inc(labels = {}, by = 1) {
        if (!(by >= 0)) throw new Error(`${name} can only increase, got ${by}`);
        const values = valuesOf(name, labelNames, labels);
        const key = JSON.stringify(values);
        const s = series.get(key) ?? { values, value: 0 };
        s.value += by;
        series.set(key, s);
      },
    };
  }

  /** A gauge whose value is read when scraped, so it can never drift from its source. */
  function gauge({ name, help, labelNames = [], collect }) {
    checkDeclaration(name, labelNames);
    declare({
      name,
      help,
      type: 'gauge',
      lines: () => collect().map(({ labels = {}, value }) => `${name}${labelText(labelNames, valuesOf(name, labelNames, labels))} ${formatValue(value)}`),
    });
  }

  function histogram({ name, help, labelNames = [], buckets = DEFAULT_BUCKETS }) {
    checkDeclaration(name, labelNames);
    const bounds = [...buckets].sort((a, b) => a - b);
    if (bounds.some((b, i) => !Number.isFinite(b) || b === bounds[i - 1])) throw new Error(`${name} buckets must be distinct finite numbers`);
    const series = new Map();
    declare({
      name,
      help,
      type: 'histogram',
      lines: () =>
        [...series.values()].flatMap((s) => {
          // Buckets are cumulative: each counts every observation at or below its bound.
          let cumulative = 0;
          const lines = bounds.map((b, i) => {
            cumulative += s.counts[i];
            return `${name}_bucket${labelText(labelNames, s.values, `le="${formatValue(b)}"`)} ${cumulative}`;
          });
          lines.push(`${name}_bucket${labelText(labelNames, s.values, 'le="+Inf"')} ${s.count}`);
          lines.push(`${name}_sum${labelText(labelNames, s.values)} ${formatValue(s.sum)}`);
          lines.push(`${name}_count${labelText(labelNames, s.values)} ${s.count}`);
          return lines;
        }),
    });
    return {
      observe(labels, value) {
        const values = valuesOf(name, labelNames, labels);
        const key = JSON.stringify(values);
        let s = series.get(key);
        if (!s) {
          s = { values, counts: bounds.map(() => 0), sum: 0, count: 0 };
          series.set(key, s);
        }
        const i = bounds.findIndex((b) => value <= b);
        if (i >= 0) s.counts[i] += 1;
        s.sum += value;
        s.count += 1;
      },
    };
  }

  /** The whole registry in text format 0.0.4, each metric with its HELP and TYPE lines. */
  function expose() {
    const out = [];
    for (const m of metrics) {
      out.push(`# HELP ${m.name} ${escapeHelp(m.help)}`, `# TYPE ${m.name} ${m.type}`, ...m.lines());
    }
    return `${out.join('\n')}\n`;
  }

  return { counter, gauge, histogram, expose };
}
