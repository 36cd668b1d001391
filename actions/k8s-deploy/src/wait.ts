// `wait: true`: after apply, the applied objects are verified by the same status engine as
// rollout-verify (one code path), and its verdict decides the step's result.
import { type Log, untrusted } from '@shipline/kit';
import { type AppliedResource, DEFAULT_VERIFY_OPTIONS, type KubeClient, type Target, type VerifyResult, verifyRollout } from '@shipline/kube';

/** The applied objects as the engine's targets: uid, generation and revision tell it which rollout is this one. */
export function targetsOf(resources: AppliedResource[]): Target[] {
  return resources.map((r) => {
    const t: Target = { apiVersion: r.apiVersion, kind: r.kind, namespace: r.namespace, name: r.name, uid: r.uid, generation: r.generation, action: r.action };
    if (r.revision) t.revision = r.revision;
    return t;
  });
}

export async function waitForRollout(client: KubeClient, resources: AppliedResource[], timeoutMs: number, log: Log): Promise<VerifyResult> {
  const targets = targetsOf(resources);
  const result = await log.group(`Wait for the rollout of ${targets.length} object(s), timeout ${Math.round(timeoutMs / 1000)} s`, () =>
    verifyRollout(client, targets, { ...DEFAULT_VERIFY_OPTIONS, timeoutMs, onProgress: (line) => log.info(untrusted(line, { oneLine: true, max: 400 })) }),
  );
  for (const r of result.resources)
    if (r.state !== 'current') log.info(`${r.ref}: ${r.state} (${r.reason}) ${untrusted(r.message, { oneLine: true, max: 500 })}`);
  log.info(`rollout ${result.status} (${result.reason}) after ${(result.durationMs / 1000).toFixed(1)} s`);
  return result;
}
