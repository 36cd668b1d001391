import { describe, expect, it } from 'vitest';
import { parseDuration } from './duration.ts';
import { UserError } from './errors.ts';
import * as input from './inputs.ts';

function fails(spec: input.Input<unknown>, raw: string): UserError {
  try {
    spec.parse(raw, 'x');
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return e as UserError;
  }
  throw new Error(`${JSON.stringify(raw)} was accepted`);
}

describe('durations', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1.5s', 1500],
    ['0', 0],
  ])('%s is %d ms', (raw, ms) => expect(parseDuration(raw)).toBe(ms));

  it.each(['', '5', '5x', 's', '-1s', '1s 2s', '1 s', 'ms5', '1.s'])('%j is refused', (raw) => expect(parseDuration(raw)).toBeUndefined());

  it('enforces bounds with a hint', () => {
    expect(fails(input.duration({ min: 1000 }), '10ms').hint).toMatch(/at least 1s/);
    expect(fails(input.duration(), '10').message).toMatch(/not a duration/);
  });
});

describe('booleans follow YAML 1.2', () => {
  const b = input.boolean();
  it.each([
    ['true', true],
    ['True', true],
    ['FALSE', false],
  ])('%s', (raw, v) => expect(b.parse(raw, 'x')).toBe(v));
  it.each(['yes', 'no', 'on', 'off', '1', 'truee'])('%s is refused', (raw) => {
    const e = fails(b, raw);
    expect(e.oneLine()).toContain('input "x"');
  });
  it('explains YAML 1.1 words', () => expect(fails(b, 'yes').hint).toMatch(/YAML 1.2/));
});

describe('numbers', () => {
  it('integers in range', () => {
    const i = input.integer({ min: 0, max: 10 });
    expect(i.parse('7', 'x')).toBe(7);
    expect(fails(i, '-1').hint).toMatch(/from 0 to 10/);
    expect(fails(i, '1.5').message).toMatch(/whole number/);
    expect(fails(i, 'abc').message).toMatch(/whole number/);
  });
  it('decimals', () => {
    expect(input.number({ min: 1 }).parse('1.5', 'x')).toBe(1.5);
    expect(fails(input.number({ min: 1 }), '0.5').message).toMatch(/out of range/);
  });
});

describe('lists', () => {
  const l = input.list(input.string());
  it.each([
    ['a', ['a']],
    ['a, b ,c', ['a', 'b', 'c']],
    ['a\nb\n\n c ', ['a', 'b', 'c']],
    ['a,b\nc', ['a,b', 'c']],
  ])('%j', (raw, want) => expect(l.parse(raw, 'x')).toEqual(want));
  it('line-only lists keep commas', () => expect(input.list(input.string(), { commas: false }).parse('Accept: a, b', 'x')).toEqual(['Accept: a, b']));
  it('validates each item', () => expect(fails(input.list(input.url()), 'http://ok/, nope').message).toMatch(/"nope" is not a valid URL/));
});

describe('urls, enums, regexes', () => {
  it('urls need a scheme we speak', () => {
    expect(input.url().parse('https://example.test:8443/x', 'x')?.port).toBe('8443');
    expect(fails(input.url(), 'ftp://h/').message).toMatch(/uses ftp/);
    expect(fails(input.url(), '127.0.0.1:80').message).toMatch(/not a valid URL|uses 127.0.0.1/);
  });
  it('enums list the choices', () => {
    const e = input.enumOf(['GET', 'POST'] as const, { caseInsensitive: true });
    expect(e.parse('post', 'x')).toBe('POST');
    expect(fails(e, 'FETCH').hint).toBe('use one of: GET, POST');
  });
  it('regexes compile or explain', () => {
    expect(input.regex().parse('^ok$', 'x')?.test('ok')).toBe(true);
    expect(fails(input.regex(), '(unclosed').message).toMatch(/not a valid regular expression/);
  });
});

describe('parseInputs', () => {
  const schema = {
    name: input.string({ required: true }),
    token: input.string({ secret: true, pattern: /^t_/, patternHint: 'tokens start with t_' }),
    retries: input.integer({ default: '3', min: 0 }),
    tags: input.list(input.string()),
  };

  it('applies defaults and treats empty as absent', () => {
    const v = input.parseInputs(schema, (n) => ({ name: 'svc', retries: '' })[n]);
    expect(v).toEqual({ name: 'svc', token: undefined, retries: 3, tags: [] });
  });

  it('names a missing required input', () => {
    expect(() => input.parseInputs(schema, () => undefined)).toThrow(/is required/);
  });

  it('masks secrets before validating them and never echoes them', () => {
    const masked: string[] = [];
    let err: UserError | undefined;
    try {
      input.parseInputs(
        schema,
        (n) => ({ name: 'svc', token: 'hunter2-secret' })[n],
        (s) => masked.push(s),
      );
    } catch (e) {
      err = e as UserError;
    }
    expect(masked).toEqual(['hunter2-secret']);
    expect(err?.oneLine()).not.toContain('hunter2');
    expect(err?.oneLine()).toContain('input "token"');
  });
});

describe('durations are capped at what timers hold, with a floor per input', () => {
  it('refuses 600h and names the input', () => {
    const e = fails(input.duration(), '600h');
    expect(e.oneLine()).toBe('input "x": "600h" is too long — use at most 24.8d (596h) (the longest wait a timer holds)');
    expect(e.hint).toMatch(/timer/);
  });
  it('accepts up to 2^31-1 ms', () => expect(input.duration().parse('596h', 'x')).toBe(596 * 3_600_000));
  it('takes the floor as a duration', () => {
    const interval = input.duration({ min: '100ms' });
    expect(interval.parse('100ms', 'x')).toBe(100);
    expect(fails(interval, '0').hint).toBe('use at least 100ms');
    expect(fails(interval, '50ms').message).toMatch(/too short/);
  });
  it('a lower max wins over the timer cap', () => expect(fails(input.duration({ max: '1h' }), '2h').hint).toBe('use at most 60m'));
  it('a bad bound is a schema error', () => expect(() => input.duration({ min: 'soon' })).toThrow(/not a duration/));
});

describe('secret inputs never appear in errors', () => {
  const SECRET = 'Zx9-secret-value-Qw7';
  const cases: [string, input.Input<unknown>, string][] = [
    ['string with a pattern', input.string({ secret: true, pattern: /^t_/ }), SECRET],
    ['boolean', input.boolean({ secret: true }), SECRET],
    ['integer', input.integer({ secret: true }), SECRET],
    ['integer out of range', input.integer({ secret: true, max: 5 }), '123456789012'],
    ['number', input.number({ secret: true }), SECRET],
    ['duration', input.duration({ secret: true }), SECRET],
    ['url', input.url({ secret: true }), `https://user:${SECRET}@[bad`],
    ['enum', input.enumOf(['a', 'b'], { secret: true }), SECRET],
    ['regex', input.regex({ secret: true }), `(${SECRET}`],
    ['file', input.file({ secret: true }), `/nonexistent/${SECRET}`],
    [
      'list of custom items that quote themselves',
      input.list(
        input.custom('thing', (raw, fail) => fail(`${input.quote(raw)} is bad`, `not ${raw}`)),
        { secret: true },
      ),
      SECRET,
    ],
    [
      'a long value cut by quote()',
      input.custom('thing', (raw, fail) => fail(`${input.quote(raw)} is bad`, 'fix it'), { secret: true }),
      `${SECRET}${'y'.repeat(100)}`,
    ],
  ];
  it.each(cases)('%s', (_, spec, raw) => {
    let err: UserError | undefined;
    try {
      input.parseInputs({ x: spec }, () => raw);
    } catch (e) {
      err = e as UserError;
    }
    expect(err).toBeInstanceOf(UserError);
    const text = `${err?.oneLine()} ${err?.hint ?? ''}`;
    expect(text).toContain('input "x"');
    expect(input.revealsSecret(text, raw)).toBe(false);
  });

  it('non-secret URLs are quoted without their credentials', () => {
    const e = fails(input.url(), 'https://ci:pa55word-xyz@host:99999/?token=tok-abcdef&x=1');
    expect(e.message).not.toMatch(/pa55word|tok-abcdef/);
    expect(e.message).toContain('x=1');
  });

  it('a structured secret is masked whole (not line by line); a secret is trimmed before masking and use', () => {
    const masked: [string, string][] = [];
    const v = input.parseInputs(
      { kubeconfig: input.string({ secret: 'whole' }), password: input.string({ secret: true }) },
      (n) => ({ kubeconfig: 'apiVersion: v1\nkind: Config\n', password: '  pw-secret\n' })[n],
      (s, mode) => masked.push([s, mode]),
    );
    expect(masked).toEqual([
      ['apiVersion: v1\nkind: Config', 'structured'],
      ['pw-secret', 'lines'],
    ]);
    expect(v.password).toBe('pw-secret');
  });

  it('revealsSecret finds any 8 characters in a row, and for documents only pieces of long words', () => {
    expect(input.revealsSecret('bad value "cret-val…"', 'Zx9-secret-value')).toBe(true);
    expect(input.revealsSecret('bad value', 'Zx9-secret-value')).toBe(false);
    expect(input.revealsSecret('has no current-context', 'current-context: main\ntoken: abcdefghijklmnopqrstuvwxyz', 'structured')).toBe(false);
    expect(input.revealsSecret('token "klmnopqrst"', 'current-context: main\ntoken: abcdefghijklmnopqrstuvwxyz', 'structured')).toBe(true);
  });
});
