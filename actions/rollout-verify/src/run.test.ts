// run() with a scripted cluster: which targets are asked for, what is collected, what is rolled
// back and verified again, and what the outputs and summary then say.

import type { Gate, Measurement } from '@shipline/gates';
import { fakePrometheus } from '@shipline/gates/testing/fake-prometheus';
import { MemoryHost, parseInputs, secrets, UserError } from '@shipline/kit';
import {
  type Evidence,
  KubeError,
  type ResourceVerdict,
  type RollbackResult,
  type Target,
  type TargetSpec,
  type VerifyOptions,
  type VerifyResult,
} from '@shipline/kube';
import { describe, expect, it } from 'vitest';
import type { Requester } from '../../smoke-test/src/http.ts';
import { gatesOf, type SmokeGateDeps } from './gates.ts';
import { schema, validate } from './inputs.ts';
import { annotation, failedResources, failureMessage, rolledBack, summary } from './report.ts';
import { type Cluster, type DeliveryRecord, type Deps, deliveryRecord, type RejectResult, run, type VerifyOutcome } from './run.ts';

const smokeDeps: SmokeGateDeps = {
  request: async () => {
    throw new Error('no request expected');
  },
  now: () => performance.now(),
  sleep: async () => {},
  log: new MemoryHost(),
  mask: () => {},
};

const web: Target = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  namespace: 'shop',
  name: 'web',
  uid: 'u1',
  generation: 3,
  revision: { before: '2', after: '3' },
};
const db: Target = {
  apiVersion: 'apps/v1',
  kind: 'StatefulSet',
  namespace: 'shop',
  name: 'db',
  uid: 'u2',
  generation: 5,
  revision: { before: 'db-a', after: 'db-b' },
};
const job: Target = { apiVersion: 'batch/v1', kind: 'Job', namespace: 'shop', name: 'migrate', uid: 'u3' };

const verdict = (target: Target, state: ResourceVerdict['state'], reason: string, message: string, extra: Partial<ResourceVerdict> = {}): ResourceVerdict =>
  ({ target, ref: `${target.kind} ${target.namespace}/${target.name}`, state, reason, message, durationMs: 4200, ...extra }) as ResourceVerdict;

const result = (
  status: VerifyResult['status'],
  resources: ResourceVerdict[],
  reason = resources.find((r) => r.state === 'failed')?.reason ?? 'Current',
): VerifyResult => ({ status, reason, message: `${status} message`, resources, durationMs: 5000 }) as VerifyResult;

function harness(script: {
  targets: Target[] | (() => Promise<Target[]>);
  verdicts: VerifyResult[];
  rollback?: (t: Target) => Promise<RollbackResult>;
  evidence?: (v: ResourceVerdict) => Promise<Evidence>;
  reject?: (targets: Target[]) => Promise<RejectResult[]>;
}) {
  let now = 1000;
  const calls = {
    resolve: [] as TargetSpec[],
    verify: [] as { targets: Target[]; opts: VerifyOptions }[],
    evidence: [] as string[],
    rollback: [] as Target[],
    reject: [] as Target[][],
  };
  let written = '';
  const host = new MemoryHost();
  const cluster: Cluster = {
    resolve: async (spec) => {
      calls.resolve.push(spec);
      return typeof script.targets === 'function' ? script.targets() : script.targets;
    },
    verify: async (targets, opts) => {
      calls.verify.push({ targets, opts });
      opts.onProgress?.('web: 1/3 updated, 0/3 ready, 0/3 available');
      now += 7000;
      const next = script.verdicts.shift();
      if (!next) throw new Error('verify called more often than scripted');
      return next;
    },
    evidence: async (v) => {
      calls.evidence.push(v.ref);
      if (script.evidence) return script.evidence(v);
      return {
        ref: v.ref,
        reason: v.reason,
        message: v.message,
        pods: v.pods ?? [],
        events: [
          {
            object: 'Pod shop/web-1',
            type: 'Warning',
            reason: 'BackOff',
            message: 'Back-off restarting failed container',
            count: 4,
            lastSeen: '2026-12-01T20:00:00Z',
          },
        ],
        logs: [{ pod: 'web-1', container: 'web', previous: true, lines: ['starting', 'Error: cannot connect to db', '```'] }],
      } as Evidence;
    },
    rollback: async (t) => {
      calls.rollback.push(t);
      if (script.rollback) return script.rollback(t);
      return {
        ref: `${t.kind} ${t.namespace}/${t.name}`,
        from: t.revision?.after ?? null,
        to: t.revision?.before ?? null,
        rolledBack: true,
        message: 'restored',
      };
    },
    reject: async (targets) => {
      calls.reject.push(targets);
      if (script.reject) return script.reject(targets);
      return [];
    },
  };
  const deps: Deps = {
    cluster,
    log: host,
    namespace: 'shop',
    writeDiagnostics: (json) => {
      written = json;
      return '/runner/tmp/diagnostics.json';
    },
    now: () => now,
  };
  return { deps, calls, host, diagnostics: () => JSON.parse(written) };
}

const inputs = (raw: Record<string, string>) => {
  const i = parseInputs(schema, (n) => raw[n]);
  validate(i);
  return i;
};
const RESOURCES = JSON.stringify([web, db]);

describe('rollout-verify run', () => {
  it.each([
    [{ resources: RESOURCES }, { resources: [web, db] }],
    [
      { workloads: 'deploy/web\nsts/db' },
      {
        workloads: [
          { kind: 'Deployment', name: 'web' },
          { kind: 'StatefulSet', name: 'db' },
        ],
        namespace: 'shop',
      },
    ],
    [{ selector: 'app=web' }, { selector: 'app=web', namespace: 'shop' }],
  ] as [Record<string, string>, TargetSpec][])('asks the engine for the targets of %o', async (raw, spec) => {
    const h = harness({ targets: [web], verdicts: [result('success', [verdict(web, 'current', 'Current', '3/3 ready')])] });
    const r = await run(inputs(raw), h.deps);
    expect(h.calls.resolve).toEqual([spec]);
    expect(r.status).toBe('success');
  });

  it('hands every input to the engine as options and logs its progress', async () => {
    const h = harness({ targets: [web], verdicts: [result('success', [verdict(web, 'current', 'Current', 'done')])] });
    await run(
      inputs({
        workloads: 'deploy/web',
        timeout: '90s',
        'image-pull-grace': '5s',
        'config-grace': '3s',
        'unschedulable-grace': '1m',
        'max-restarts': '4',
        'wait-for-load-balancer': 'true',
      }),
      h.deps,
    );
    const { onProgress: _, signal: __, ...opts } = (h.calls.verify[0] as { opts: VerifyOptions }).opts;
    expect(opts).toEqual({
      timeoutMs: 90_000,
      imagePullGraceMs: 5000,
      configGraceMs: 3000,
      unschedulableGraceMs: 60_000,
      maxRestarts: 4,
      waitForLoadBalancer: true,
    });
    expect(h.host.log.join('')).toContain('web: 1/3 updated, 0/3 ready, 0/3 available');
  });

  it('succeeds without evidence, rollback or annotations', async () => {
    const h = harness({
      targets: [web, db],
      verdicts: [result('success', [verdict(web, 'current', 'Current', 'ok'), verdict(db, 'current', 'Current', 'ok')])],
    });
    const r = await run(inputs({ resources: RESOURCES, 'rollback-on-failure': 'true' }), h.deps);
    expect(r).toMatchObject({
      status: 'success',
      reason: 'Current',
      problems: [],
      evidence: [],
      rollback: undefined,
      diagnostics: '/runner/tmp/diagnostics.json',
      durationMs: 7000,
    });
    expect(h.calls.evidence).toEqual([]);
    expect(h.calls.rollback).toEqual([]);
    expect(failureMessage(r)).toBeUndefined();
    expect(failedResources(r)).toEqual([]);
    expect(rolledBack(r)).toEqual([]);
  });

  it('collects evidence for each failed resource and names the pod in the annotation', async () => {
    const pods = [{ pod: 'web-7c9-abcde', container: 'web', reason: 'CrashLoopBackOff', message: 'back-off 10s restarting', exitCode: 3, restarts: 2 }];
    const h = harness({
      targets: [web, db],
      verdicts: [
        result('failed', [
          verdict(web, 'failed', 'CrashLoopBackOff', 'container web keeps crashing', { pods } as Partial<ResourceVerdict>),
          verdict(db, 'current', 'Current', 'ok'),
        ]),
      ],
    });
    const r = await run(inputs({ resources: RESOURCES }), h.deps);
    expect(r.status).toBe('failed');
    expect(r.reason).toBe('CrashLoopBackOff');
    expect(h.calls.evidence).toEqual(['Deployment shop/web']);
    expect(failedResources(r)).toEqual([
      {
        ref: 'Deployment shop/web',
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        namespace: 'shop',
        name: 'web',
        state: 'failed',
        reason: 'CrashLoopBackOff',
        message: 'container web keeps crashing',
        pods,
      },
    ]);
    expect(failureMessage(r)).toBe('Deployment shop/web: CrashLoopBackOff — container web keeps crashing (pod web-7c9-abcde, container web, exit code 3)');
    expect(h.calls.rollback).toEqual([]);
    const md = summary(r).toMarkdown();
    expect(md).toContain('| Deployment shop/web | failed | CrashLoopBackOff |');
    expect(md).toContain('| StatefulSet shop/db | current | Current |');
    expect(md).toContain('<details><summary>Deployment shop/web: CrashLoopBackOff</summary>');
    expect(md).toContain('Log of web-1/web (previous instance), last 3 line(s):');
    expect(md).toContain('Error: cannot connect to db');
    // A fence from a log line would close the details block early.
    expect(md.split('```').length).toBe(3);
    expect(h.diagnostics()).toMatchObject({
      status: 'failed',
      reason: 'CrashLoopBackOff',
      evidence: [{ ref: 'Deployment shop/web', events: [{ reason: 'BackOff' }] }],
    });
  });

  it('on a timeout reports the resources not done, and does not roll back', async () => {
    const h = harness({
      targets: [web, db],
      verdicts: [result('timeout', [verdict(web, 'current', 'Current', 'ok'), verdict(db, 'in-progress', 'InProgress', '1/3 ready')], 'Timeout')],
    });
    const r = await run(inputs({ resources: RESOURCES, 'rollback-on-failure': 'true' }), h.deps);
    expect(r.status).toBe('timeout');
    expect(r.problems.map((p) => p.ref)).toEqual(['StatefulSet shop/db']);
    expect(h.calls.evidence).toEqual(['StatefulSet shop/db']);
    expect(h.calls.rollback).toEqual([]);
    expect(failureMessage(r)).toBe('timed out after 7.0 s: StatefulSet shop/db: InProgress — 1/3 ready');
  });

  it('rolls back each failed workload, verifies what is live now, and reports the time to restore', async () => {
    const h = harness({
      targets: [web, db, job],
      verdicts: [
        result('failed', [
          verdict(web, 'failed', 'ImageNotFound', 'tag 9.9 not found'),
          verdict(db, 'failed', 'OOMKilled', 'killed'),
          verdict(job, 'failed', 'JobFailed', 'backoff limit'),
        ]),
        result('success', [verdict(web, 'current', 'Current', 'ok'), verdict(db, 'current', 'Current', 'ok')]),
      ],
    });
    const r = await run(inputs({ resources: JSON.stringify([web, db, job]), 'rollback-on-failure': 'true' }), h.deps);
    expect(h.calls.rollback.map((t) => t.name)).toEqual(['web', 'db']);
    // The second verify sees the workloads without the deploy's generation and revision.
    expect(h.calls.verify[1]?.targets).toEqual([
      { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web', uid: 'u1' },
      { apiVersion: 'apps/v1', kind: 'StatefulSet', namespace: 'shop', name: 'db', uid: 'u2' },
    ]);
    expect(r.status).toBe('failed');
    expect(r.rollback?.restoreMs).toBe(7000);
    expect(r.rollback?.results.find((x) => x.ref === 'Job shop/migrate')).toMatchObject({
      rolledBack: false,
      message: 'a Job has no earlier revision to go back to',
    });
    expect(rolledBack(r)).toEqual([
      { ref: 'Deployment shop/web', from: '3', to: '2', restored: true, reason: 'Current', restoreMs: 7000 },
      { ref: 'StatefulSet shop/db', from: 'db-b', to: 'db-a', restored: true, reason: 'Current', restoreMs: 7000 },
    ]);
    const md = summary(r).toMarkdown();
    expect(md).toContain('The previous revision is back and verified, 7.0 s after the rollback started.');
    expect(md).toContain('| Job shop/migrate | no | — | — | — | a Job has no earlier revision to go back to |');
  });

  it('reports a workload this deploy created instead of deleting it, and verifies nothing when none was rolled back', async () => {
    const created: Target = { ...web, name: 'fresh', revision: { before: null, after: '1' }, action: 'created' };
    const h = harness({
      targets: [created],
      verdicts: [result('failed', [verdict(created, 'failed', 'CrashLoopBackOff', 'crashing')])],
      rollback: async (t) => ({
        ref: `Deployment shop/${t.name}`,
        from: '1',
        to: null,
        rolledBack: false,
        message: 'created by this deploy: left in place, not deleted',
      }),
    });
    const r = await run(inputs({ resources: JSON.stringify([created]), 'rollback-on-failure': 'true' }), h.deps);
    expect(h.calls.verify).toHaveLength(1);
    expect(r.rollback).toMatchObject({ verify: undefined, results: [{ rolledBack: false, message: 'created by this deploy: left in place, not deleted' }] });
    expect(rolledBack(r)).toEqual([]);
  });

  it('rolls back, with the failed one, a workload not done when the verdict fell', async () => {
    const h = harness({
      targets: [web, db],
      verdicts: [
        result('failed', [verdict(web, 'in-progress', 'InProgress', '0/2 ready'), verdict(db, 'failed', 'CrashLoopBackOff', 'crashing')]),
        result('success', [verdict(web, 'current', 'Current', 'ok'), verdict(db, 'current', 'Current', 'ok')]),
      ],
    });
    const r = await run(inputs({ resources: RESOURCES, 'rollback-on-failure': 'true' }), h.deps);
    expect(h.calls.rollback.map((t) => t.name)).toEqual(['web', 'db']);
    expect(failedResources(r).map((f) => [f.ref, f.state])).toEqual([
      ['Deployment shop/web', 'in-progress'],
      ['StatefulSet shop/db', 'failed'],
    ]);
  });

  it('names the input when the engine refuses what to verify', async () => {
    const h = harness({
      targets: async () => {
        throw new KubeError(
          'no Deployment, StatefulSet, DaemonSet or Job in namespace shop matches the selector "app=x"',
          'check the selector and the namespace',
        );
      },
      verdicts: [],
    });
    const e = (await run(inputs({ selector: 'app=x' }), h.deps).catch((x) => x)) as UserError;
    expect(e).toBeInstanceOf(UserError);
    expect(e.oneLine()).toBe(
      'input "selector": no Deployment, StatefulSet, DaemonSet or Job in namespace shop matches the selector "app=x" — check the selector and the namespace',
    );
  });

  it('keeps rolling back the others when one rollback throws', async () => {
    const h = harness({
      targets: [web, db],
      verdicts: [
        result('failed', [verdict(web, 'failed', 'OOMKilled', 'x'), verdict(db, 'failed', 'OOMKilled', 'y')]),
        result('success', [verdict(db, 'current', 'Current', 'ok')]),
      ],
      rollback: async (t) => {
        if (t.name === 'web') throw new Error('deployments.apps "web" is forbidden');
        return { ref: 'StatefulSet shop/db', from: 'db-b', to: 'db-a', rolledBack: true, message: 'ok' };
      },
    });
    const r = await run(inputs({ resources: RESOURCES, 'rollback-on-failure': 'true' }), h.deps);
    expect(r.rollback?.results.map((x) => [x.ref, x.rolledBack, x.message])).toEqual([
      ['Deployment shop/web', false, 'deployments.apps "web" is forbidden'],
      ['StatefulSet shop/db', true, 'ok'],
    ]);
    expect(h.calls.verify[1]?.targets.map((t) => t.name)).toEqual(['db']);
  });

  it('still reports the verdict when evidence cannot be read', async () => {
    const h = harness({
      targets: [web],
      verdicts: [result('failed', [verdict(web, 'failed', 'ImageNotFound', 'not found')])],
      evidence: async () => {
        throw new Error('pods is forbidden');
      },
    });
    const r = await run(inputs({ workloads: 'deploy/web' }), h.deps);
    expect(r.status).toBe('failed');
    expect(r.evidence).toEqual([{ ref: 'Deployment shop/web', reason: 'ImageNotFound', message: 'not found', pods: [], events: [], logs: [] }]);
    expect(h.host.log.join('')).toContain('warning: Deployment shop/web: could not collect evidence: pods is forbidden');
  });

  it('fails with an error naming `selector` when it matches nothing', async () => {
    const h = harness({ targets: [], verdicts: [] });
    const e = await run(inputs({ selector: 'app=nothing' }), h.deps).catch((x) => x);
    expect(e).toBeInstanceOf(UserError);
    expect((e as UserError).oneLine()).toMatch(/^input "selector": selector "app=nothing" matches no workload in namespace shop/);
  });

  it('succeeds with a warning on an empty `resources` list, asking the engine nothing', async () => {
    const h = harness({ targets: [], verdicts: [] });
    const r = await run(inputs({ resources: '[]' }), h.deps);
    expect(r).toMatchObject({ status: 'success', reason: 'Current', resources: [] });
    expect(h.calls.verify).toEqual([]);
    expect(h.host.log.join('')).toContain('warning: `resources` lists no objects');
  });

  it('masks secrets and disarms runner commands in text from the cluster', async () => {
    secrets.add('hunter2-cluster-token');
    const h = harness({
      targets: [web],
      verdicts: [result('failed', [verdict(web, 'failed', 'RunContainerError', 'exec: token hunter2-cluster-token\n::set-output name=status::success')])],
    });
    const r = await run(inputs({ workloads: 'deploy/web' }), h.deps);
    const text = annotation(r.problems[0] as ResourceVerdict);
    expect(text).not.toContain('hunter2-cluster-token');
    expect(text).not.toMatch(/(^|\n)\s*::/);
    expect(JSON.stringify(h.diagnostics())).not.toContain('hunter2-cluster-token');
  });
});

describe('gates', () => {
  const ok = () => result('success', [verdict(web, 'current', 'Current', '3/3 ready')]);
  /** A gate that answers the scripted outcomes in turn (the last one repeats). */
  const scripted = (name: string, outcomes: Array<'pass' | 'fail' | 'inconclusive' | 'error'>, value = 0.002): Gate => {
    let n = 0;
    return {
      name,
      condition: '< 0.01',
      measure: async (at) => {
        const outcome = outcomes[Math.min(n++, outcomes.length - 1)] as Measurement['outcome'];
        const values = outcome === 'error' ? [] : [{ labels: { track: 'canary' }, value: outcome === 'inconclusive' ? ('NaN' as const) : value, outcome }];
        return { gate: name, time: at.toISOString(), outcome, values, reason: `${outcome} because ${value}` };
      },
    };
  };
  const baking = (h: ReturnType<typeof harness>, gates: Gate[]) => {
    let wall = Date.parse('2026-12-02T03:00:00Z');
    h.deps.gates = gates;
    h.deps.clock = () => wall;
    h.deps.sleep = async (ms) => {
      wall += ms;
    };
    return h;
  };
  const GATED = { resources: RESOURCES, metrics: 'error-rate: x < 0.01', 'prometheus-url': 'http://127.0.0.1:9', 'bake-time': '30s', interval: '10s' };

  it('bakes after a Current rollout and passes when every gate passed', async () => {
    const h = baking(harness({ targets: [web], verdicts: [ok()] }), [scripted('error-rate', ['pass'])]);
    const r = await run(inputs(GATED), h.deps);
    expect(r.status).toBe('success');
    expect(r.gates?.verdict).toBe('passed');
    expect(r.gates?.gates[0]?.measurements).toHaveLength(3);
    expect(failureMessage(r)).toBeUndefined();
    expect(h.host.log.join('\n')).toMatch(/error-rate: pass 0.002/);
    const md = summary(r).toMarkdown();
    expect(md).toContain('Gates: passed');
    expect(md).toMatch(/\| error-rate \| passed \| 3 \| 0 \| 0 \| 0 \|/);
  });

  it('fails on the first failed measurement, names the gate and the value, and rejects with on-failure: reject', async () => {
    const rejected: RejectResult[] = [
      { strategy: 'canary', namespace: 'shop', workload: 'web-canary', rejected: true, message: 'canary deleted; stable Current' },
    ];
    const h = baking(harness({ targets: [web], verdicts: [ok()], reject: async () => rejected }), [scripted('error-rate', ['pass', 'fail'], 0.23)]);
    const r = await run(inputs({ ...GATED, 'on-failure': 'reject' }), h.deps);
    expect(r.status).toBe('failed');
    expect(r.reason).toBe('GateFailed');
    expect(r.gates?.gates[0]?.measurements).toHaveLength(2);
    expect(h.calls.reject).toEqual([[web]]);
    expect(r.rejected).toEqual(rejected);
    expect(failureMessage(r)).toMatch(/gates failed: gate "error-rate" failed: fail because 0.23 .*failure-limit 0.*web-canary: rejected/);
    expect(summary(r).toMarkdown()).toContain('| shop/web-canary | canary | yes |');
  });

  it('tolerates failures up to failure-limit', async () => {
    const h = baking(harness({ targets: [web], verdicts: [ok()] }), [scripted('error-rate', ['fail', 'pass'])]);
    const r = await run(inputs({ ...GATED, 'failure-limit': '1' }), h.deps);
    expect(r.status).toBe('success');
  });

  it('never bakes a rollout that failed', async () => {
    const h = baking(harness({ targets: [web], verdicts: [result('failed', [verdict(web, 'failed', 'CrashLoopBackOff', 'crash')])] }), [
      scripted('error-rate', ['pass']),
    ]);
    const r = await run(inputs(GATED), h.deps);
    expect(r.gates).toBeUndefined();
    expect(r.reason).toBe('CrashLoopBackOff');
  });

  it.each([
    ['fail', 'inconclusive', 'GateInconclusive', 0],
    ['reject', 'inconclusive', 'GateInconclusive', 1],
    ['pass', 'success', 'Current', 0],
  ] as const)('inconclusive gates with on-inconclusive: %s end %s', async (mode, status, reason, rejects) => {
    const h = baking(harness({ targets: [web], verdicts: [ok()] }), [scripted('error-rate', ['inconclusive'])]);
    const r = await run(inputs({ ...GATED, 'on-inconclusive': mode }), h.deps);
    expect(r.status).toBe(status);
    expect(r.reason).toBe(reason);
    expect(h.calls.reject).toHaveLength(rejects);
    if (mode === 'pass') expect(h.host.log.join('\n')).toMatch(/warning.*gates inconclusive, passed/);
    else expect(failureMessage(r)).toMatch(/gates inconclusive: .*inconclusive-limit 0/);
  });

  it('rolls every workload back when a gate fails a rolling deploy with rollback-on-failure', async () => {
    const restored = result('success', [verdict(web, 'current', 'Current', 'back')]);
    const h = baking(harness({ targets: [web], verdicts: [ok(), restored] }), [scripted('error-rate', ['fail'])]);
    const r = await run(inputs({ ...GATED, 'rollback-on-failure': 'true' }), h.deps);
    expect(h.calls.rollback.map((t) => t.name)).toEqual(['web']);
    expect(r.rollback?.verify?.status).toBe('success');
  });

  it('measures a metric gate against Prometheus: a failing series fails it with its labels', async () => {
    const prom = await fakePrometheus((req) => ({
      body: {
        status: 'success',
        data: {
          resultType: 'vector',
          result: [
            { metric: { track: 'stable' }, value: [0, '0'] },
            { metric: { track: 'canary' }, value: [0, req.url.searchParams.get('query')?.includes('5..') ? '0.4' : '0'] },
          ],
        },
      },
    }));
    try {
      const i = inputs({ ...GATED, metrics: 'error-rate: sum by (track) (rate(http_requests_total{code=~"5.."}[1m])) < 0.05', 'prometheus-url': prom.url });
      const h = baking(harness({ targets: [web], verdicts: [ok()] }), gatesOf(i, smokeDeps, { mask: () => {} }));
      const r = await run(i, h.deps);
      expect(r.status).toBe('failed');
      expect(r.message).toMatch(/0.4 for \{track="canary"\} is not < 0.05/);
      expect(prom.requests[0]?.url.searchParams.get('query')).toContain('sum by (track)');
    } finally {
      await prom.close();
    }
  });

  it("judges answers with the smoke gate: one attempt per measurement, smoke-test's expectations", async () => {
    let n = 0;
    const request: Requester = async () => {
      n++;
      return { status: n >= 3 ? 500 : 200, headers: {}, body: '{"ok":true}', latencyMs: 3, url: 'http://127.0.0.1:1/healthz', redirects: 0 } as never;
    };
    const i = inputs({ resources: RESOURCES, 'smoke-url': 'http://127.0.0.1:1/healthz', 'bake-time': '30s', interval: '10s' });
    const h = baking(harness({ targets: [web], verdicts: [ok()] }), gatesOf(i, { ...smokeDeps, request }, { mask: () => {} }));
    const r = await run(i, h.deps);
    expect(n).toBe(3);
    expect(r.status).toBe('failed');
    expect(r.gates?.gates[0]?.gate).toBe('smoke');
    expect(r.message).toMatch(/http:\/\/127.0.0.1:1\/healthz: .*500/);
  });

  it.each([
    [{ metrics: 'error-rate: x < 0.01' }, 'prometheus-url', /needs a Prometheus/],
    [{ 'prometheus-url': 'http://127.0.0.1:9090' }, 'metrics', /no `metrics` gate/],
    [{ 'bake-time': '5m' }, 'bake-time', /no gate is defined/],
    [{ 'on-inconclusive': 'pass' }, 'on-inconclusive', /no gate is defined/],
    [{ ...GATED, interval: '1m' }, 'interval', /longer than `bake-time`/],
    [{ ...GATED, metrics: 'error-rate: sum(rate(x[1m])) <' }, 'metrics', /threshold after "<" must be a number/],
    [{ ...GATED, 'min-samples': '10' }, 'min-samples', /no gate has a samples line/],
    [{ service: 'orders' }, 'pushgateway-url', /only used for delivery metrics/],
    [{ 'pushgateway-url': 'http://127.0.0.1:9091', digest: 'sha256:abc' }, 'digest', /sha256/],
    [{ 'on-failure': 'undo' }, 'on-failure', /fail, reject/],
  ] as [Record<string, string>, string, RegExp][])('refuses %o naming %s', (raw, name, message) => {
    let err: unknown;
    try {
      inputs({ resources: RESOURCES, ...raw });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).input).toBe(name);
    expect(`${(err as UserError).message} ${(err as UserError).hint}`).toMatch(message);
  });
});

describe('delivery metrics', () => {
  const i = () => inputs({ resources: RESOURCES, 'pushgateway-url': 'http://127.0.0.1:9091', digest: `sha256:${'a'.repeat(64)}` });
  it('pushes one record per verdict; a verified rollback is rolled_back with its time to restore', async () => {
    const pushed: DeliveryRecord[] = [];
    const h = harness({
      targets: [web],
      verdicts: [result('failed', [verdict(web, 'failed', 'CrashLoopBackOff', 'crash')]), result('success', [verdict(web, 'current', 'Current', 'back')])],
    });
    h.deps.pushDelivery = async (rec) => {
      pushed.push(rec);
    };
    const raw = { resources: RESOURCES, 'rollback-on-failure': 'true', 'pushgateway-url': 'http://127.0.0.1:9091', environment: 'prod' };
    const r = await run(inputs(raw), h.deps);
    expect(r.deliveryPushed).toBe(true);
    expect(pushed).toEqual([expect.objectContaining({ service: 'web', environment: 'prod', verdict: 'rolled_back', timeToRestoreSeconds: 7, digest: '' })]);
  });
  it('names a canary release by its service and defaults the environment to the namespace', () => {
    const canary = { ...web, name: 'web-canary' };
    const o = { status: 'success', resources: [verdict(canary, 'current', 'Current', '')], rejected: [] } as unknown as VerifyOutcome;
    const rec = deliveryRecord(i(), o, 'shop', 2_000_000, 1_940_000);
    expect(rec).toEqual({
      service: 'web',
      environment: 'shop',
      digest: `sha256:${'a'.repeat(64)}`,
      verdict: 'success',
      deployDurationSeconds: 60,
      timestampSeconds: 2000,
    });
  });
  it('keeps the verdict when the push fails, with a warning', async () => {
    const h = harness({ targets: [web], verdicts: [result('success', [verdict(web, 'current', 'Current', '')])] });
    h.deps.pushDelivery = async () => {
      throw new Error('connect ECONNREFUSED 127.0.0.1:9091');
    };
    const r = await run(i(), h.deps);
    expect(r.status).toBe('success');
    expect(r.deliveryPushed).toBe(false);
    expect(h.host.log.join('\n')).toMatch(/warning.*delivery metrics not pushed: connect ECONNREFUSED/);
  });
});
