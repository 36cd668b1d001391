// The input schema: what each form of `workloads`, `selector` and `resources` becomes.
import { parseInputs, UserError } from '@shipline/kit';
import { describe, expect, it } from 'vitest';
import { schema, validate } from './inputs.ts';

const parse = (raw: Record<string, string>) => {
  const i = parseInputs(schema, (n) => raw[n]);
  validate(i);
  return i;
};
const error = (raw: Record<string, string>): UserError => {
  try {
    parse(raw);
  } catch (e) {
    if (e instanceof UserError) return e;
    throw e;
  }
  throw new Error('no error');
};

describe('workloads', () => {
  it.each([
    ['deployment/web', 'Deployment', 'web'],
    ['deploy/web', 'Deployment', 'web'],
    ['Deployments/web', 'Deployment', 'web'],
    ['deployment.apps/web', 'Deployment', 'web'],
    ['sts/db', 'StatefulSet', 'db'],
    ['statefulset/db-0.x', 'StatefulSet', 'db-0.x'],
    ['ds/agent', 'DaemonSet', 'agent'],
    ['job/migrate', 'Job', 'migrate'],
    ['jobs.batch/migrate', 'Job', 'migrate'],
    ['po/one', 'Pod', 'one'],
    ['svc/lb', 'Service', 'lb'],
    ['pvc/data', 'PersistentVolumeClaim', 'data'],
    ['rs/web-5d8f', 'ReplicaSet', 'web-5d8f'],
  ])('%s is %s %s', (raw, kind, name) => {
    expect(parse({ workloads: raw }).workloads).toEqual([{ kind, name }]);
  });

  it('takes lines and comma-separated lists', () => {
    expect(parse({ workloads: 'deploy/a\n  sts/b  \n\nds/c' }).workloads.map((w) => w.name)).toEqual(['a', 'b', 'c']);
    expect(parse({ workloads: 'deploy/a, job/b' }).workloads.map((w) => w.kind)).toEqual(['Deployment', 'Job']);
  });
});

describe('selector', () => {
  it.each([
    'app=web',
    'app==web',
    'app!=web',
    'app',
    '!canary',
    'app=web,tier!=db',
    'env in (prod, staging)',
    'env notin (dev),app',
    'example.com/team=a',
    'app=',
  ])('accepts %s', (s) => expect(parse({ selector: s }).selector).toBe(s));
  it.each(['=web', 'app=web,', 'app>1', 'env in prod', 'a b', 'app=we b', 'app=-web'])('refuses %s', (s) => {
    expect(error({ selector: s }).input).toBe('selector');
  });
});

describe('resources', () => {
  it("takes k8s-deploy's output as it is, nulls included", () => {
    const out = JSON.stringify([
      { apiVersion: 'v1', kind: 'Namespace', namespace: null, name: 'shop', uid: 'u0', generation: null, action: 'unchanged' },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        namespace: 'shop',
        name: 'web',
        uid: 'u1',
        generation: 3,
        action: 'configured',
        revision: { before: '2', after: '3' },
      },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        namespace: 'shop',
        name: 'new',
        uid: 'u2',
        generation: 1,
        action: 'created',
        revision: { before: null, after: '1' },
      },
    ]);
    expect(parse({ resources: out }).resources).toEqual([
      { apiVersion: 'v1', kind: 'Namespace', name: 'shop', uid: 'u0', action: 'unchanged' },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        namespace: 'shop',
        name: 'web',
        uid: 'u1',
        generation: 3,
        action: 'configured',
        revision: { before: '2', after: '3' },
      },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        namespace: 'shop',
        name: 'new',
        uid: 'u2',
        generation: 1,
        action: 'created',
        revision: { before: null, after: '1' },
      },
    ]);
  });

  it('accepts an empty list (a deploy of nothing verifiable)', () => expect(parse({ resources: '[]' }).resources).toEqual([]));
});

describe('exactly one source of targets', () => {
  it.each([
    [{}, 'resources', /none is set/],
    [{ resources: '[]', workloads: 'deploy/a' }, 'workloads', /`resources` and `workloads` are set/],
    [{ resources: '[]', workloads: 'deploy/a', selector: 'a=b' }, 'workloads', /`resources` and `workloads` and `selector` are set/],
    [{ workloads: 'deploy/a', selector: 'a=b' }, 'selector', /`workloads` and `selector` are set/],
  ] as [Record<string, string>, string, RegExp][])('%o', (raw, input, text) => {
    const e = error(raw);
    expect(e.input).toBe(input);
    expect(e.message).toMatch(/give exactly one of `resources`, `workloads` or `selector`/);
    expect(e.message).toMatch(text);
  });

  it('has the documented defaults', () => {
    const i = parse({ workloads: 'deploy/a' });
    expect([i.timeout, i['image-pull-grace'], i['config-grace'], i['unschedulable-grace'], i['max-restarts'], i['log-lines']]).toEqual([
      300_000, 20_000, 10_000, 30_000, 2, 40,
    ]);
    expect([i['rollback-on-failure'], i['wait-for-load-balancer']]).toEqual([false, false]);
  });
});
