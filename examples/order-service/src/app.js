// Request handling: a fixed route table, JSON in and out, and the metrics every request records.
// The app holds no process-wide state, so tests can run several side by side.
import { BodyTooLarge, readBody } from './body.js';
import { CONTENT_TYPE, createRegistry } from './metrics.js';
import { createOrderStore } from './orders.js';

export const BODY_LIMIT = 16 * 1024;
const LIST_DEFAULT = 100;
const LIST_MAX = 1000;
const ITEM_MAX = 200;
const EXAMPLE = '{"item": "keyboard", "qty": 1}';
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

class HttpError extends Error {
  constructor(code, message, headers = {}) {
    super(message);
    this.code = code;
    this.headers = headers;
  }
}

/**
 * @param {object} options
 * @param {string} [options.version]
 * @param {number} [options.failRate] fraction of /orders requests answered with 500
 * @param {() => number} [options.random] in [0, 1); injected so tests of FAIL_RATE are deterministic
 * @param {ReturnType<import('./log.js').createLogger>} options.log
 * @param {ReturnType<typeof createOrderStore>} [options.store]
 * @param {() => number} [options.clock] seconds, monotonic
 * @param {number} [options.startTime] seconds since the epoch
 */
export function createApp({
  version = 'dev',
  failRate = 0,
  random = Math.random,
  log,
  store = createOrderStore(),
  clock = () => performance.now() / 1000,
  startTime = Date.now() / 1000,
}) {
  let ready = false;
  let draining = false;

  const registry = createRegistry();
  const requests = registry.counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by route pattern, method and status code.',
    labelNames: ['route', 'method', 'code'],
  });
  const duration = registry.histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from receiving a request to sending the end of its response, by route pattern and method.',
    labelNames: ['route', 'method'],
  });
  registry.gauge({ name: 'orders_in_store', help: 'Orders held in memory by this process.', collect: () => [{ value: store.size }] });
  const created = registry.counter({ name: 'orders_created_total', help: 'Orders created by this process.' });
  const rejected = registry.counter({ name: 'orders_rejected_total', help: 'Order requests refused as invalid, by reason.', labelNames: ['reason'] });
  registry.gauge({
    name: 'order_service_info',
    help: 'Always 1; its label tells which version this process runs.',
    labelNames: ['version'],
    collect: () => [{ labels: { version }, value: 1 }],
  });
  registry.gauge({
    name: 'process_start_time_seconds',
    help: 'Start time of the process since the Unix epoch, in seconds.',
    collect: () => [{ value: startTime }],
  });
  registry.gauge({ name: 'order_service_ready', help: '1 while /readyz answers 200.', collect: () => [{ value: ready && !draining ? 1 : 0 }] });

  // While draining, each response closes its connection (also for requests that arrived before),
  // so keep-alive clients reconnect to another pod and the server can close.
  const writeHead = (res, code, headers) => res.writeHead(code, draining ? { ...headers, connection: 'close' } : headers);

  const json = (res, code, body, headers = {}) => {
    writeHead(res, code, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
    res.end(`${JSON.stringify({ ...body, version })}\n`);
  };

  const routes = [
    {
      pattern: '/healthz',
      methods: {
        // Liveness: answering at all is the signal; a hung event loop fails it.
        GET: (_req, res) => json(res, 200, { status: 'ok' }),
      },
    },
    {
      pattern: '/readyz',
      methods: {
        GET: (_req, res) => {
          const status = draining ? 'draining' : ready ? 'ready' : 'starting';
          json(res, status === 'ready' ? 200 : 503, { status });
        },
      },
    },
    {
      pattern: '/metrics',
      methods: {
        GET: (_req, res) => {
          writeHead(res, 200, { 'content-type': CONTENT_TYPE, 'cache-control': 'no-store' });
          res.end(registry.expose());
        },
      },
    },
    {
      pattern: '/orders',
      failable: true,
      methods: {
        GET: (_req, res, { query }) => {
          const limit = parseLimit(query.get('limit'));
          const orders = store.list(limit);
          json(res, 200, { count: orders.length, orders });
        },
        POST: async (req, res) => {
          let text;
          try {
            text = await readBody(req, BODY_LIMIT);
          } catch (e) {
            if (e instanceof BodyTooLarge) {
              rejected.inc({ reason: 'too_large' });
              // The rest of the body is not read: close the connection rather than reuse it.
              throw new HttpError(413, `${e.message}; an order is a small JSON object like ${EXAMPLE}`, { connection: 'close' });
            }
            throw e;
          }
          const problem = validateOrder(text);
          if (typeof problem === 'string') {
            rejected.inc({ reason: 'invalid' });
            throw new HttpError(400, problem);
          }
          const order = store.add(problem);
          created.inc();
          log.info('order created', { id: order.id, item: order.item, qty: order.qty });
          json(res, 201, { order }, { location: `/orders/${order.id}` });
        },
      },
    },
    {
      pattern: '/orders/:id',
      failable: true,
      methods: {
        GET: (_req, res, { params }) => {
          const order = store.get(params.id);
          if (!order) throw new HttpError(404, `order ${JSON.stringify(params.id.slice(0, 64))} does not exist; GET /orders lists the orders`);
          json(res, 200, { order });
        },
      },
    },
  ];

  /** The route whose pattern matches `path`, with its parameters; undefined for any other path. */
  function match(path) {
    const got = path.split('/');
    for (const route of routes) {
      const params = matchPattern(route.pattern.split('/'), got);
      if (params) return { route, params };
    }
    return undefined;
  }

  async function dispatch(req, res, matched, query) {
    if (!matched) throw new HttpError(404, `no route for ${req.method} ${req.url.slice(0, 200)}; try GET /orders`);
    const { route, params } = matched;
    // HEAD is GET without a body (node drops the body itself).
    const handler = route.methods[req.method] ?? (req.method === 'HEAD' ? route.methods.GET : undefined);
    if (!handler) {
      const allow = Object.keys(route.methods).join(', ');
      throw new HttpError(405, `${route.pattern} does not take ${req.method}; it takes ${allow}`, { allow });
    }
    if (route.failable && failRate > 0 && random() < failRate) {
      throw new HttpError(500, `injected failure (FAIL_RATE=${failRate})`);
    }
    await handler(req, res, { params, query });
  }

  /** The request listener of an http.Server. */
  async function handle(req, res) {
    const started = clock();
    const { path, query } = splitUrl(req.url ?? '/');
    const matched = path === undefined ? undefined : match(path);
    const route = matched?.route.pattern ?? 'other';
    const method = METHODS.has(req.method) ? req.method : 'other';
    res.on('finish', () => {
      const code = String(res.statusCode);
      requests.inc({ route, method, code });
      duration.observe({ route, method }, clock() - started);
      if (log.enabled('debug')) {
        log.debug('request', {
          method: req.method,
          path: (path ?? req.url).slice(0, 200),
          route,
          code: res.statusCode,
          ms: Math.round((clock() - started) * 1000),
        });
      }
    });
    try {
      await dispatch(req, res, matched, query);
    } catch (e) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (e instanceof HttpError) {
        json(res, e.code, { error: e.message }, e.headers);
      } else {
        log.error('request failed', { route, method, error: String(e?.stack ?? e).slice(0, 2000) });
        json(res, 500, { error: 'internal error' });
      }
    }
  }

  return {
    handle,
    registry,
    store,
    /** Start-up work is done: /readyz answers 200. */
    markReady() {
      ready = true;
    },
    /** Shutting down: /readyz answers 503 from now on, and connections are not kept alive. */
    startDraining() {
      draining = true;
    },
    get state() {
      return draining ? 'draining' : ready ? 'ready' : 'starting';
    },
  };
}

function splitUrl(url) {
  // Only origin-form targets ("/path?query") name a route; "*" and absolute forms count as `other`.
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  return { path: path.startsWith('/') ? path : undefined, query: new URLSearchParams(q < 0 ? '' : url.slice(q + 1)) };
}

/** `:name` segments match any non-empty segment; the others match themselves. */
function matchPattern(want, got) {
  if (want.length !== got.length) return undefined;
  const params = {};
  for (const [i, w] of want.entries()) {
    const segment = /** @type {string} */ (got[i]);
    if (w.startsWith(':') && segment !== '') params[w.slice(1)] = decodeSegment(segment);
    else if (w !== segment) return undefined;
  }
  return params;
}

function decodeSegment(segment) {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function parseLimit(raw) {
  if (raw === null) return LIST_DEFAULT;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > LIST_MAX) {
    throw new HttpError(400, `limit=${JSON.stringify(raw.slice(0, 32))} is not a whole number from 1 to ${LIST_MAX}; e.g. /orders?limit=10`);
  }
  return Number(raw);
}

/** The order a body asks for, or a sentence saying what is wrong with it. */
export function validateOrder(text) {
  let body;
  try {
    body = JSON.parse(text);
  } catch (e) {
    return `the body is not valid JSON (${e.message.slice(0, 120)}); send ${EXAMPLE}`;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return `the body must be a JSON object like ${EXAMPLE}`;
  const { item, qty } = body;
  if (item === undefined) return `"item" is missing; send ${EXAMPLE}`;
  if (typeof item !== 'string' || item.trim() === '') return `"item" must be a non-empty string, e.g. "keyboard"`;
  if (item.length > ITEM_MAX) return `"item" is longer than ${ITEM_MAX} characters`;
  if (qty === undefined) return `"qty" is missing; send ${EXAMPLE}`;
  if (!Number.isSafeInteger(qty) || qty < 1) return `"qty" must be a positive whole number (a JSON number such as 1), got ${JSON.stringify(qty)?.slice(0, 40)}`;
  return { item: item.trim(), qty };
}
