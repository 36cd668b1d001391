import { describe, expect, it } from 'vitest';
import { Masker } from './mask.ts';
import { Summary } from './summary.ts';

describe('Summary', () => {
  const s = new Summary().heading('Result').table(['A', 'B'], [['x|y', 'line1\nline2']]);
  it('escapes table cells in Markdown', () => {
    expect(s.toMarkdown()).toContain('| x\\|y | line1<br>line2 |');
    expect(s.toMarkdown()).toContain('| --- | --- |');
  });
  it('aligns columns as text', () => {
    expect(s.toText().split('\n').slice(2, 4)).toEqual(['A    B', '---  -----------']);
  });
});

describe('Masker', () => {
  it('masks longest secrets first and each line of a multi-line secret', () => {
    const m = new Masker();
    m.add('abc');
    m.add('abcdef');
    m.add('line-one\nline-two');
    expect(m.redact('abcdef abc line-two')).toBe('*** *** ***');
  });
  it('ignores secrets too short to mask safely', () => {
    const m = new Masker();
    m.add('a');
    expect(m.redact('a cat')).toBe('a cat');
  });
});

describe('Summary as text', () => {
  it('drops Markdown code spans', () => {
    const s = new Summary().paragraph('digest `sha256:abc`').table(['Ref'], [['`reg/app:1`']]);
    expect(s.toText()).toBe('digest sha256:abc\n\nRef\n---------\nreg/app:1\n');
  });
});

describe('structured secrets', () => {
  it('are masked whole, not line by line', () => {
    const m = new Masker();
    m.add('apiVersion: v1\nkind: Config\ntoken: abc123', false);
    expect(m.redact('apiVersion: v1')).toBe('apiVersion: v1');
    expect(m.redact('apiVersion: v1\nkind: Config\ntoken: abc123')).toBe('***');
  });
});
