// The demo service of Shipline's pipeline: a tiny order API with health and Prometheus metrics.
import http from 'node:http';

const port = Number(process.env.PORT ?? 8080);
const version = process.env.APP_VERSION ?? 'dev';
const failRate = Number(process.env.FAIL_RATE ?? 0);
const orders = [
  { id: 1, item: 'keyboard', qty: 1 },
  { id: 2, item: 'cable', qty: 3 },
];
const counts = new Map();

function send(res, code, body) {
  counts.set(code, (counts.get(code) ?? 0) + 1);
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname === '/healthz') return send(res, 200, { status: 'ok', version });
  if (url.pathname === '/metrics') {
    const lines = ['# TYPE http_requests_total counter'];
    for (const [code, n] of counts) lines.push(`http_requests_total{code="${code}"} ${n}`);
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    return res.end(`${lines.join('\n')}\n`);
  }
  if (failRate > 0 && Math.random() < failRate) return send(res, 500, { error: 'injected failure' });
  if (url.pathname === '/orders' && req.method === 'GET') return send(res, 200, { orders, version });
  if (url.pathname === '/orders' && req.method === 'POST') {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      try {
        const o = JSON.parse(body);
        const order = { id: orders.length + 1, item: String(o.item), qty: Number(o.qty ?? 1) };
        orders.push(order);
        send(res, 201, order);
      } catch {
        send(res, 400, { error: 'body must be JSON' });
      }
    });
    return;
  }
  send(res, 404, { error: 'not found' });
});

server.listen(port, () => console.log(`order-service ${version} listening on :${port}`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
