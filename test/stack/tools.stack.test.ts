import { describe, expect, it } from 'vitest';
import { httpGet } from './lib/http.ts';
import { need, sh } from './test-helpers.ts';

describe('Prometheus and act', () => {
  it('Prometheus is ready and scrapes itself', async () => {
    const url = need('PROMETHEUS_URL');
    expect((await httpGet(`${url}/-/ready`)).status).toBe(200);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const r = await httpGet(`${url}/api/v1/query?query=${encodeURIComponent('up{job="prometheus"}')}`);
      const body = JSON.parse(r.body) as { data: { result: { value: [number, string] }[] } };
      if (body.data.result[0]?.value[1] === '1') break;
      if (Date.now() > deadline) throw new Error(`Prometheus never reported up{job="prometheus"}: ${r.body}`);
      await new Promise((res) => setTimeout(res, 1000));
    }
  });

  it('act answers --version', async () => {
    expect(await sh('act', ['--version'])).toMatch(/act version \d+\.\d+\.\d+/);
  });
});
