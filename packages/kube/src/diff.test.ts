import { describe, expect, it } from 'vitest';
import { comparable, diffLines, diffObject } from './diff.ts';
import type { KubeObject } from './object.ts';

describe('diffLines', () => {
  it('is empty for equal text', () => expect(diffLines('a\nb\n', 'a\nb\n')).toBe(''));
  it('shows changed lines with context and elides the rest', () => {
    const a = ['1', '2', '3', '4', '5', '6', '7', '8', '9'].join('\n');
    const b = ['1', '2', '3', '4', 'five', '6', '7', '8', '9'].join('\n');
    expect(diffLines(a, b)).toBe(['  3', '  4', '- 5', '+ five', '  6', '  7'].join('\n'));
    const long = Array.from({ length: 12 }, (_, i) => String(i + 1));
    const changed = ['x', ...long.slice(1, -1), 'y'];
    expect(diffLines(long.join('\n'), changed.join('\n'))).toBe(['- 1', '+ x', '  2', '  3', '  ...', '  10', '  11', '- 12', '+ y'].join('\n'));
  });
  it('marks every line added for a new object', () => expect(diffLines('', 'a\nb')).toBe('+ a\n+ b'));
});

describe('diffObject', () => {
  const live: KubeObject = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: 'x',
      uid: 'u',
      resourceVersion: '5',
      managedFields: [{}],
      creationTimestamp: 'now',
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' },
    },
    data: { a: '1' },
  };
  it('ignores server-owned fields', () => {
    expect(comparable(live)).toEqual({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { a: '1' } });
    expect(diffObject(live, { ...live, metadata: { ...live.metadata, resourceVersion: '6' } })).toBe('');
  });
  it('shows a data change', () => {
    expect(diffObject(live, { ...live, data: { a: '2' } })).toMatch(/- {3}a: "1"\n\+ {3}a: "2"/);
  });
});
