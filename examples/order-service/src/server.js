// Entry point: `node src/server.js`. Reads the environment, starts the service, and turns signals
// into a graceful shutdown. CRASH=1 makes the demo's broken change: exit before ever being ready.
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './log.js';
import { startService } from './service.js';

const CRASH_AFTER_MS = 1000;

let config;
try {
  config = loadConfig(process.env);
} catch (e) {
  if (!(e instanceof ConfigError)) throw e;
  const log = createLogger();
  for (const problem of e.problems) log.error(`invalid configuration: ${problem}`);
  process.exit(1);
}

const log = createLogger({ level: config.logLevel });
let service;
try {
  service = await startService(config, {
    log,
    // A crashing build never finishes its warm-up, so it is never ready.
    warmUp: config.crash ? () => new Promise(() => {}) : undefined,
  });
} catch (e) {
  const hint = e.code === 'EADDRINUSE' ? '; another process uses it: stop it or set PORT to a free port' : '';
  log.error(`cannot listen on ${config.host}:${config.port}: ${e.code ?? e.message}${hint}`);
  process.exit(1);
}

if (config.crash) {
  setTimeout(() => {
    log.error('CRASH=1 is set (a build argument of the image): exiting before becoming ready, on purpose', { exitCode: 1, version: config.version });
    process.exit(1);
  }, CRASH_AFTER_MS);
}

let signals = 0;
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, async () => {
    signals += 1;
    if (signals > 1) {
      log.warn('second signal: exiting without waiting', { signal });
      process.exit(130);
    }
    const graceful = await service.shutdown(signal);
    process.exit(graceful ? 0 : 1);
  });
}
