// Settings come from the environment only (12-factor); every bad value is reported with the variable
// that holds it and what to write instead, so a crash-looping pod's log says how to fix it.

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'];

export class ConfigError extends Error {
  /** @param {string[]} problems one sentence per bad variable */
  constructor(problems) {
    super(problems.join('; '));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/**
 * @typedef {object} Config
 * @property {string} host
 * @property {number} port
 * @property {string} version
 * @property {number} failRate      fraction of /orders requests answered with 500
 * @property {boolean} crash        exit before becoming ready (the demo's broken change)
 * @property {number} readyDelayMs  warm-up before /readyz answers 200
 * @property {number} shutdownDelayMs   after SIGTERM, keep serving (not ready) while endpoints update
 * @property {number} shutdownTimeoutMs then wait this long at most for in-flight requests
 * @property {string} logLevel
 */

/**
 * @param {Record<string, string | undefined>} env
 * @returns {Config}
 */
export function loadConfig(env) {
  const problems = [];
  // An empty value (e.g. a ConfigMap key left blank) means the default, as an unset one does.
  const get = (name) => (env[name] === undefined || env[name].trim() === '' ? undefined : env[name].trim());

  const integer = (name, fallback, min, max, example) => {
    const raw = get(name);
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      problems.push(`${name}=${JSON.stringify(raw)} is not a whole number from ${min} to ${max}; set it to e.g. ${example} or unset it (default ${fallback})`);
      return fallback;
    }
    return Number(raw);
  };

  const failRate = (() => {
    const raw = get('FAIL_RATE');
    if (raw === undefined) return 0;
    const n = Number(raw);
    if (!/^[0-9.eE+-]+$/.test(raw) || !Number.isFinite(n) || n < 0 || n > 1) {
      problems.push(`FAIL_RATE=${JSON.stringify(raw)} is not a number from 0 to 1; set it to e.g. 0.1 (one /orders request in ten answers 500) or 0`);
      return 0;
    }
    return n;
  })();

  const crash = (() => {
    const raw = get('CRASH');
    if (raw === undefined || raw === '0' || raw === 'false') return false;
    if (raw === '1' || raw === 'true') return true;
    problems.push(`CRASH=${JSON.stringify(raw)} is neither 0 nor 1; set CRASH=1 to make the process exit before it is ready, or 0`);
    return false;
  })();

  const logLevel = (() => {
    const raw = get('LOG_LEVEL')?.toLowerCase();
    if (raw === undefined) return 'info';
    if (LOG_LEVELS.includes(raw)) return raw;
    problems.push(`LOG_LEVEL=${JSON.stringify(raw)} is not one of ${LOG_LEVELS.join(', ')}; set it to e.g. info`);
    return 'info';
  })();

  const config = {
    host: get('HOST') ?? '0.0.0.0',
    port: integer('PORT', 8080, 0, 65535, '8080'),
    version: get('APP_VERSION') ?? 'dev',
    failRate,
    crash,
    readyDelayMs: integer('READY_DELAY_MS', 1000, 0, 600_000, '1000'),
    shutdownDelayMs: integer('SHUTDOWN_DELAY_MS', 0, 0, 600_000, '3000'),
    shutdownTimeoutMs: integer('SHUTDOWN_TIMEOUT_MS', 10_000, 0, 600_000, '10000'),
    logLevel,
  };
  if (problems.length) throw new ConfigError(problems);
  return config;
}
