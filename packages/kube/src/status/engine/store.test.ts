import { describe, expect, test } from 'vitest';
import type { WatchEvent } from '../../client.ts';
import type { KubeObject } from '../../object.ts';
import { EMPTY_FEED, type FeedState, reduceFeed } from './store.ts';

const obj = (name: string, rv: string, extra: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: 'shop', resourceVersion: rv },
  ...extra,
});
const listed = (): FeedState => reduceFeed(EMPTY_FEED, { type: 'listed', items: [obj('a', '10'), obj('b', '11')], resourceVersion: '12' }).state;
const watch = (state: FeedState, event: WatchEvent) => reduceFeed(state, { type: 'watch', event });

describe('reduceFeed', () => {
  test('a feed is not synced before its first list', () => {
    expect(EMPTY_FEED.synced).toBe(false);
  });

  test('a list syncs the feed at the list version', () => {
    const s = listed();
    expect(s.synced).toBe(true);
    expect(s.resourceVersion).toBe('12');
    expect([...s.objects.keys()]).toEqual(['shop/a', 'shop/b']);
  });

  test.each([
    ['ADDED', 'c', ['shop/a', 'shop/b', 'shop/c']],
    ['MODIFIED', 'a', ['shop/a', 'shop/b']],
    ['DELETED', 'a', ['shop/b']],
  ] as const)('%s moves the version and the objects', (type, name, keys) => {
    const step = watch(listed(), { type, object: obj(name, '20', { status: { replicas: 3 } }) });
    expect(step.relist).toBe(false);
    expect(step.state.synced).toBe(true);
    expect(step.state.resourceVersion).toBe('20');
    expect([...step.state.objects.keys()]).toEqual(keys);
    if (type === 'MODIFIED') expect(step.state.objects.get('shop/a')?.status).toEqual({ replicas: 3 });
  });

  test('a bookmark moves only the version', () => {
    const before = listed();
    const step = watch(before, { type: 'BOOKMARK', object: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { resourceVersion: '99' } } });
    expect(step.state.resourceVersion).toBe('99');
    expect(step.state.objects).toBe(before.objects);
  });

  test('410 Gone: unsynced, list again, objects kept for display only', () => {
    const step = watch(listed(), { type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 12 (40)' } });
    expect(step.relist).toBe(true);
    expect(step.state.synced).toBe(false);
    expect(step.state.objects.size).toBe(2);
  });

  test('a lost stream unsyncs the feed until the next list', () => {
    const lost = reduceFeed(listed(), { type: 'lost' }).state;
    expect(lost.synced).toBe(false);
    const again = reduceFeed(lost, { type: 'listed', items: [obj('b', '30')], resourceVersion: '31' }).state;
    expect(again.synced).toBe(true);
    expect([...again.objects.keys()]).toEqual(['shop/b']);
  });

  test('the previous state is never mutated', () => {
    const before = listed();
    watch(before, { type: 'DELETED', object: obj('a', '20') });
    expect(before.objects.has('shop/a')).toBe(true);
  });
});
