// The GitLab dotenv writer: exact bytes of the file and of what goes beside it.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../../test/support/run-action.ts';
import { DOTENV_VALUE_BYTES, dotenvKey, planDotenv, writeDotenv } from '../src/dotenv.ts';

const dir = mkdtempSync(join(tmpdir(), 'shipline-dotenv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('dotenv keys', () => {
  it.each([
    ['docker-build', 'image-id', 'DOCKER_BUILD_IMAGE_ID'],
    ['smoke-test', 'p50-ms', 'SMOKE_TEST_P50_MS'],
    ['rollout-verify', 'failed-resources', 'ROLLOUT_VERIFY_FAILED_RESOURCES'],
  ])('%s %s → %s', (action, output, key) => expect(dotenvKey(action, output)).toBe(key));
});

describe('planDotenv', () => {
  const plan = (outputs: [string, string][]) => planDotenv('docker-build', outputs, 'out', 'shipline');

  it('a multi-line list becomes one comma-separated line', () => {
    expect(plan([['tags', '127.0.0.1:5000/shop/orders:sha-1a2b3c4\n127.0.0.1:5000/shop/orders:main\n']])).toEqual({
      lines: ['DOCKER_BUILD_TAGS=127.0.0.1:5000/shop/orders:sha-1a2b3c4,127.0.0.1:5000/shop/orders:main'],
      files: [],
    });
  });

  it('JSON, indented or not, is written on one line', () => {
    expect(plan([['digests', '{\n  "linux/amd64": "sha256:aa"\n}']]).lines).toEqual(['DOCKER_BUILD_DIGESTS={"linux/amd64":"sha256:aa"}']);
    expect(plan([['refs', '["r/a:1@sha256:aa"]']]).lines).toEqual(['DOCKER_BUILD_REFS=["r/a:1@sha256:aa"]']);
  });

  it('an oversized value goes to a file, written as it was, and the dotenv names the file', () => {
    const big = JSON.stringify([{ kind: 'Deployment', name: 'x'.repeat(DOTENV_VALUE_BYTES) }], null, 2);
    expect(plan([['metadata', big]])).toEqual({
      lines: ['DOCKER_BUILD_METADATA_FILE=out/shipline-docker-build-metadata.json'],
      files: [{ path: 'out/shipline-docker-build-metadata.json', content: big }],
    });
  });

  it('documents that grow with the work always go to a file, whatever their size', () => {
    expect(planDotenv('k8s-deploy', [['resources', '[]']], '.', 'shipline')).toEqual({
      lines: ['K8S_DEPLOY_RESOURCES_FILE=shipline-k8s-deploy-resources.json'],
      files: [{ path: 'shipline-k8s-deploy-resources.json', content: '[]' }],
    });
  });

  it.each([
    ['a # that dotenv parsers read as a comment', 'x #1'],
    ['a leading quote they strip', '"quoted"'],
    ['blanks they trim', ' padded '],
    ['list items holding commas', 'a,b\nc'],
    ['a carriage return', 'a\rb'],
  ])('%s goes to a file', (_why, value) => {
    expect(plan([['tags', value]])).toEqual({
      lines: ['DOCKER_BUILD_TAGS_FILE=out/shipline-docker-build-tags.txt'],
      files: [{ path: 'out/shipline-docker-build-tags.txt', content: value }],
    });
  });

  it('keeps the whole file within GitLab budget: later values spill once it is used up', () => {
    const outputs: [string, string][] = Array.from({ length: 6 }, (_, i) => [`o${i}`, 'v'.repeat(900)]);
    const p = planDotenv('registry-push', outputs, 'out', 'shipline');
    expect(p.lines.filter((l) => l.includes('_FILE=')).length).toBe(2);
    expect(Buffer.byteLength(p.lines.join('\n'))).toBeLessThan(4096);
  });

  it('empty values stay empty lines of their own', () => expect(plan([['image-id', '']]).lines).toEqual(['DOCKER_BUILD_IMAGE_ID=']));
});

describe('writeDotenv', () => {
  it('appends the exact bytes and writes spilled files beside the dotenv', () => {
    const path = join(dir, 'shipline.env');
    writeFileSync(path, 'EARLIER=1\n');
    const resources = JSON.stringify(Array.from({ length: 20 }, (_, i) => ({ kind: 'ConfigMap', name: `cm-${i}`, namespace: 'e2e' })));
    writeDotenv(path, 'k8s-deploy', [
      ['resources', resources],
      ['namespace', 'e2e'],
      ['changed', 'true'],
    ]);
    const spilled = join(dir, 'shipline-k8s-deploy-resources.json');
    expect(readFileSync(path, 'utf8')).toBe(`EARLIER=1\nK8S_DEPLOY_RESOURCES_FILE=${spilled}\nK8S_DEPLOY_NAMESPACE=e2e\nK8S_DEPLOY_CHANGED=true\n`);
    expect(readFileSync(spilled, 'utf8')).toBe(resources);
  });

  it('writes nothing when there are no outputs', () => {
    const path = join(dir, 'none.env');
    writeDotenv(path, 'smoke-test', []);
    expect(existsSync(path)).toBe(false);
  });
});

describe('through the CLI under GITLAB_CI=true', () => {
  it('smoke-test against a loopback server appends its outputs to $SHIPLINE_DOTENV, results in a file', async () => {
    const server = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const path = join(dir, 'cli.env');
    try {
      const node = join(repoRoot, 'node_modules', '.bin', 'node');
      const main = join(repoRoot, 'packages', 'cli', 'src', 'main.ts');
      const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(node, [main, 'smoke-test', '--url', url], { env: { ...process.env, GITLAB_CI: 'true', SHIPLINE_DOTENV: path } });
        let stderr = '';
        child.stderr.on('data', (d) => (stderr += d));
        child.on('close', (code) => resolve({ code, stderr }));
      });
      expect(r.code, r.stderr).toBe(0);
    } finally {
      server.close();
    }
    const lines = readFileSync(path, 'utf8').split('\n');
    expect(lines[0]).toBe('SMOKE_TEST_PASSED=true');
    const results = join(dir, 'cli-smoke-test-results.json');
    expect(lines[1]).toBe(`SMOKE_TEST_RESULTS_FILE=${results}`);
    expect(JSON.parse(readFileSync(results, 'utf8'))).toEqual([expect.objectContaining({ target: url, passed: true, status: 200 })]);
    expect(lines.slice(2)).toEqual([expect.stringMatching(/^SMOKE_TEST_P50_MS=\d+(\.\d+)?$/), expect.stringMatching(/^SMOKE_TEST_P95_MS=\d+(\.\d+)?$/), '']);
  });
});
