// `./dev pipeline`: the delivery pipeline of examples/order-service, as far as Shipline has built it.
// Today: the service is started and checked by the bundled `shipline smoke-test`. The stages
// before it (docker-build, registry-push, k8s-deploy on the local stack) and after it
// (rollout-verify) join here as they land.
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

const port = await freePort();
console.error(`==> starting examples/order-service on 127.0.0.1:${port}`);
const service = spawn(process.execPath, [join(root, 'examples', 'order-service', 'server.js')], {
  env: { ...process.env, PORT: String(port), APP_VERSION: 'pipeline' },
  stdio: ['ignore', 'inherit', 'inherit'],
});
let code = 1;
try {
  console.error('==> smoke-test (shipline CLI, bundled)');
  const r = spawnSync(
    process.execPath,
    [
      join(root, 'dist', 'cli', 'index.js'),
      'smoke-test',
      '--url',
      `http://127.0.0.1:${port}/healthz`,
      '--url',
      `http://127.0.0.1:${port}/orders`,
      '--expect-status',
      '200',
      '--expect-json',
      '$.version = "pipeline"',
      '--consecutive-successes',
      '3',
      '--interval',
      '200ms',
      '--deadline',
      '30s',
    ],
    { stdio: 'inherit' },
  );
  code = r.status ?? 1;
  console.error(code === 0 ? '==> pipeline passed (stages built so far: smoke-test)' : '==> pipeline FAILED');
} finally {
  service.kill('SIGTERM');
}
process.exit(code);
