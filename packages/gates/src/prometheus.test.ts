import { afterEach, describe, expect, it } from 'vitest';
import { secrets } from './kit.ts';
import { PrometheusClient, PrometheusError, parseValue, type QueryResult } from './prometheus.ts';
import { closedPort, type FakeAnswer, type FakePrometheus, fakePrometheus } from './testing/fake-prometheus.ts';

const noWait = { sleep: async () => {}, random: () => 0 };
let fake: FakePrometheus | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function serve(answer: (n: number) => FakeAnswer) {
  fake = await fakePrometheus((_r, n) => answer(n));
  return fake;
}

describe('parseValue', () => {
  it.each([
    ['0.25', 0.25],
    ['1e-3', 0.001],
    ['-2', -2],
    ['+Inf', Number.POSITIVE_INFINITY],
    ['-Inf', Number.NEGATIVE_INFINITY],
  ])('%s → %d', (text, n) => expect(parseValue(text)).toBe(n));
  it('NaN stays NaN', () => expect(parseValue('NaN')).toBeNaN());
  it.each(['', 'abc', '1,5'])('rejects %j', (text) => expect(() => parseValue(text)).toThrow(PrometheusError));
});

describe('PrometheusClient.query: result types', () => {
  const t = 1_700_000_000.5;
  const cases: [string, unknown, QueryResult][] = [
    [
      'vector with NaN and ±Inf',
      {
        resultType: 'vector',
        result: [
          { metric: { code: '500' }, value: [t, 'NaN'] },
          { metric: { code: '200' }, value: [t, '+Inf'] },
          { metric: {}, value: [t, '-Inf'] },
        ],
      },
      {
        type: 'vector',
        series: [
          { labels: { code: '500' }, point: { time: t, value: Number.NaN } },
          { labels: { code: '200' }, point: { time: t, value: Number.POSITIVE_INFINITY } },
          { labels: {}, point: { time: t, value: Number.NEGATIVE_INFINITY } },
        ],
      },
    ],
    ['empty vector', { resultType: 'vector', result: [] }, { type: 'vector', series: [] }],
    [
      'matrix',
      {
        resultType: 'matrix',
        result: [
          {
            metric: { pod: 'a' },
            values: [
              [t, '1'],
              [t + 5, '2'],
            ],
          },
        ],
      },
      {
        type: 'matrix',
        series: [
          {
            labels: { pod: 'a' },
            points: [
              { time: t, value: 1 },
              { time: t + 5, value: 2 },
            ],
          },
        ],
      },
    ],
    ['scalar', { resultType: 'scalar', result: [t, '0.5'] }, { type: 'scalar', point: { time: t, value: 0.5 } }],
    ['string', { resultType: 'string', result: [t, 'hello'] }, { type: 'string', time: t, value: 'hello' }],
  ];
  it.each(cases)('%s', async (_name, data, expected) => {
    const f = await serve(() => ({ body: { status: 'success', data } }));
    const result = await new PrometheusClient({ url: f.url }).query('up', new Date(1_700_000_000_000));
    expect(result).toEqual(expected);
    const asked = f.requests[0]?.url;
    expect(asked?.pathname).toBe('/api/v1/query');
    expect(asked?.searchParams.get('query')).toBe('up');
    expect(asked?.searchParams.get('time')).toBe('1700000000.000');
  });

  it('keeps a path prefix of the base URL', async () => {
    const f = await serve(() => ({ body: { status: 'success', data: { resultType: 'vector', result: [] } } }));
    await new PrometheusClient({ url: `${f.url}/prometheus/` }).query('up');
    expect(f.requests[0]?.url.pathname).toBe('/prometheus/api/v1/query');
  });
});

describe('PrometheusClient.query: auth', () => {
  it.each([
    ['basic', { auth: { username: 'gate', password: 'pw-basic-1' } }, `Basic ${Buffer.from('gate:pw-basic-1').toString('base64')}`],
    ['bearer', { auth: { bearer: 'tok-bearer-1' } }, 'Bearer tok-bearer-1'],
    ['from the URL', {}, `Basic ${Buffer.from('u:pw-url-1').toString('base64')}`],
  ])('%s', async (name, extra, header) => {
    const f = await serve(() => ({ body: { status: 'success', data: { resultType: 'vector', result: [] } } }));
    const url = name === 'from the URL' ? f.url.replace('http://', 'http://u:pw-url-1@') : f.url;
    const client = new PrometheusClient({ url, ...extra });
    await client.query('up');
    expect(f.requests[0]?.headers.authorization).toBe(header);
    expect(client.url).not.toContain('pw-url-1');
  });
});

describe('PrometheusClient.query: errors', () => {
  it('an API error (bad_data) is typed, names the query and is not retried', async () => {
    const f = await serve(() => ({ status: 400, body: { status: 'error', errorType: 'bad_data', error: 'invalid parameter "query": 1:5: parse error' } }));
    const err = await new PrometheusClient({ url: f.url, retry: noWait }).query('sum(').catch((e) => e);
    expect(err).toBeInstanceOf(PrometheusError);
    expect(err).toMatchObject({ kind: 'api', status: 400, errorType: 'bad_data' });
    expect(err.message).toContain('Prometheus refused "sum(": bad_data: invalid parameter');
    expect(err.message).toContain('check the PromQL');
    expect(f.requests).toHaveLength(1);
  });

  it('an API error sent with 200 is still an error', async () => {
    const f = await serve(() => ({ body: { status: 'error', errorType: 'execution', error: 'many-to-many matching not allowed' } }));
    await expect(new PrometheusClient({ url: f.url }).query('a / b')).rejects.toMatchObject({ kind: 'api', errorType: 'execution' });
  });

  it('503 is retried under the kit policy, then succeeds', async () => {
    const f = await serve((n) =>
      n < 3
        ? { status: 503, body: { status: 'error', errorType: 'unavailable', error: 'starting' } }
        : { body: { status: 'success', data: { resultType: 'scalar', result: [1, '7'] } } },
    );
    const result = await new PrometheusClient({ url: f.url, retry: noWait }).query('7');
    expect(result).toEqual({ type: 'scalar', point: { time: 1, value: 7 } });
    expect(f.requests).toHaveLength(3);
  });

  it('503 that persists ends after the retries with the API error', async () => {
    const f = await serve(() => ({ status: 503, body: { status: 'error', errorType: 'unavailable', error: 'overloaded' } }));
    await expect(new PrometheusClient({ url: f.url, retry: { ...noWait, retries: 2 } }).query('up')).rejects.toMatchObject({ kind: 'api', status: 503 });
    expect(f.requests).toHaveLength(3);
  });

  it('a closed port is unreachable, retried, and says why', async () => {
    const port = await closedPort();
    let sleeps = 0;
    const err = await new PrometheusClient({ url: `http://127.0.0.1:${port}`, retry: { retries: 2, sleep: async () => void sleeps++ } })
      .query('up')
      .catch((e) => e);
    expect(err).toMatchObject({ kind: 'unreachable' });
    expect(err.message).toBe(`Prometheus at http://127.0.0.1:${port}/api/v1/query did not answer (connection refused, ECONNREFUSED) after 3 attempt(s)`);
    expect(sleeps).toBe(2);
  });

  it('an answer slower than the timeout is abandoned', async () => {
    const f = await serve(() => ({ delayMs: 2_000, body: {} }));
    const started = Date.now();
    const err = await new PrometheusClient({ url: f.url, timeoutMs: 150, retry: { retries: 0 } }).query('up').catch((e) => e);
    expect(err).toMatchObject({ kind: 'unreachable' });
    expect(err.message).toContain('no answer within 150 ms');
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it.each([
    [
      '401 without the API body',
      { status: 401, body: 'Unauthorized' },
      'http',
      'Prometheus answered HTTP 401: Unauthorized — check the Prometheus credentials',
    ],
    ['404', { status: 404, body: '404 page not found' }, 'http', 'check prometheus-url'],
    ['a 200 that is not JSON', { body: '<html>proxy</html>' }, 'response', 'not a JSON object'],
    ['an unknown result type', { body: { status: 'success', data: { resultType: 'histogram', result: [] } } }, 'response', 'unknown resultType "histogram"'],
    [
      'a vector sample without a value',
      { body: { status: 'success', data: { resultType: 'vector', result: [{ metric: {} }] } } },
      'response',
      'vector sample without value',
    ],
  ])('%s', async (_name, answer, kind, text) => {
    const f = await serve(() => answer as FakeAnswer);
    const err = await new PrometheusClient({ url: f.url, retry: noWait }).query('up').catch((e) => e);
    expect(err).toBeInstanceOf(PrometheusError);
    expect(err.kind).toBe(kind);
    expect(err.message).toContain(text);
  });

  it("masks secrets, cuts and neutralises the server's text", async () => {
    secrets.add('reflected-secret-42');
    const long = `::error::pwned reflected-secret-42\n${'x'.repeat(5_000)}`;
    const f = await serve(() => ({ status: 400, body: { status: 'error', errorType: 'bad_data', error: long } }));
    const err = await new PrometheusClient({ url: f.url }).query('up').catch((e) => e);
    expect(err.message).not.toContain('reflected-secret-42');
    expect(err.message).toContain('***');
    expect(err.message).not.toContain('\n');
    expect(err.message.length).toBeLessThan(700);
  });

  it.each([
    ['not a URL', 'prometheus 9090', 'is not a URL'],
    ['another scheme', 'ftp://prometheus', 'must be http:// or https://'],
  ])('a bad URL: %s', (_name, url, text) => {
    expect(() => new PrometheusClient({ url })).toThrow(text);
  });
});
