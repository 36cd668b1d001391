// `./dev pipeline`: the delivery of examples/order-service on the local stack, in the order of the
// chain (.github/workflows/deliver.yml), every stage through the bundled `shipline` CLI and each
// stage's outputs feeding the next with no glue but the CLI's `name=value` outputs:
//   stack up → docker-build → registry-push → k8s-deploy → rollout-verify → smoke-test
// (the verdict first: right after the apply the Service still routes to the old pods, so a smoke
// test before it would check the previous version).
// It ends with a report: the digest, each stage's time, the verdict and how to reach the service.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { up, withStackEnv } from '../test/stack/index.ts';
import { parseOutputFile } from '../test/support/run-action.ts';

const root = resolve(import.meta.dirname, '..');
const cli = join(root, 'dist', 'cli', 'index.js');
const NAMESPACE = 'demo';
const SERVICE = 'order-service';

const timings: { stage: string; seconds: number }[] = [];

async function stage<T>(name: string, work: () => T | Promise<T>): Promise<T> {
  console.error(`\n\x1b[1m==> ${name}\x1b[0m`);
  const t0 = performance.now();
  try {
    return await work();
  } finally {
    timings.push({ stage: name, seconds: (performance.now() - t0) / 1000 });
  }
}

/** Runs `shipline <args>` and returns its outputs (name=value lines on stdout). */
function shipline(args: string[], stackEnv: NodeJS.ProcessEnv): Record<string, string> {
  // The CLI reads secret inputs from SHIPLINE_<INPUT>: the stack's registry password (for its TLS
  // registry) is not k8s-deploy's `registry-password`, which would ask for an image-pull-secret.
  const { SHIPLINE_REGISTRY_PASSWORD: _, ...env } = stackEnv;
  const r = spawnSync(process.execPath, [cli, ...args], { env, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  const outputs = parseOutputFile(r.stdout);
  if (r.status !== 0) {
    report(`FAILED at ${args[0]} (exit ${r.status})`);
    process.exit(r.status ?? 1);
  }
  return outputs;
}

function report(verdict: string, facts: [string, string][] = []): void {
  const width = Math.max(...timings.map((t) => t.stage.length));
  const lines = [
    '',
    '\x1b[1m==> report\x1b[0m',
    ...facts.map(([k, v]) => `  ${(k ? `${k}:` : '').padEnd(10)} ${v}`),
    '  stages:',
    ...timings.map((t) => `    ${t.stage.padEnd(width)}  ${t.seconds.toFixed(1).padStart(6)} s`),
    `  verdict:   ${verdict}`,
  ];
  console.error(lines.join('\n'));
}

await stage('stack up', () => up());
const env = withStackEnv();
const registry = env.SHIPLINE_REGISTRY as string;
const version = `pipeline-${Date.now().toString(36)}`;
const layout = mkdtempSync(join(tmpdir(), 'shipline-pipeline-'));

try {
  const built = await stage('docker-build', () =>
    shipline(
      [
        'docker-build',
        '--context',
        join(root, 'examples', 'order-service'),
        '--image',
        `${registry}/demo/order-service`,
        '--tags',
        `type=raw,value=${version}`,
        '--build-args',
        `BASE_IMAGE=${env.SHIPLINE_NODE_IMAGE}`,
        '--build-args',
        `APP_VERSION=${version}`,
        '--oci-layout',
        join(layout, 'oci'),
      ],
      env,
    ),
  );

  const pushed = await stage('registry-push', () =>
    shipline(['registry-push', '--oci-layout', built['oci-layout'] as string, '--destinations', built.tags as string], env),
  );

  const deployed = await stage('k8s-deploy', () =>
    shipline(
      [
        'k8s-deploy',
        '--manifests',
        join(root, 'examples', 'order-service', 'k8s'),
        '--images',
        pushed.refs as string,
        '--vars',
        `APP_VERSION=${version}`,
        '--namespace',
        NAMESPACE,
        '--create-namespace',
        'true',
      ],
      env,
    ),
  );

  const verified = await stage('rollout-verify', () => shipline(['rollout-verify', '--resources', deployed.resources as string, '--timeout', '3m'], env));

  await stage('smoke-test', () =>
    shipline(
      [
        'smoke-test',
        '--service',
        `${NAMESPACE}/${SERVICE}:8080/readyz`,
        '--service',
        `${NAMESPACE}/${SERVICE}:8080/orders`,
        '--expect-json',
        `$.version = "${version}"`,
        '--consecutive-successes',
        '3',
        '--interval',
        '500ms',
        '--deadline',
        '3m',
      ],
      env,
    ),
  );

  const objects = (JSON.parse(deployed.resources as string) as unknown[]).length;
  report(`${verified.status} (${objects} objects applied, rollout verified in ${verified['duration-ms']} ms)`, [
    ['digest', pushed.digest as string],
    ['image', (JSON.parse(pushed.refs as string) as string[])[0] as string],
    ['version', version],
    ['service', `${NAMESPACE}/${SERVICE}, reach it with:`],
    ['', `kubectl -n ${NAMESPACE} port-forward svc/${SERVICE} 8080:8080 & curl -s http://127.0.0.1:8080/orders`],
    ['', `or: kubectl proxy --port 8001 & curl -s http://127.0.0.1:8001/api/v1/namespaces/${NAMESPACE}/services/${SERVICE}:8080/proxy/orders`],
    ['', `(first: eval "$(pnpm -s stack env)")`],
  ]);
} finally {
  rmSync(layout, { recursive: true, force: true });
}
