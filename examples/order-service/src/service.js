// The service's life: listen, warm up, become ready; on shutdown stop being ready, keep serving
// while load balancers notice, then finish in-flight requests and close.
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { createApp } from './app.js';

/**
 * @param {import('./config.js').Config} config
 * @param {object} deps
 * @param {ReturnType<import('./log.js').createLogger>} deps.log
 * @param {() => number} [deps.random]
 * @param {() => Promise<void>} [deps.warmUp] start-up work before /readyz answers 200
 */
export async function startService(config, { log, random, warmUp = () => sleep(config.readyDelayMs) }) {
  const app = createApp({ version: config.version, failRate: config.failRate, random, log });
  const server = http.createServer({ keepAliveTimeout: 5000 }, app.handle);
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  log.info('listening', { address, port, version: config.version, failRate: config.failRate, readyDelayMs: config.readyDelayMs, crash: config.crash });

  let stopping;
  const warmedUp = (async () => {
    await warmUp();
    if (stopping) return;
    app.markReady();
    log.info('ready', { version: config.version });
  })();

  /** Graceful stop; resolves true when every in-flight request finished in time. */
  function shutdown(reason) {
    stopping ??= (async () => {
      app.startDraining();
      log.info('shutting down', { reason, delayMs: config.shutdownDelayMs, timeoutMs: config.shutdownTimeoutMs });
      // Endpoints and proxies learn of the pod's end a moment after SIGTERM; serve meanwhile.
      if (config.shutdownDelayMs > 0) await sleep(config.shutdownDelayMs);
      const closed = new Promise((resolve) => server.close(() => resolve(true)));
      server.closeIdleConnections();
      const timer = new Promise((resolve) => setTimeout(resolve, config.shutdownTimeoutMs, false).unref());
      const finished = await Promise.race([closed, timer]);
      if (!finished) {
        log.warn('in-flight requests did not finish in time; closing their connections', { timeoutMs: config.shutdownTimeoutMs });
        server.closeAllConnections();
        await closed;
      }
      log.info('stopped', { reason, graceful: finished });
      return finished;
    })();
    return stopping;
  }

  return { app, server, port, address, warmedUp, shutdown };
}
