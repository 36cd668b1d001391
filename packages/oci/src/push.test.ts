import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { sha256Digest } from './digest.ts';
import { InvalidReferenceError, OciError, RegistryError } from './errors.ts';
import { BlobDedup, planDestinations, pushImage } from './push.ts';
import type { Blob, ImageSource } from './source.ts';
import { drain, type HttpRequest, type HttpResponse, type Transport } from './transport.ts';

const neverCalled: ImageSource = {
  description: 'none',
  blobs: () => {
    throw new Error('source must not be read');
  },
  manifests: () => Promise.reject(new Error('source must not be read')),
};

describe('pushImage validates before any network call', () => {
  it.each([['127.0.0.1:5000/App:1'], ['127.0.0.1:5000/app:'], ['127.0.0.1:5000/app@sha256:abc'], ['https://127.0.0.1:5000/app']])(
    'rejects %s with no request sent',
    async (bad) => {
      let calls = 0;
      const transport: Transport = async () => {
        calls++;
        throw new Error('no network expected');
      };
      const err = await pushImage({ source: neverCalled, destinations: ['127.0.0.1:5000/ok:1', bad], transport }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidReferenceError);
      expect(calls).toBe(0);
    },
  );

  it('rejects a bad concurrency and an empty destination list', async () => {
    await expect(pushImage({ source: neverCalled, destinations: [] })).rejects.toBeInstanceOf(OciError);
    await expect(pushImage({ source: neverCalled, destinations: ['127.0.0.1:5000/a:1'], concurrency: 0 })).rejects.toThrow(/concurrency/);
  });
});

describe('planDestinations', () => {
  it('groups tags per repository in order and keeps digests', () => {
    const d = `sha256:${'c'.repeat(64)}`;
    expect(planDestinations(['127.0.0.1:5000/a:1', 'ghcr.io/o/a:2', '127.0.0.1:5000/a:latest', `127.0.0.1:5000/a@${d}`, '127.0.0.1:5000/a-b:1'])).toEqual([
      { registry: '127.0.0.1:5000', repository: 'a', name: '127.0.0.1:5000/a', tags: ['1', 'latest'], digests: [d] },
      { registry: 'ghcr.io', repository: 'o/a', name: 'ghcr.io/o/a', tags: ['2'], digests: [] },
      { registry: '127.0.0.1:5000', repository: 'a-b', name: '127.0.0.1:5000/a-b', tags: ['1'], digests: [] },
    ]);
  });
});

describe('BlobDedup', () => {
  it('makes the first repository of a registry the owner and the others followers of it', async () => {
    const dedup = new BlobDedup();
    const d = `sha256:${'a'.repeat(64)}`;
    const owner = dedup.claim('r1', d, 'team/a');
    expect(owner.role).toBe('owner');
    const follower = dedup.claim('r1', d, 'team/b');
    expect(follower).toMatchObject({ role: 'follower', from: 'team/a' });
    // Another registry cannot mount from r1: it gets its own owner.
    expect(dedup.claim('r2', d, 'team/b').role).toBe('owner');
    // Another digest in the same registry too.
    expect(dedup.claim('r1', `sha256:${'b'.repeat(64)}`, 'team/b').role).toBe('owner');
    if (owner.role !== 'owner' || follower.role !== 'follower') throw new Error('unreachable');
    owner.settle(true);
    expect(await follower.done).toBe(true);
  });

  it('tells followers when the owner failed, so they upload themselves', async () => {
    const dedup = new BlobDedup();
    const d = `sha256:${'c'.repeat(64)}`;
    const owner = dedup.claim('r', d, 'a');
    const follower = dedup.claim('r', d, 'b');
    if (owner.role !== 'owner' || follower.role !== 'follower') throw new Error('roles');
    owner.settle(false);
    expect(await follower.done).toBe(false);
  });
});

// The session logic on a scripted exchange (the real registry's side of it is in
// push-layout.stack.test.ts and test/hardening): one layer, one config, one manifest.
describe('a lost upload session', () => {
  const bytes = Buffer.from('layer bytes');
  const layer: Blob = { digest: sha256Digest(bytes), size: bytes.length, mediaType: 'application/octet-stream', open: () => Readable.from([bytes]) };
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, layers: [{ digest: layer.digest }] }));
  const source = (): ImageSource => ({
    description: 'test',
    async *blobs() {
      yield { ...layer };
    },
    manifests: async () => ({
      root: { digest: sha256Digest(manifest), mediaType: 'application/vnd.oci.image.manifest.v1+json', bytes: manifest },
      children: [],
    }),
  });

  /** A registry holding committed blobs; `onCommit` may lose the answer or the session. */
  function scripted(onCommit: (n: number) => 'ok' | 'lose-answer' | 'lost-session') {
    const stored = new Set<string>();
    const log: string[] = [];
    let sessions = 0;
    let commits = 0;
    const reply = (req: HttpRequest, status: number, headers: Record<string, string> = {}): HttpResponse => ({
      status,
      headers,
      body: Readable.from([]),
      url: req.url,
    });
    const transport: Transport = async (req) => {
      const u = new URL(req.url);
      log.push(`${req.method} ${u.pathname.replace(/uploads\/\d+/, 'uploads/N')}`);
      if (req.body && typeof req.body === 'function') await drain({ status: 0, headers: {}, body: req.body(), url: req.url });
      if (u.pathname === '/v2/') return reply(req, 200);
      if (req.method === 'HEAD') return reply(req, stored.has(u.pathname.split('/').pop() as string) ? 200 : 404);
      if (req.method === 'POST') return reply(req, 202, { location: `/v2/app/blobs/uploads/${++sessions}` });
      if (req.method === 'PUT' && u.pathname.includes('/uploads/')) {
        const outcome = onCommit(++commits);
        if (outcome === 'lost-session') return reply(req, 404);
        stored.add(u.searchParams.get('digest') as string);
        if (outcome === 'lose-answer') throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
        return reply(req, 201);
      }
      if (req.method === 'PUT') return reply(req, 201);
      return reply(req, 500);
    };
    return { transport, log, stored, sessions: () => sessions };
  }

  const push = (transport: Transport, lines: string[] = []) =>
    pushImage({ source: source(), destinations: ['127.0.0.1:5000/app:1'], transport, sleep: async () => {}, log: (l) => lines.push(l) });

  it('a commit whose answer was lost is found in place, not uploaded again', async () => {
    // The retry of the lost commit meets a closed session: 404.
    let first = true;
    const reg = scripted(() => {
      if (first) {
        first = false;
        return 'lose-answer';
      }
      return 'lost-session';
    });
    const lines: string[] = [];
    const result = await push(reg.transport, lines);
    expect(result.uploadedBlobs).toBe(1);
    expect(reg.sessions()).toBe(1);
    expect(reg.log.filter((l) => l.startsWith('PUT /v2/app/blobs/uploads'))).toHaveLength(2);
    expect(lines.some((l) => /is in 127\.0\.0\.1:5000\/app although its upload session was lost \(HTTP 404\)/.test(l))).toBe(true);
  });

  it('opens a new session for each lost one, up to three, then fails naming the endpoint', async () => {
    const twice = scripted((n) => (n <= 2 ? 'lost-session' : 'ok'));
    expect((await push(twice.transport)).uploadedBlobs).toBe(1);
    expect(twice.sessions()).toBe(3);

    const always = scripted(() => 'lost-session');
    const err = await push(always.transport).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as Error).message).toMatch(
      /^uploading blob sha256:[0-9a-f]{64} to 127\.0\.0\.1:5000\/app failed: PUT https?:\/\/127\.0\.0\.1:5000\/v2\/app\/blobs\/uploads\/4 answered HTTP 404/,
    );
    expect(always.sessions()).toBe(4);
    expect(always.stored.size).toBe(0);
  });
});
