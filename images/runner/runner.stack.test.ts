// The runner image as CI systems use it: built on the stack's dockerd, published to its registry,
// its tools at the pinned versions, the CLI as entrypoint, and reaching the stack's dockerd and API
// server the way a job container does (host network, the socket bind-mounted, a kubeconfig file).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { run, withStackEnv } from '../../test/stack/index.ts';
import { ensureRunnerImage, RUNNER_LOCAL_TAG } from './build.ts';

const env = withStackEnv();
const socket = (env.DOCKER_HOST as string).replace(/^unix:\/\//, '');
const pinned = Object.fromEntries(
  readFileSync(join(import.meta.dirname, '..', '..', 'test', 'stack', 'versions.env'), 'utf8')
    .split('\n')
    .filter((l) => /^[A-Z0-9_]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1).trim()]),
);

describe('shipline/runner', () => {
  let ref = '';
  const docker = (args: string[]) => run('docker', args, { env, allowFail: true, timeoutMs: 120_000 });
  const inImage = (args: string[], opts: string[] = []) => docker(['run', '--rm', ...opts, ref, ...args]);
  const shell = (script: string, opts: string[] = []) => docker(['run', '--rm', '--entrypoint', '', ...opts, ref, 'sh', '-c', script]);

  beforeAll(async () => {
    ref = await ensureRunnerImage();
  });

  it('is published to the stack registry under its inputs hash, and a second call reuses it', async () => {
    expect(ref).toMatch(new RegExp(`^${env.SHIPLINE_REGISTRY}/shipline/runner:[0-9a-f]{16}$`));
    const hash = ref.split(':').at(-1);
    const label = await docker(['image', 'inspect', '-f', '{{index .Config.Labels "org.shipline.runner.inputs"}}', ref]);
    expect(label.stdout.trim()).toBe(hash);
    const res = await fetch(`http://${env.SHIPLINE_REGISTRY}/v2/shipline/runner/manifests/${hash}`, {
      method: 'HEAD',
      headers: { Accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' },
    });
    expect(res.status).toBe(200);
    const t0 = performance.now();
    expect(await ensureRunnerImage()).toBe(ref);
    // Nothing rebuilt or pushed: hashing dist/cli and a few docker/registry queries.
    expect(performance.now() - t0).toBeLessThan(5_000);
    const latest = await docker(['image', 'inspect', '-f', '{{.Id}}', RUNNER_LOCAL_TAG]);
    const byRef = await docker(['image', 'inspect', '-f', '{{.Id}}', ref]);
    expect(latest.stdout).toBe(byRef.stdout);
  });

  it('runs shipline as its entrypoint', async () => {
    const help = await inImage(['--help']);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toContain('Usage: shipline <action>');
    for (const action of ['docker-build', 'registry-push', 'k8s-deploy', 'smoke-test', 'rollout-verify']) expect(help.stdout).toContain(action);
  });

  it('has Node 24, the docker CLI with buildx, and kubectl at the pinned versions', async () => {
    const host = await run('docker', ['version', '--format', '{{.Client.Version}}'], { env });
    const r = await shell('node --version && docker version --format "{{.Client.Version}}" 2>/dev/null; docker buildx version && kubectl version --client');
    expect(r.code, r.stderr).toBe(0);
    const [node, dockerVersion] = r.stdout.split('\n');
    expect(node).toMatch(/^v24\./);
    expect(dockerVersion).toBe(host.stdout.trim());
    expect(r.stdout).toContain(`github.com/docker/buildx ${pinned.BUILDX_VERSION}`);
    expect(r.stdout).toContain(`Client Version: ${pinned.K8S_VERSION}`);
  });

  it('has the shell and tools job scripts expect, and works for a uid it does not know (Jenkins runs as the host user)', async () => {
    const r = await shell(
      'set -e; cat /etc/passwd >/dev/null; test -s /etc/ssl/certs/ca-certificates.crt; echo hi > "$HOME/x"; mktemp -p /tmp >/dev/null; id -u; shipline --version',
      ['-u', '4242:4242'],
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('4242\nshipline 0.1.0\n');
  });

  it('rejects a bad input with the one clear error and exit 1', async () => {
    const r = await inImage(['smoke-test', '--url', 'not-a-url']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('input "url": "not-a-url" is not a valid URL');
    expect(r.stderr).toContain('write an absolute URL');
  });

  it('reaches the stack: dockerd through the mounted socket and the API server with a kubeconfig', async () => {
    const server = await run('docker', ['version', '--format', '{{.Server.Version}}'], { env });
    const r = await shell('docker version --format "{{.Server.Version}}" && kubectl get --raw /version', [
      '--network',
      'host',
      '-v',
      `${socket}:/var/run/docker.sock`,
      '-v',
      `${env.KUBECONFIG}:/kubeconfig:ro`,
      '-e',
      'KUBECONFIG=/kubeconfig',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe(server.stdout.trim());
    expect(JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))).gitVersion).toBe(pinned.K8S_VERSION);
  });

  it('shipline-output reads a saved output, multi-line ones too, and fails on a missing one', async () => {
    const saved = 'digest=sha256:abc\nrefs<<__SHIPLINE_EOF__\n[\n  "r:1@sha256:abc"\n]\n__SHIPLINE_EOF__\ncut<<__SHIPLINE_EOF__\nno end\n';
    const script = `printf '%s' "$1" > /tmp/out && shipline-output /tmp/out digest && shipline-output /tmp/out refs && shipline-output /tmp/out "$2"`;
    const ok = await docker(['run', '--rm', '--entrypoint', '', ref, 'sh', '-c', script, 'sh', saved, 'digest']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe('sha256:abc\n[\n  "r:1@sha256:abc"\n]\nsha256:abc\n');
    for (const name of ['missing', 'cut']) {
      const bad = await docker(['run', '--rm', '--entrypoint', '', ref, 'sh', '-c', script, 'sh', saved, name]);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain(`has no complete output "${name}"`);
      expect(bad.stdout).not.toContain('no end');
    }
  });
});
