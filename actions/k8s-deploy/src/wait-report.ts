// How k8s-deploy reports the `wait: true` verdict. Apart from wait.ts, so the action's entry chunk
// (loaded before the inputs are checked) takes only types from @shipline/kube, not the engine.
import { type Summary, untrusted } from '@shipline/kit';
import type { VerifyResult } from '@shipline/kube';

/** The step's error when the rollout did not succeed: the first resource that failed (or was not done), with its cause. */
export function waitFailure(v: VerifyResult | undefined): string | undefined {
  if (!v || v.status === 'success') return undefined;
  const bad = v.resources.find((r) => r.state === 'failed') ?? v.resources.find((r) => r.state === 'in-progress');
  const what = v.status === 'timeout' ? 'did not finish in time' : 'failed';
  const detail = bad ? `${bad.ref}: ${bad.reason} — ${bad.message}` : `${v.reason} — ${v.message}`;
  const pod = bad?.pods?.[0];
  return untrusted(`applied, but the rollout ${what}: ${detail}${pod ? ` (pod ${pod.pod}${pod.container ? `, container ${pod.container}` : ''})` : ''}`, {
    oneLine: true,
    max: 2000,
  });
}

/** Adds the verdict per object to k8s-deploy's summary. */
export function waitSummary(s: Summary, v: VerifyResult): void {
  s.heading(`Rollout: ${v.status} (${v.reason}) in ${(v.durationMs / 1000).toFixed(1)} s`, 4).table(
    ['Object', 'Verdict', 'Reason', 'Message'],
    v.resources.map((r) => [r.ref, r.state, r.reason, untrusted(r.message, { oneLine: true, max: 300 })]),
  );
}
