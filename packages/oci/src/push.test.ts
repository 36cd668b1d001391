import { describe, expect, it } from 'vitest';
import { InvalidReferenceError, OciError } from './errors.ts';
import { planDestinations, pushImage } from './push.ts';
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
