// run.ts over fakes of its Deps: what it does locally before any request, what it hands the
// cluster, what it masks, and how a refusal becomes the outcome (no cluster, no files).
import { type Log, parseInputs, UserError } from '@shipline/kit';
import {
  type AppliedResource,
  ApplyError,
  type DeployOptions,
  type DeployResult,
  ImageRefError,
  KubeError,
  type Manifest,
  NamespaceMissingError,
  type VerifyResult,
} from '@shipline/kube';
import { describe, expect, it } from 'vitest';
import { schema } from './inputs.ts';
import { type ClusterSession, type DeployCluster, type Deps, run } from './run.ts';

const D = `sha256:${'a'.repeat(64)}`;

function fakeLog(lines: string[]): Log {
  return {
    info: (m) => lines.push(m),
    warning: (m) => lines.push(`warning: ${m}`),
    error: (m) => lines.push(`error: ${m}`),
    notice: (m) => lines.push(`notice: ${m}`),
    debug: () => {},
    group: async (title, fn) => {
      lines.push(`[${title}]`);
      return fn();
    },
    external: (t) => lines.push(t),
  };
}

const deployment = (name: string, image: string): Manifest => ({
  source: `k8s/${name}.yaml:1`,
  object: {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: { template: { spec: { containers: [{ name: 'app', image }] } } },
  },
});

const applied = (name: string): AppliedResource => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  namespace: 'shop',
  name,
  uid: `u-${name}`,
  generation: 2,
  action: 'configured',
  revision: { before: '1', after: '2' },
});

interface World {
  deps: Deps;
  lines: string[];
  masked: string[];
  /** What happened, in order: opened, masked, loaded, connected, deployed, waited, closed. */
  events: string[];
  deployed: { manifests: Manifest[]; options: DeployOptions }[];
}

function world(opts: {
  manifests?: Manifest[];
  deploy?: (m: Manifest[], o: DeployOptions) => Promise<DeployResult>;
  wait?: () => Promise<VerifyResult>;
  namespace?: string;
}): World {
  const lines: string[] = [];
  const masked: string[] = [];
  const events: string[] = [];
  const deployed: World['deployed'] = [];
  const cluster: DeployCluster = {
    secrets: ['header-token'],
    deploy: async (manifests, options) => {
      events.push('deploy');
      deployed.push({ manifests: structuredClone(manifests), options });
      return opts.deploy ? opts.deploy(manifests, options) : { dryRun: options.dryRun, resources: [applied('web')], pruned: [], namespaces: ['shop'] };
    },
    wait: async () => {
      events.push('wait');
      if (!opts.wait) throw new Error('wait not expected');
      return opts.wait();
    },
    deployProgressive: async () => {
      throw new Error('a progressive deploy not expected');
    },
    promote: async () => {
      throw new Error('promote not expected');
    },
    reject: async () => {
      throw new Error('reject not expected');
    },
    lock: async (o) => {
      events.push(`lock ${o.namespace}/${o.set} ${o.identity} ${o.timeoutMs}`);
      let held = true;
      return {
        assertHeld: async () => void events.push('lock held?'),
        release: async () => {
          if (held) events.push('unlock');
          held = false;
        },
      };
    },
    close: () => events.push('close cluster'),
  };
  const session: ClusterSession = {
    server: 'https://user:pw@10.0.0.1:6443',
    context: 'ci',
    namespace: opts.namespace,
    origin: 'kubeconfig content',
    secrets: ['kube-token'],
    connect: async (o) => {
      events.push(`connect ${o.concurrency} ${o.requestTimeoutMs}`);
      return cluster;
    },
    close: () => events.push('close session'),
  };
  const deps: Deps = {
    log: fakeLog(lines),
    mask: (s) => {
      masked.push(s);
      events.push(`mask ${s}`);
    },
    openCluster: (choice) => {
      events.push(`open ${choice.path ?? choice.content ?? '-'} ${choice.context ?? '-'}`);
      return session;
    },
    loadManifests: async (sources, vars) => {
      events.push(`load ${sources.join(',')} ${JSON.stringify(vars)}`);
      return structuredClone(opts.manifests ?? [deployment('web', 'reg:5000/shop/web:1')]);
    },
    provenance: { repository: 'acme/shop', commit: 'abc123' },
    lockIdentity: 'run-1',
    now: (() => {
      let t = 0;
      return () => (t += 250);
    })(),
  };
  return { deps, lines, masked, events, deployed };
}

const inputs = (raw: Record<string, string>) => parseInputs(schema, (n) => ({ manifests: 'k8s', kubeconfig: 'kc-text', ...raw })[n]);

describe('k8s-deploy run', () => {
  it('opens the kubeconfig, masks its secrets before logging, reads manifests, then deploys with the inputs as options', async () => {
    const w = world({});
    const out = await run(inputs({ context: 'ci', vars: 'TAG=1', concurrency: '4', 'request-timeout': '20s', 'force-conflicts': 'true', set: 'shop' }), w.deps);
    expect(w.events).toEqual([
      'open kc-text ci',
      'mask kube-token',
      'load k8s {"TAG":"1"}',
      'connect 4 20000',
      'mask header-token',
      'deploy',
      'close cluster',
      'close session',
    ]);
    // The server's userinfo never reaches the log or the outcome.
    expect(w.lines[0]).toMatch(/^cluster https:\/\/.*10\.0\.0\.1:6443 \(context ci, from kubeconfig content\); default namespace default$/);
    expect(w.lines.join('\n')).not.toContain('pw@');
    expect(out.server).not.toContain('pw');
    expect(w.deployed[0]?.options).toMatchObject({
      force: true,
      defaultNamespace: 'default',
      createNamespace: false,
      dryRun: false,
      set: 'shop',
      prune: false,
      concurrency: 4,
    });
    expect(out).toMatchObject({ dryRun: false, context: 'ci', namespace: 'default', resources: [applied('web')], failure: undefined, durationMs: 250 });
    expect(out.wait).toBeUndefined();
  });

  it("takes the context's namespace when the input sets none, and the input over it", async () => {
    expect((await run(inputs({}), world({ namespace: 'shop' }).deps)).namespace).toBe('shop');
    expect((await run(inputs({ namespace: 'other' }), world({ namespace: 'shop' }).deps)).namespace).toBe('other');
  });

  it('pins images, annotates provenance and adds the pull secret before anything is sent', async () => {
    const w = world({ manifests: [deployment('web', 'reg:5000/shop/web:1'), deployment('api', 'docker.io/library/redis:7')] });
    const out = await run(
      inputs({
        images: `reg:5000/shop/web@${D}`,
        'image-pull-secret': 'regcred',
        'registry-username': 'bot',
        'registry-password': 'p4ssw0rd-long',
        namespace: 'shop',
      }),
      w.deps,
    );
    const sent = w.deployed[0]?.manifests ?? [];
    const web = sent.find((m) => m.object.metadata.name === 'web')?.object as unknown as {
      spec: { template: { spec: { containers: { image: string }[]; imagePullSecrets?: unknown } } };
    };
    expect(web.spec.template.spec.containers[0]?.image).toBe(`reg:5000/shop/web@${D}`);
    expect(web.spec.template.spec.imagePullSecrets).toEqual([{ name: 'regcred' }]);
    expect(sent.find((m) => m.object.metadata.name === 'web')?.object.metadata.annotations).toMatchObject({ 'shipline.dev/repository': 'acme/shop' });
    const secret = sent.find((m) => m.source === 'image-pull-secret');
    expect(secret?.object).toMatchObject({ kind: 'Secret', type: 'kubernetes.io/dockerconfigjson', metadata: { name: 'regcred', namespace: 'shop' } });
    expect(out.images).toEqual([{ object: 'Deployment web', container: 'app', from: 'reg:5000/shop/web:1', to: `reg:5000/shop/web@${D}` }]);
    // The credentials as base64 (what a docker config holds) are masked before the deploy.
    expect(w.masked).toContain(Buffer.from('bot:p4ssw0rd-long').toString('base64'));
    expect(w.events.indexOf('deploy')).toBeGreaterThan(w.events.findLastIndex((e) => e.startsWith('mask ')));
  });

  it('waits for the rollout after apply with wait: true, not after a dry-run', async () => {
    const verdict = { status: 'success', reason: 'Current', message: 'ok', durationMs: 1000, resources: [] } as unknown as VerifyResult;
    const w = world({ wait: async () => verdict });
    expect((await run(inputs({ wait: 'true' }), w.deps)).wait).toBe(verdict);
    expect(w.events).toContain('wait');
    const dry = world({ wait: async () => verdict });
    expect((await run(inputs({ wait: 'true', 'dry-run': 'true' }), dry.deps)).wait).toBeUndefined();
    expect(dry.events).not.toContain('wait');
  });

  it('turns a refusal into the outcome with what fixes it, and closes everything', async () => {
    const refusal = new NamespaceMissingError([{ object: 'Namespace shop', reason: 'NotFound', message: 'namespace shop does not exist', namespace: 'shop' }]);
    const w = world({
      deploy: async () => {
        throw refusal;
      },
    });
    const out = await run(inputs({}), w.deps);
    expect(out.failure).toEqual({
      message: refusal.message,
      hint: refusal.hint,
      remedy: 'missing-namespace',
      phase: 'dry-run',
      failures: refusal.failures,
      applied: [],
    });
    expect(out.resources).toEqual([]);
    expect(w.lines).toContain('refused by the API server (dry-run):');
    expect(w.events.slice(-2)).toEqual(['close cluster', 'close session']);
  });

  it('lets other errors through as they are (action.ts maps them), closing the session', async () => {
    const w = world({
      deploy: async () => {
        throw new KubeError('cannot reach');
      },
    });
    await expect(run(inputs({}), w.deps)).rejects.toThrow(KubeError);
    expect(w.events.slice(-2)).toEqual(['close cluster', 'close session']);
    expect(new ApplyError('apply', [])).toBeInstanceOf(KubeError);
  });

  it('fails on local problems before connecting: no objects, a bad image reference', async () => {
    const empty = world({ manifests: [] });
    const err = await run(inputs({}), empty.deps).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err).toMatchObject({ input: 'manifests', message: 'the manifests hold no objects' });
    expect(empty.events.some((e) => e.startsWith('connect'))).toBe(false);
    expect(empty.events.at(-1)).toBe('close session');

    const bad = world({});
    // Two digests for one repository: only planning the images as a set finds that.
    const images = `reg:5000/shop/web@${D}\nreg:5000/shop/web@sha256:${'b'.repeat(64)}`;
    await expect(run(inputs({ images }), bad.deps)).rejects.toBeInstanceOf(ImageRefError);
    expect(bad.events.some((e) => e.startsWith('connect'))).toBe(false);
  });

  describe('deploy lock', () => {
    const pruning = (events: string[]) => ({
      dryRun: false,
      resources: [applied('web')],
      pruned: [],
      namespaces: ['shop'],
      events,
    });
    it('a pruning run takes the lock before applying, checks it before prune and releases it after', async () => {
      const w = world({
        deploy: async (_m, o) => {
          w.events.push('applied');
          await o.beforePrune?.();
          w.events.push('pruned');
          return pruning(w.events);
        },
      });
      await run(inputs({ set: 'orders', prune: 'true', namespace: 'shop', 'lock-timeout': '30s' }), w.deps);
      const e = w.events.filter((x) => /lock|applied|pruned|deploy|close cluster/.test(x));
      expect(e).toEqual(['lock shop/orders run-1 30000', 'deploy', 'applied', 'lock held?', 'pruned', 'unlock', 'close cluster']);
    });
    it('gives the lock back before waiting for the rollout (the next run need not wait for it)', async () => {
      const w = world({ wait: async () => ({ status: 'success', reason: 'ok', resources: [] }) as unknown as VerifyResult });
      await run(inputs({ set: 'orders', prune: 'true', wait: 'true' }), w.deps);
      const e = w.events.filter((x) => x === 'unlock' || x === 'wait');
      expect(e).toEqual(['unlock', 'wait']);
    });
    it.each([
      ['no prune', { set: 'orders' }],
      ['lock: false', { set: 'orders', prune: 'true', lock: 'false' }],
      ['dry-run', { set: 'orders', prune: 'true', 'dry-run': 'true' }],
    ])('%s: no lock', async (_name, raw) => {
      const w = world({});
      await run(inputs(raw), w.deps);
      expect(w.events.filter((x) => x.startsWith('lock') || x === 'unlock')).toEqual([]);
      expect(w.deployed[0]?.options.beforePrune).toBeUndefined();
    });
    it('releases the lock when the deploy throws', async () => {
      const w = world({
        deploy: async () => {
          throw new Error('boom');
        },
      });
      await expect(run(inputs({ set: 'orders', prune: 'true' }), w.deps)).rejects.toThrow('boom');
      expect(w.events).toContain('unlock');
    });
  });
});
