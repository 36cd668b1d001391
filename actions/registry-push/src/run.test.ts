import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryHost, parseInputs } from '@shipline/kit';
import type { ImageSource, PushResult } from '@shipline/oci';
import { describe, expect, it } from 'vitest';
import { type Inputs, schema, validate } from './inputs.ts';
import { type PushRequest, type Registry, run, type SourceSpec, sourceSpec } from './run.ts';

const layoutDir = mkdtempSync(join(tmpdir(), 'shipline-rp-run-'));
writeFileSync(join(layoutDir, 'index.json'), '{"schemaVersion":2,"manifests":[]}');

function inputsOf(raw: Record<string, string>): Inputs {
  const i = parseInputs(schema, (n) => raw[n]);
  validate(i);
  return i;
}

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;

/** A registry that records what run() asked of it and plays back a push's progress. */
class FakeRegistry implements Registry {
  readonly opened: SourceSpec[] = [];
  readonly requests: PushRequest[] = [];
  closed = 0;
  private readonly play: (r: PushRequest) => void;
  private readonly fail: Error | undefined;
  constructor(play: (r: PushRequest) => void = () => {}, fail?: Error) {
    this.play = play;
    this.fail = fail;
  }

  async open(spec: SourceSpec, log: { info(line: string): void }): Promise<ImageSource> {
    this.opened.push(spec);
    log.info('reader note');
    return {
      description: spec.kind === 'oci-layout' ? `oci-layout:${spec.path}` : `docker:${spec.image}`,
      blobs: async function* () {},
      manifests: async () => {
        throw new Error('not read by run()');
      },
      close: async () => {
        this.closed++;
      },
    };
  }

  async push(r: PushRequest): Promise<PushResult> {
    this.requests.push(r);
    this.play(r);
    if (this.fail) throw this.fail;
    return {
      digest: A,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      refs: r.destinations.map((d) => `${d}@${A}`),
      pushedBytes: 2048,
      reusedBlobs: 1,
      uploadedBlobs: 1,
      durationMs: 12,
    };
  }
}

function harness(raw: Record<string, string>, registry: Registry, dockerHost?: string) {
  const host = new MemoryHost();
  const masked: string[] = [];
  const go = () => run(inputsOf(raw), { registry, log: host, mask: (s) => masked.push(s), dockerHost });
  return { host, masked, go };
}

describe('sourceSpec', () => {
  it('a layout with its ref', () => {
    expect(sourceSpec(inputsOf({ 'oci-layout': layoutDir, 'oci-layout-ref': 'v1', destinations: 'reg:5000/app:1' }), undefined)).toEqual({
      kind: 'oci-layout',
      path: layoutDir,
      ref: 'v1',
    });
  });

  it('a docker-store image: the docker-host input wins over DOCKER_HOST, which is the fallback', () => {
    const base = { image: 'app:1', destinations: 'reg:5000/app:1', compression: 'zstd:3', 'docker-read': 'export' };
    expect(sourceSpec(inputsOf(base), 'unix:///env.sock')).toEqual({
      kind: 'docker',
      image: 'app:1',
      dockerHost: 'unix:///env.sock',
      compression: { algorithm: 'zstd', level: 3 },
      manifestFormat: 'oci',
      read: 'export',
    });
    expect(sourceSpec(inputsOf({ ...base, 'docker-host': 'tcp://d:2375' }), 'unix:///env.sock')).toMatchObject({ dockerHost: 'tcp://d:2375' });
  });
});

describe('run', () => {
  it('pushes the opened source to every destination and reports each blob per destination', async () => {
    const registry = new FakeRegistry((r) => {
      r.onProgress({ destination: 'reg:5000/app', digest: A, mediaType: 'layer', size: 2 * 1024 * 1024, state: 'checking', pushedBytes: 0 });
      r.onProgress({ destination: 'reg:5000/app', digest: A, mediaType: 'layer', size: 2 * 1024 * 1024, state: 'uploaded', pushedBytes: 2 * 1024 * 1024 });
      r.onProgress({ destination: 'reg:5000/app', digest: B, mediaType: 'config', size: 512, state: 'exists', pushedBytes: 0 });
      r.onProgress({ destination: 'other:5000/app', digest: A, mediaType: 'layer', size: 2 * 1024 * 1024, state: 'mounted', pushedBytes: 0 });
      r.log('pushed manifest');
    });
    const h = harness({ 'oci-layout': layoutDir, destinations: 'reg:5000/app:1\nother:5000/app:1', concurrency: '3' }, registry);
    const report = await h.go();

    expect(registry.requests).toHaveLength(1);
    expect(registry.requests[0]).toMatchObject({ destinations: ['reg:5000/app:1', 'other:5000/app:1'], concurrency: 3 });
    expect(report.source).toBe(`oci-layout:${layoutDir}`);
    expect(report.refs).toEqual([`reg:5000/app:1@${A}`, `other:5000/app:1@${A}`]);
    expect(report.layers).toEqual([
      { digest: A, size: 2 * 1024 * 1024, mediaType: 'layer', states: { 'reg:5000/app': 'uploaded', 'other:5000/app': 'mounted' } },
      { digest: B, size: 512, mediaType: 'config', states: { 'reg:5000/app': 'exists' } },
    ]);
    const log = h.host.log.join('');
    expect(log).toContain('reader note');
    expect(log).toContain(`reg:5000/app: ${A.slice(0, 19)} uploaded 2.0 MB`);
    expect(log).toContain(`reg:5000/app: ${B.slice(0, 19)} already there`);
    expect(log).toContain(`other:5000/app: ${A.slice(0, 19)} mounted from another repository`);
    expect(log).toContain('pushed manifest');
    // "checking" is a step, not an outcome: no line and no state of its own.
    expect(log).not.toContain('checking');
    expect(registry.closed).toBe(1);
  });

  it('masks the password before the source is opened', async () => {
    let maskedAtOpen: string[] = [];
    const registry = new FakeRegistry();
    const h = harness({ image: 'app:1', destinations: 'reg:5000/app:1', username: 'u', password: 'p4ssw0rd' }, registry);
    const open = registry.open.bind(registry);
    registry.open = (spec, log) => {
      maskedAtOpen = [...h.masked];
      return open(spec, log);
    };
    await h.go();
    expect(maskedAtOpen).toEqual(['p4ssw0rd']);
  });

  it('closes the source when the push fails, and lets the error through unchanged', async () => {
    const boom = new Error('registry said no');
    const registry = new FakeRegistry(() => {}, boom);
    const h = harness({ image: 'app:1', destinations: 'reg:5000/app:1' }, registry, 'unix:///run/docker.sock');
    await expect(h.go()).rejects.toBe(boom);
    expect(registry.closed).toBe(1);
    expect(registry.opened[0]).toMatchObject({ kind: 'docker', image: 'app:1', dockerHost: 'unix:///run/docker.sock' });
  });

  it('a failure to open the source pushes nothing', async () => {
    const registry = new FakeRegistry();
    registry.open = async () => {
      throw new Error('no such image');
    };
    const h = harness({ image: 'app:1', destinations: 'reg:5000/app:1' }, registry);
    await expect(h.go()).rejects.toThrow('no such image');
    expect(registry.requests).toEqual([]);
  });
});
