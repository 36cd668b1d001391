// How a verdict is shown: outputs, the job summary and error annotations. Pure functions of the
// outcome; every text from the cluster in it has already been made untrusted-safe by run().
import { Summary } from '@shipline/kit';
import type { Evidence, ResourceVerdict } from '@shipline/kube';
import type { VerifyOutcome } from './run.ts';

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The `failed-resources` output. */
export function failedResources(r: VerifyOutcome) {
  return r.problems.map((v) => ({
    ref: v.ref,
    apiVersion: v.target.apiVersion,
    kind: v.target.kind,
    namespace: v.target.namespace ?? null,
    name: v.target.name,
    state: v.state,
    reason: v.reason,
    message: v.message,
    pods: v.pods ?? [],
  }));
}

/** The `rolled-back` output: every workload rolled back, with the verdict on the restored revision. */
export function rolledBack(r: VerifyOutcome) {
  if (!r.rollback) return [];
  return r.rollback.results
    .filter((x) => x.rolledBack)
    .map((x) => {
      const v = r.rollback?.verify?.resources.find((y) => y.ref === x.ref);
      return { ref: x.ref, from: x.from, to: x.to, restored: v?.state === 'current', reason: v?.reason ?? null, restoreMs: r.rollback?.restoreMs ?? null };
    });
}

/** One error annotation's text for a resource that failed (or had not finished at a timeout). */
export function annotation(v: ResourceVerdict): string {
  const pod = v.pods?.[0];
  // The engine's message usually names the pod already; say which one only when it does not.
  const where =
    pod && !v.message.includes(pod.pod)
      ? ` (pod ${pod.pod}${pod.container ? `, container ${pod.container}` : ''}${pod.exitCode !== undefined ? `, exit code ${pod.exitCode}` : ''})`
      : '';
  return `${v.ref}: ${v.reason} — ${v.message}${where}`;
}

/** What the host reports as the action's error: the first problem (the rest are annotated in run). */
export function failureMessage(r: VerifyOutcome): string | undefined {
  if (r.status === 'success') return undefined;
  const first = r.problems[0];
  if (!first) return `rollout ${r.status === 'timeout' ? 'timed out' : 'failed'}: ${r.reason} — ${r.message}`;
  return r.status === 'timeout' ? `timed out after ${seconds(r.durationMs)}: ${annotation(first)}` : annotation(first);
}

const ICON = { success: '✅', failed: '❌', timeout: '⏱️' } as const;

export function summary(r: VerifyOutcome): Summary {
  const s = new Summary();
  const title = r.status === 'success' ? 'rollout verified' : r.status === 'failed' ? 'rollout failed' : 'rollout timed out';
  s.heading(`rollout-verify: ${title} ${ICON[r.status]}`);
  s.paragraph(`\`${r.reason}\`: ${r.message}`);
  if (r.resources.length) {
    s.table(
      ['Resource', 'Verdict', 'Reason', 'Progress', 'Time', 'Message'],
      r.resources.map((v) => [
        v.ref,
        v.state,
        v.reason,
        v.progress ? `${v.progress.updated}/${v.progress.desired} updated, ${v.progress.ready} ready, ${v.progress.available} available` : '',
        seconds(v.durationMs),
        v.message,
      ]),
    );
  }
  for (const e of r.evidence) s.details(`${e.ref}: ${e.reason}`, evidenceText(e));
  if (r.rollback) {
    const rb = r.rollback;
    s.heading('Rollback', 4);
    s.table(
      ['Resource', 'Rolled back', 'From', 'To', 'Verdict after', 'Message'],
      rb.results.map((x) => {
        const v = rb.verify?.resources.find((y) => y.ref === x.ref);
        return [x.ref, x.rolledBack ? 'yes' : 'no', x.from ?? '—', x.to ?? '—', v ? `${v.state} (${v.reason})` : '—', x.message];
      }),
    );
    if (rb.verify) {
      s.paragraph(
        rb.verify.status === 'success'
          ? `The previous revision is back and verified, ${seconds(rb.restoreMs)} after the rollback started.`
          : `The rollback did not verify: \`${rb.verify.reason}\` — ${rb.verify.message} (${seconds(rb.restoreMs)}).`,
      );
    }
  }
  if (r.problems.length) s.paragraph(`Diagnostics (JSON): \`${r.diagnostics}\``);
  return s;
}

/** The collapsed details of one failure: message, pods, events, last log lines. */
export function evidenceText(e: Evidence): string {
  const out: string[] = [`${e.reason}: ${e.message}`];
  if (e.pods.length) {
    out.push('', 'Pods:');
    for (const p of e.pods) {
      const bits = [
        p.container && `container ${p.container}`,
        p.exitCode !== undefined && `exit code ${p.exitCode}`,
        p.signal !== undefined && `signal ${p.signal}`,
        p.restarts !== undefined && `${p.restarts} restart(s)`,
        p.since && `since ${p.since}`,
      ].filter(Boolean);
      out.push(`  ${p.pod}: ${p.reason}${bits.length ? ` (${bits.join(', ')})` : ''} — ${p.message}`);
    }
  }
  if (e.events.length) {
    out.push('', 'Events:');
    for (const ev of e.events) out.push(`  ${ev.lastSeen} ${ev.type} ${ev.reason} ${ev.object}${ev.count > 1 ? ` (x${ev.count})` : ''}: ${ev.message}`);
  }
  for (const l of e.logs) {
    out.push('', `Log of ${l.pod}/${l.container}${l.previous ? ' (previous instance)' : ''}, last ${l.lines.length} line(s):`);
    for (const line of l.lines) out.push(`  ${line}`);
  }
  // A code fence in a log line would end the details block early.
  return out.join('\n').replace(/```/g, "'''");
}
