// Cold start of each bundled action (load + input validation, no work) against `node -e 0`,
// and bundle size. Prints one ratio line per action. Not a test: nothing here asserts a time.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { median } from './lib/stats.ts';

const root = resolve(import.meta.dirname, '..');
const runs = Number(process.env.BENCH_RUNS ?? 21);

// Valid inputs for each action, enough to pass validation; SHIPLINE_VALIDATE_ONLY stops before work.
const sampleInputs: Record<string, Record<string, string>> = {
  'smoke-test': { url: 'http://127.0.0.1:9/healthz', 'expect-status': '200', 'expect-json': '$.status = "ok"', timeout: '5s' },
  'docker-build': {
    context: join(root, 'examples', 'order-service'),
    image: '127.0.0.1:5000/shop/orders',
    'build-args': 'BASE_IMAGE=127.0.0.1:5000/shipline/node:24',
    secrets: 'npm_token=not-a-real-token',
    cache: 'local',
    'cache-dir': join(root, '.buildx-cache'),
  },
  'registry-push': {
    image: 'order-service:dev',
    destinations: '127.0.0.1:5000/shop/orders:1\n127.0.0.1:5001/shop/orders:1',
    registry: '127.0.0.1:5001',
    username: 'ci',
    password: 'not-a-real-password',
  },
  'k8s-deploy': {
    manifests: join(root, 'examples', 'order-service', 'k8s'),
    images: '127.0.0.1:5000/demo/order-service:1',
    namespace: 'demo',
    vars: 'APP_VERSION=1',
  },
  'rollout-verify': {
    resources: '[{"apiVersion":"apps/v1","kind":"Deployment","namespace":"demo","name":"order-service","revision":{"before":"1","after":"2"}}]',
    timeout: '3m',
    'rollback-on-failure': 'true',
  },
};

function time(args: string[], env: NodeJS.ProcessEnv): number {
  const t = performance.now();
  const r = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stdout}${r.stderr}`);
  return ms;
}

const actions = readdirSync(join(root, 'dist')).filter((n) => n !== 'cli' && sampleInputs[n]);
for (const name of readdirSync(join(root, 'dist'))) {
  if (name !== 'cli' && !sampleInputs[name]) process.stderr.write(`startup/${name}: no sample inputs in bench/startup.ts, skipped\n`);
}
const baseEnv = { PATH: process.env.PATH, SHIPLINE_VALIDATE_ONLY: 'true' };
for (const name of actions) {
  const env: NodeJS.ProcessEnv = { ...baseEnv };
  for (const [k, v] of Object.entries(sampleInputs[name] ?? {})) env[`INPUT_${k.toUpperCase()}`] = v;
  const bundle = join(root, 'dist', name, 'index.js');
  const ours: number[] = [];
  const bare: number[] = [];
  // Interleaved, so load on the machine hits both sides alike.
  for (let i = 0; i < runs; i++) {
    bare.push(time(['-e', '0'], baseEnv));
    ours.push(time([bundle], env));
  }
  const a = median(ours);
  const b = median(bare);
  const kb = statSync(bundle).size / 1024;
  console.log(
    `startup/${name}: ratio=${(a / b).toFixed(2)} (shipline ${(a / 1000).toFixed(3)} s, other ${(b / 1000).toFixed(3)} s) bundle=${kb.toFixed(1)} KB, node ${process.version}, median of ${runs}`,
  );
}
