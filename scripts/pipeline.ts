// `./dev pipeline`: the delivery pipeline of examples/order-service on the local stack, every stage
// through the bundled `shipline` CLI, each stage's outputs feeding the next with no glue but JSON:
//   stack up → docker-build → registry-push → k8s-deploy → rollout-verify → smoke-test (through the
//   API server proxy)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { up, withStackEnv } from '../test/stack/index.ts';
import { parseOutputFile } from '../test/support/run-action.ts';

const root = resolve(import.meta.dirname, '..');
const cli = join(root, 'dist', 'cli', 'index.js');

function stage(name: string): void {
  console.error(`\n\x1b[1m==> ${name}\x1b[0m`);
}

/** Runs `shipline <args>` and returns its outputs (name=value lines on stdout). */
function shipline(args: string[], stackEnv: NodeJS.ProcessEnv): Record<string, string> {
  // The CLI reads secret inputs from SHIPLINE_<INPUT>: the stack's registry password (for its TLS
  // registry) is not k8s-deploy's `registry-password`, which would ask for an image-pull-secret.
  const { SHIPLINE_REGISTRY_PASSWORD: _, ...env } = stackEnv;
  const r = spawnSync(process.execPath, [cli, ...args], { env, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  const outputs = parseOutputFile(r.stdout);
  if (r.status !== 0) {
    console.error(`==> pipeline FAILED at: shipline ${args[0]} (exit ${r.status})`);
    process.exit(r.status ?? 1);
  }
  return outputs;
}

stage('local stack (test/stack): dockerd, registries, Kubernetes, Prometheus');
await up();
const env = withStackEnv();
const registry = env.SHIPLINE_REGISTRY as string;
const version = `pipeline-${Date.now().toString(36)}`;
const layout = mkdtempSync(join(tmpdir(), 'shipline-pipeline-'));

try {
  stage('docker-build');
  const built = shipline(
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
      '--oci-layout',
      join(layout, 'oci'),
    ],
    env,
  );

  stage('registry-push');
  const pushed = shipline(['registry-push', '--oci-layout', built['oci-layout'] as string, '--destinations', built.tags as string], env);

  stage('k8s-deploy');
  const deployed = shipline(
    [
      'k8s-deploy',
      '--manifests',
      join(root, 'examples', 'order-service', 'k8s'),
      '--images',
      pushed.refs as string,
      '--vars',
      `APP_VERSION=${version}`,
      '--namespace',
      'demo',
      '--create-namespace',
      'true',
    ],
    env,
  );

  stage('rollout-verify');
  const verified = shipline(['rollout-verify', '--resources', deployed.resources as string, '--timeout', '3m'], env);

  stage('smoke-test through the API server proxy');
  shipline(
    [
      'smoke-test',
      '--service',
      'demo/order-service:8080/healthz',
      '--service',
      'demo/order-service:8080/orders',
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
  );
  console.error(
    `\n==> pipeline passed: ${pushed.digest} serving as demo/order-service (${JSON.parse(deployed.resources as string).length} objects applied, rollout ${verified.status} in ${verified['duration-ms']} ms)`,
  );
} finally {
  rmSync(layout, { recursive: true, force: true });
}
