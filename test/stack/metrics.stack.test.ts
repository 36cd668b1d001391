// The stack's metrics plumbing: the Pushgateway answers and is scraped, and a pod annotated
// `prometheus.io/scrape: "true"` becomes a Prometheus target with its labels (through the
// pod-targets component's file_sd file), and stops being one once it is deleted.
import { afterAll, describe, expect, it } from 'vitest';
import { httpGet } from './lib/http.ts';
import { labelName, podTargets } from './lib/pod-targets.ts';
import { run } from './lib/proc.ts';
import { need, sh, uniq } from './test-helpers.ts';

const id = uniq();
const ns = `pb-metrics-${id}`;
const kubectl = (args: string[], input?: string) => sh('kubectl', args, input === undefined ? {} : { input });

interface Target {
  labels: Record<string, string>;
  scrapePool: string;
  scrapeUrl: string;
  health: string;
}

async function activeTargets(): Promise<Target[]> {
  const r = await httpGet(`${need('PROMETHEUS_URL')}/api/v1/targets?state=active`);
  if (r.status !== 200) throw new Error(`/api/v1/targets: HTTP ${r.status}`);
  return (JSON.parse(r.body) as { data: { activeTargets: Target[] } }).data.activeTargets;
}

/** Polls every 250 ms; the deadline only stops a wait that would never end. */
async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('pod targets (pure)', () => {
  it.each([
    ['app', 'app'],
    ['version', 'version'],
    ['shipline.dev/track', 'track'],
    ['shipline.dev/set', 'set'],
    ['app.kubernetes.io/name', 'app_kubernetes_io_name'],
    ['pod-template-hash', 'pod_template_hash'],
    ['9lives', '_9lives'],
    ['namespace', 'label_namespace'],
    ['shipline.dev/pod', 'label_pod'],
    ['__meta', undefined],
  ])('label %j → %j', (key, want) => expect(labelName(key)).toBe(want));

  const pod = (name: string, over: Record<string, unknown> = {}) => ({
    metadata: {
      name,
      namespace: 'ns',
      labels: { app: 'a', 'shipline.dev/track': 'canary' },
      annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8080', 'prometheus.io/path': '/m' },
      ...over,
    },
    status: { phase: 'Running', podIP: '10.244.0.9', conditions: [{ type: 'Ready', status: 'True' }] },
  });

  it('keeps Running, Ready, annotated pods that are not being deleted', () => {
    const notReady = { ...pod('b'), status: { phase: 'Running', podIP: '10.244.0.8', conditions: [{ type: 'Ready', status: 'False' }] } };
    expect(
      podTargets([
        pod('a'),
        notReady,
        pod('c', { deletionTimestamp: '2026-12-02T00:00:00Z' }),
        pod('d', { annotations: { 'prometheus.io/port': '8080' } }),
        pod('e', { annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': 'http' } }),
      ]),
    ).toEqual([{ targets: ['10.244.0.9:8080'], labels: { app: 'a', track: 'canary', namespace: 'ns', pod: 'a', __metrics_path__: '/m' } }]);
  });
});

describe('the stack Pushgateway and pod scraping', () => {
  afterAll(async () => {
    await run('kubectl', ['delete', 'namespace', ns, '--wait=false', '--ignore-not-found'], { allowFail: true });
  });

  it('the Pushgateway is healthy and scraped by Prometheus (honor_labels)', async () => {
    const gw = need('PUSHGATEWAY_URL');
    expect((await httpGet(`${gw}/-/ready`)).status).toBe(200);
    const target = await until(
      'the pushgateway target to be up',
      async () => (await activeTargets()).find((t) => t.scrapePool === 'pushgateway' && t.health === 'up'),
      30_000,
    );
    expect(target.scrapeUrl).toBe(`${gw}/metrics`);
  });

  it('an annotated pod becomes a target with its labels, and is dropped once deleted', async () => {
    await kubectl(['create', 'namespace', ns]);
    const server = `require('node:http').createServer((q, s) => { s.setHeader('content-type', 'text/plain'); s.end(q.url === '/custom-metrics' ? 'pb_up 1\\n' : 'no\\n'); }).listen(8080)`;
    const podYaml = (name: string, annotated: boolean) => `
apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  labels: {app: pb-metrics, version: v7, shipline.dev/track: canary}
${annotated ? "  annotations: {prometheus.io/scrape: 'true', prometheus.io/port: '8080', prometheus.io/path: /custom-metrics}" : ''}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: ${need('SHIPLINE_NODE_IMAGE')}
    command: [node, -e, ${JSON.stringify(server)}]
    ports: [{containerPort: 8080}]
    readinessProbe:
      httpGet: {path: /custom-metrics, port: 8080}
      periodSeconds: 1
`;
    await kubectl(['apply', '-n', ns, '-f', '-'], `${podYaml('scraped', true)}---${podYaml('unannotated', false)}`);
    await sh('kubectl', ['wait', '-n', ns, '--for=condition=Ready', 'pod/scraped', 'pod/unannotated', '--timeout=120s'], { timeoutMs: 130_000 });
    const ready = Date.now();

    const mine = async () => (await activeTargets()).filter((t) => t.labels.namespace === ns);
    const target = await until('pod/scraped to be a target', async () => (await mine()).find((t) => t.labels.pod === 'scraped'), 60_000);
    const appeared = (Date.now() - ready) / 1000;
    const ip = (await kubectl(['get', 'pod', '-n', ns, 'scraped', '-o', 'jsonpath={.status.podIP}'])).trim();
    expect(target.scrapeUrl).toBe(`http://${ip}:8080/custom-metrics`);
    expect(target.labels).toMatchObject({ namespace: ns, pod: 'scraped', app: 'pb-metrics', version: 'v7', track: 'canary', instance: `${ip}:8080` });

    // Scraped, with those labels on its series.
    const prom = need('PROMETHEUS_URL');
    const series = await until(
      'pb_up of pod/scraped in Prometheus',
      async () => {
        const r = await httpGet(`${prom}/api/v1/query?query=${encodeURIComponent(`pb_up{namespace="${ns}"}`)}`);
        const result = (JSON.parse(r.body) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } }).data.result;
        return result.length > 0 ? result : undefined;
      },
      60_000,
    );
    const scraped = (Date.now() - ready) / 1000;
    expect(series).toHaveLength(1);
    expect(series[0]?.metric).toMatchObject({ __name__: 'pb_up', namespace: ns, pod: 'scraped', app: 'pb-metrics', version: 'v7', track: 'canary' });
    expect(series[0]?.value[1]).toBe('1');
    // The pod without the annotation is never a target.
    expect((await mine()).map((t) => t.labels.pod)).toEqual(['scraped']);

    const deleting = Date.now();
    await kubectl(['delete', 'pod', '-n', ns, 'scraped', '--wait=false']);
    await until('pod/scraped to stop being a target', async () => ((await mine()).some((t) => t.labels.pod === 'scraped') ? undefined : true), 60_000);
    const dropped = (Date.now() - deleting) / 1000;
    process.stdout.write(
      `[metrics] pod target: appeared ${appeared.toFixed(1)} s after Ready, first sample ${scraped.toFixed(1)} s after Ready, dropped ${dropped.toFixed(1)} s after delete\n`,
    );
  });
});
