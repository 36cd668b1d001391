import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from './lib/proc.ts';
import { need, sh, tempDir, uniq } from './test-helpers.ts';

describe('dockerd and the registries', () => {
  it('answers docker info', async () => {
    const info = JSON.parse(await sh('docker', ['info', '--format', '{{json .}}'])) as { ServerVersion: string; Driver: string };
    expect(info.ServerVersion).toMatch(/^\d+\.\d+/);
    expect(info.Driver).toBe('overlay2');
  });

  it('builds a FROM-scratch context and pushes it to both registries (skopeo verifies)', async () => {
    const ctx = tempDir('scratch');
    const marker = uniq();
    writeFileSync(join(ctx, 'hello.txt'), `hello ${marker}\n`);
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\n');
    const regA = need('SHIPLINE_REGISTRY');
    const regB = need('SHIPLINE_REGISTRY_TLS');
    const tagA = `${regA}/stack-test/scratch:${marker}`;
    const tagB = `${regB}/stack-test/scratch:${marker}`;
    await sh('docker', ['build', '-t', tagA, ctx]);
    await sh('docker', ['tag', tagA, tagB]);

    await sh('docker', ['push', tagA]);
    const digestA = (await sh('docker', ['image', 'inspect', '-f', '{{range .RepoDigests}}{{println .}}{{end}}', tagA]))
      .split('\n')
      .find((d) => d.startsWith(`${regA}/stack-test/scratch@`))
      ?.split('@')[1];
    expect(digestA).toMatch(/^sha256:[0-9a-f]{64}$/);
    const inspA = JSON.parse(await sh('skopeo', ['inspect', '--tls-verify=false', `docker://${tagA}`])) as { Digest: string };
    expect(inspA.Digest).toBe(digestA);

    // Registry B: TLS from the stack's CA and htpasswd auth. A private docker config keeps the
    // login out of the user's ~/.docker; skopeo reads the same auth file.
    const dockerConfig = tempDir('docker-config');
    const env = { ...process.env, DOCKER_CONFIG: dockerConfig };
    await sh('docker', ['login', '--username', need('SHIPLINE_REGISTRY_USER'), '--password-stdin', regB], {
      env,
      input: need('SHIPLINE_REGISTRY_PASSWORD'),
    });
    await sh('docker', ['push', tagB], { env });
    const certDir = tempDir('ca');
    writeFileSync(join(certDir, 'ca.crt'), await sh('cat', [need('SHIPLINE_REGISTRY_CA')]));
    const authfile = join(dockerConfig, 'config.json');
    const inspB = JSON.parse(await sh('skopeo', ['inspect', '--cert-dir', certDir, '--authfile', authfile, `docker://${tagB}`])) as { Digest: string };
    expect(inspB.Digest).toBe(digestA);

    // Both guards are real: no credentials is refused, and the CA is what makes TLS verify.
    const noAuth = await run('skopeo', ['inspect', '--cert-dir', certDir, '--no-creds', `docker://${tagB}`], { allowFail: true });
    expect(noAuth.code).not.toBe(0);
    expect(noAuth.stderr).toMatch(/unauthorized|authentication required|401/i);
    // (skopeo would also read /etc/docker/certs.d, where `up` installs the CA for dockerd.)
    const noCA = await run('skopeo', ['inspect', '--cert-dir', tempDir('no-ca'), '--authfile', authfile, `docker://${tagB}`], { allowFail: true });
    expect(noCA.code).not.toBe(0);
    expect(noCA.stderr).toMatch(/x509|certificate/i);
  });

  it('runs node -e in a container of the Node base image', async () => {
    const out = await sh('docker', ['run', '--rm', need('SHIPLINE_NODE_IMAGE'), 'node', '-e', 'console.log(JSON.stringify({v: process.version, a: 6 * 7}))']);
    const res = JSON.parse(out.trim()) as { v: string; a: number };
    expect(res.v).toMatch(/^v24\./);
    expect(res.a).toBe(42);
  });

  it('has buildx installed as a docker CLI plugin', async () => {
    expect(await sh('docker', ['buildx', 'version'])).toMatch(/github\.com\/docker\/buildx v0\.\d+/);
  });

  it('builds with a docker-container buildx builder from the locally made buildkit image', async () => {
    const builder = `stack-test-${uniq()}`;
    const ctx = tempDir('bk');
    writeFileSync(
      join(ctx, 'Dockerfile'),
      `FROM ${need('SHIPLINE_NODE_IMAGE')}\nRUN ["node", "-e", "require('fs').writeFileSync('/built', 'by buildkitd')"]\n`,
    );
    const tag = `${need('SHIPLINE_REGISTRY')}/stack-test/buildkit:${uniq()}`;
    try {
      // Host network: 127.0.0.1:5000 must be the registry, not the builder's own loopback.
      await sh('docker', ['buildx', 'create', '--name', builder, '--driver', 'docker-container', '--driver-opt', 'network=host', '--bootstrap']);
      await sh('docker', ['buildx', 'build', '--builder', builder, '--provenance=false', '-t', tag, '--output', 'type=image,push=true', ctx]);
      const insp = JSON.parse(await sh('skopeo', ['inspect', '--tls-verify=false', `docker://${tag}`])) as { Layers: string[] };
      expect(insp.Layers.length).toBeGreaterThanOrEqual(2);
      const image = (await sh('docker', ['inspect', '-f', '{{.Config.Image}}', `buildx_buildkit_${builder}0`])).trim();
      expect(image).toBe('moby/buildkit:buildx-stable-1');
    } finally {
      await run('docker', ['buildx', 'rm', builder], { allowFail: true });
    }
  });
});
