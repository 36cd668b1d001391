import { describe, expect, it } from 'vitest';
import { InvalidReferenceError, OciError } from './errors.ts';
import { BlobDedup, planDestinations, pushImage } from './push.ts';
import type { ImageSource } from './source.ts';
import type { Transport } from './transport.ts';

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
