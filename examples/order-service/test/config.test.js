import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

const problemsOf = (env) => {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
};

describe('loadConfig', () => {
  it('has defaults for everything', () => {
    expect(loadConfig({})).toEqual({
      host: '0.0.0.0',
      port: 8080,
      version: 'dev',
      failRate: 0,
      crash: false,
      readyDelayMs: 1000,
      shutdownDelayMs: 0,
      shutdownTimeoutMs: 10_000,
      logLevel: 'info',
    });
  });

  it('reads each variable, an empty value meaning the default', () => {
    expect(
      loadConfig({
        PORT: '9000',
        APP_VERSION: 'v2',
        FAIL_RATE: '0.25',
        CRASH: '1',
        READY_DELAY_MS: '0',
        SHUTDOWN_DELAY_MS: '3000',
        SHUTDOWN_TIMEOUT_MS: '',
        LOG_LEVEL: 'DEBUG',
      }),
    ).toMatchObject({
      port: 9000,
      version: 'v2',
      failRate: 0.25,
      crash: true,
      readyDelayMs: 0,
      shutdownDelayMs: 3000,
      shutdownTimeoutMs: 10_000,
      logLevel: 'debug',
    });
    expect(loadConfig({ FAIL_RATE: '1', CRASH: 'false' })).toMatchObject({ failRate: 1, crash: false });
    expect(loadConfig({ FAIL_RATE: '1e-1' }).failRate).toBe(0.1);
  });

  it.each(['abc', '-0.1', '1.5', 'NaN', 'Infinity', '0x1', '50%'])('rejects FAIL_RATE=%s with one sentence saying what to write', (value) => {
    expect(problemsOf({ FAIL_RATE: value })).toEqual([
      `FAIL_RATE=${JSON.stringify(value)} is not a number from 0 to 1; set it to e.g. 0.1 (one /orders request in ten answers 500) or 0`,
    ]);
  });

  it.each([
    [{ PORT: '70000' }, 'PORT="70000" is not a whole number from 0 to 65535'],
    [{ READY_DELAY_MS: '1s' }, 'READY_DELAY_MS="1s" is not a whole number'],
    [{ SHUTDOWN_TIMEOUT_MS: '-5' }, 'SHUTDOWN_TIMEOUT_MS="-5"'],
    [{ CRASH: 'yes' }, 'CRASH="yes" is neither 0 nor 1'],
    [{ LOG_LEVEL: 'verbose' }, 'LOG_LEVEL="verbose" is not one of debug, info, warn, error'],
  ])('rejects %o', (env, message) => {
    const problems = problemsOf(env);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(message);
  });

  it('reports every bad variable at once', () => {
    expect(problemsOf({ FAIL_RATE: 'x', PORT: 'y' }).map((p) => p.split('=')[0])).toEqual(['FAIL_RATE', 'PORT']);
  });
});
