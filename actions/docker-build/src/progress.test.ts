// buildx's rawjson progress stream: readable lines, and the cached facts cache-hit is made of.
import { describe, expect, it } from 'vitest';
import { cacheStats, isCountedStep, isInstruction, ProgressReader } from './progress.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const status = (o: unknown) => JSON.stringify(o);

function feed(lines: string[]) {
  const printed: string[] = [];
  const r = new ProgressReader((l) => printed.push(l));
  for (const l of lines) r.line(l);
  return { r, printed };
}

const T0 = '2026-11-29T00:00:00.000Z';
const T1 = '2026-11-29T00:00:01.500Z';

describe('ProgressReader', () => {
  it('counts Dockerfile steps and which were cached', () => {
    const { r, printed } = feed([
      status({ vertexes: [{ digest: 'sha256:a', name: '[internal] load build definition from Dockerfile', started: T0 }] }),
      status({ vertexes: [{ digest: 'sha256:a', name: '[internal] load build definition from Dockerfile', started: T0, completed: T1 }] }),
      status({ vertexes: [{ digest: 'sha256:f', name: '[1/3] FROM 127.0.0.1:5000/shipline/node:24@sha256:00', started: T0, completed: T1, cached: true }] }),
      status({ vertexes: [{ digest: 'sha256:b', name: '[2/3] COPY package.json ./', started: T0, completed: T1, cached: true }] }),
      status({ vertexes: [{ digest: 'sha256:c', name: '[3/3] RUN ["node", "install.mjs"]', started: T0 }] }),
      status({ logs: [{ vertex: 'sha256:c', stream: 1, data: b64('installed 12 packages\npart') }] }),
      status({ logs: [{ vertex: 'sha256:c', stream: 1, data: b64('ial line') }] }),
      status({ vertexes: [{ digest: 'sha256:c', name: '[3/3] RUN ["node", "install.mjs"]', started: T0, completed: T1 }] }),
      status({ vertexes: [{ digest: 'sha256:e', name: 'exporting to image', started: T0, completed: T1 }] }),
    ]);
    expect(r.steps().map((s) => [s.name, s.cached])).toEqual([
      ['[2/3] COPY package.json ./', true],
      ['[3/3] RUN ["node", "install.mjs"]', false],
    ]);
    expect(cacheStats(r.steps())).toEqual({ steps: 2, cached: 1, hit: false });
    expect(printed).toEqual([
      '#1 [internal] load build definition from Dockerfile DONE 1.5s',
      '#2 [1/3] FROM 127.0.0.1:5000/shipline/node:24@sha256:00 CACHED',
      '#3 [2/3] COPY package.json ./ CACHED',
      '#4 installed 12 packages',
      '#4 partial line',
      '#4 [3/3] RUN ["node", "install.mjs"] DONE 1.5s',
      '#5 exporting to image DONE 1.5s',
    ]);
  });

  it('reports a hit when every step came from cache', () => {
    const { r } = feed([
      status({ vertexes: [{ digest: 'x', name: '[build 1/4] FROM docker.io/library/node:24', cached: false, completed: T1 }] }),
      status({ vertexes: [{ digest: 'y', name: '[build 2/4] WORKDIR /app', cached: true, completed: T1 }] }),
      status({ vertexes: [{ digest: 'z', name: '[stage-1 2/2] COPY --from=build /app /app', cached: true, completed: T1 }] }),
    ]);
    expect(cacheStats(r.steps())).toEqual({ steps: 2, cached: 2, hit: true });
  });

  it('is not a hit with no steps at all', () => expect(cacheStats([])).toEqual({ steps: 0, cached: 0, hit: false }));

  it('keeps errors, warnings and lines that are not JSON', () => {
    const { r, printed } = feed([
      '#0 building with "shipline" instance using docker-container driver',
      status({ vertexes: [{ digest: 'q', name: '[2/2] RUN ["false"]', error: 'process "false" did not complete successfully: exit code: 1' }] }),
      status({ warnings: [{ vertex: 'q', short: b64('FromAsCasing: as and FROM keywords casing do not match') }] }),
      '',
      'null',
    ]);
    expect(r.errors()).toEqual(['[2/2] RUN ["false"]: process "false" did not complete successfully: exit code: 1']);
    expect(r.warnings).toEqual(['FromAsCasing: as and FROM keywords casing do not match']);
    expect(r.otherLines).toEqual(['#0 building with "shipline" instance using docker-container driver']);
    expect(printed).toContain('#1 [2/2] RUN ["false"] ERROR: process "false" did not complete successfully: exit code: 1');
  });

  it('counts each platform of a multi-platform build', () => {
    const { r } = feed([
      status({ vertexes: [{ digest: 'a', name: '[linux/amd64 2/2] COPY hello.txt /', cached: true }] }),
      status({ vertexes: [{ digest: 'b', name: '[linux/386 2/2] COPY hello.txt /', cached: false, completed: T1 }] }),
    ]);
    expect(cacheStats(r.steps())).toEqual({ steps: 2, cached: 1, hit: false });
  });

  const names: [string, boolean, boolean][] = [
    ['[1/3] FROM node:24', true, false],
    ['[2/3] COPY . .', true, true],
    ['[build 3/5] RUN npm ci', true, true],
    ['[linux/arm64 stage-1 2/2] COPY --from=build /a /a', true, true],
    ['[internal] load .dockerignore', false, false],
    ['[internal] load metadata for docker.io/library/node:24', false, false],
    ['exporting to image', false, false],
    ['importing cache manifest from local:123', false, false],
    ['exporting cache to client directory', false, false],
    ['[auth] library/node:pull token for registry-1.docker.io', false, false],
  ];
  it.each(names)('%s: instruction %s, counted %s', (name, instruction, counted) => {
    expect(isInstruction(name)).toBe(instruction);
    expect(isCountedStep(name)).toBe(counted);
  });
});
