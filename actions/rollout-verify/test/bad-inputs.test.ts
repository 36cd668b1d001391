// Every bad input, through the bundle: exit 1, exactly one ::error line naming the input, no stack
// trace, no outputs, and no request to the cluster (the kubeconfig points at a loopback server that
// counts what reaches it).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeconfigFor } from '../../../test/support/kubeconfig.ts';
import { expectRejected, runGitHubAction } from '../../../test/support/run-action.ts';
import { type Served, serve } from '../../../test/support/servers.ts';

let api: Served;
let requests = 0;
let dir: string;
const TOKEN = 'tok-secret-rollout-0123456789';

const kubeconfig = (server: string) => kubeconfigFor(server, TOKEN);

beforeAll(async () => {
  api = await serve((_req, res) => {
    requests++;
    res.writeHead(500);
    res.end();
  });
  dir = mkdtempSync(join(tmpdir(), 'shipline-rv-bad-'));
  writeFileSync(join(dir, 'kubeconfig'), kubeconfig(api.url));
});
afterAll(async () => {
  await api?.close();
  rmSync(dir, { recursive: true, force: true });
});

const RESOURCES = JSON.stringify([
  {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    namespace: 'shop',
    name: 'web',
    uid: 'u-1',
    generation: 2,
    action: 'configured',
    revision: { before: '1', after: '2' },
  },
]);
const base = () => ({ workloads: 'deployment/web', 'kubeconfig-path': join(dir, 'kubeconfig') });
const without = (k: string, o: Record<string, string>) => Object.fromEntries(Object.entries(o).filter(([n]) => n !== k));

// [why, inputs, input named in the error, text the error must contain]
const cases: [string, () => Record<string, string>, string, RegExp][] = [
  [
    'none of resources, workloads, selector',
    () => without('workloads', base()),
    'resources',
    /exactly one of `resources`, `workloads` or `selector`: none is set/,
  ],
  ['resources and workloads', () => ({ ...base(), resources: RESOURCES }), 'workloads', /exactly one of .*`resources` and `workloads` are set/],
  [
    'resources and selector',
    () => ({ ...without('workloads', base()), resources: RESOURCES, selector: 'app=web' }),
    'selector',
    /`resources` and `selector` are set/,
  ],
  ['workloads and selector', () => ({ ...base(), selector: 'app=web' }), 'selector', /`workloads` and `selector` are set/],
  ['resources that are not JSON', () => ({ ...without('workloads', base()), resources: '[{kind: Deployment' }), 'resources', /is not valid JSON/],
  ['resources that are an object', () => ({ ...without('workloads', base()), resources: '{"kind":"Deployment"}' }), 'resources', /must be a JSON list/],
  ['resources item that is a string', () => ({ ...without('workloads', base()), resources: '["deployment/web"]' }), 'resources', /item 1 is not an object/],
  [
    'resources item without kind',
    () => ({ ...without('workloads', base()), resources: '[{"apiVersion":"apps/v1","name":"web"}]' }),
    'resources',
    /item 1 has no kind/,
  ],
  [
    'resources item with a bad revision',
    () => ({ ...without('workloads', base()), resources: '[{"apiVersion":"apps/v1","kind":"Deployment","name":"web","revision":"2"}]' }),
    'resources',
    /revision must be \{before, after\}/,
  ],
  ['workload without a slash', () => ({ ...base(), workloads: 'web' }), 'workloads', /"web" is not kind\/name/],
  ['workload of an unknown kind', () => ({ ...base(), workloads: 'cronjob/nightly' }), 'workloads', /"cronjob" is not a kind this action verifies/],
  ['workload with a bad name', () => ({ ...base(), workloads: 'deploy/Web_1' }), 'workloads', /"Web_1" is not an object name/],
  ['workload listed twice', () => ({ ...base(), workloads: 'deploy/web\ndeployment/web' }), 'workloads', /Deployment\/web is listed twice/],
  ['bad selector', () => ({ ...without('workloads', base()), selector: '=web' }), 'selector', /"=web" is not a label selector term/],
  [
    'selector with a stray operator',
    () => ({ ...without('workloads', base()), selector: 'app=web,tier>db' }),
    'selector',
    /"tier>db" is not a label selector term/,
  ],
  ['bad namespace', () => ({ ...base(), namespace: 'Shop_1' }), 'namespace', /lowercase DNS label/],
  ['timeout without a unit', () => ({ ...base(), timeout: '300' }), 'timeout', /not a duration/],
  ['timeout too short', () => ({ ...base(), timeout: '100ms' }), 'timeout', /too short/],
  ['timeout too long for a timer', () => ({ ...base(), timeout: '600h' }), 'timeout', /too long/],
  ['bad image-pull-grace', () => ({ ...base(), 'image-pull-grace': 'soon' }), 'image-pull-grace', /not a duration/],
  ['config-grace too long', () => ({ ...base(), 'config-grace': '2h' }), 'config-grace', /too long/],
  ['bad unschedulable-grace', () => ({ ...base(), 'unschedulable-grace': '-5s' }), 'unschedulable-grace', /not a duration/],
  ['zero max-restarts', () => ({ ...base(), 'max-restarts': '0' }), 'max-restarts', /out of range/],
  ['fractional log-lines', () => ({ ...base(), 'log-lines': '2.5' }), 'log-lines', /not a whole number/],
  ['YAML 1.1 boolean', () => ({ ...base(), 'rollback-on-failure': 'yes' }), 'rollback-on-failure', /YAML 1\.2 booleans/],
  ['bad wait-for-load-balancer', () => ({ ...base(), 'wait-for-load-balancer': 'maybe' }), 'wait-for-load-balancer', /not a boolean/],
  ['kubeconfig that is not YAML', () => ({ workloads: 'deploy/web', kubeconfig: 'a: [b' }), 'kubeconfig', /not valid YAML/],
  ['kubeconfig-path missing', () => ({ ...base(), 'kubeconfig-path': join(dir, 'nope') }), 'kubeconfig-path', /does not exist/],
  ['both kubeconfig and kubeconfig-path', () => ({ ...base(), kubeconfig: kubeconfig(api.url) }), 'kubeconfig-path', /both `kubeconfig` and `kubeconfig-path`/],
  ['unknown context', () => ({ ...base(), context: 'prod' }), 'context', /context "prod" is not in the kubeconfig/],
];

describe('rollout-verify rejects bad input', () => {
  it.each(cases)('%s', async (_why, inputs, name, text) => {
    const before = requests;
    const r = await runGitHubAction('rollout-verify', inputs(), { env: { HOME: dir, RUNNER_TEMP: dir } });
    expectRejected(r, name, text);
    expect(r.stdout.replace(/::add-mask::.*\n/g, '')).not.toContain(TOKEN);
    expect(requests - before).toBe(0);
  });

  it('has at least 20 distinct cases', () => expect(new Set(cases.map((c) => c[0])).size).toBeGreaterThanOrEqual(20));
});
