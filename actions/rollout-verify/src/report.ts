// How a verdict is shown: outputs, the job summary and error annotations. Pure functions of the
// outcome; every text from the cluster in it has already been made untrusted-safe by run().
import { formatLabels, formatValue, type GateVerdict } from '@shipline/gates';
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
  if ((r.reason === 'GateFailed' || r.reason === 'GateInconclusive') && r.gates) {
    const back = r.rejected.length ? `; ${r.rejected.map((x) => `${x.workload}: ${x.rejected ? 'rejected' : 'NOT rejected'}`).join(', ')}` : '';
    return `gates ${r.gates.verdict}: ${r.gates.reason.replace(/\n/g, '; ')}${back}`;
  }
  const first = r.problems[0];
  if (!first) return `rollout ${r.status === 'timeout' ? 'timed out' : 'failed'}: ${r.reason} — ${r.message}`;
  return r.status === 'timeout' ? `timed out after ${seconds(r.durationMs)}: ${annotation(first)}` : annotation(first);
}

const ICON = { success: '✅', failed: '❌', timeout: '⏱️', inconclusive: '❔' } as const;

/** The `gates` output: every gate's verdict and every measurement (time, value, outcome). */
export function gatesOutput(r: VerifyOutcome) {
  if (!r.gates) return null;
  return r.gates;
}

/** The last measured values of a gate, as `0.23 {track="canary"}; 0.001`. */
function lastValues(g: GateVerdict): string {
  const m = g.measurements.at(-1);
  if (!m || m.values.length === 0) return m?.samples === undefined ? '—' : `${formatValue(m.samples)} samples`;
  return m.values
    .map((v) => `${formatValue(v.value)}${Object.keys(v.labels).length ? ` ${formatLabels(v.labels)}` : ''}`)
    .slice(0, 4)
    .join('; ');
}

export function summary(r: VerifyOutcome): Summary {
  const s = new Summary();
  const title =
    r.status === 'success'
      ? 'rollout verified'
      : r.status === 'failed'
        ? 'rollout failed'
        : r.status === 'inconclusive'
          ? 'gates inconclusive'
          : 'rollout timed out';
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
  if (r.gates) {
    const g = r.gates;
    s.heading(`Gates: ${g.verdict}`, 4);
    s.table(
      ['Gate', 'Verdict', 'Pass', 'Fail', 'Inconclusive', 'Error', 'Last value', 'Reason'],
      g.gates.map((x) => [
        x.gate,
        x.verdict,
        String(x.counts.pass),
        String(x.counts.fail),
        String(x.counts.inconclusive),
        String(x.counts.error),
        lastValues(x),
        x.reason,
      ]),
    );
    for (const x of g.gates) {
      s.details(
        `${x.gate}: ${x.measurements.length} measurement(s)`,
        x.measurements.map((m) => `${m.time} ${m.outcome} ${m.values.map((v) => formatValue(v.value)).join(', ') || '—'} — ${m.reason}`).join('\n'),
      );
    }
  }
  if (r.rejected.length) {
    s.heading('Reject', 4);
    s.table(
      ['Release', 'Strategy', 'Rejected', 'Message'],
      r.rejected.map((x) => [`${x.namespace}/${x.workload}`, x.strategy, x.rejected ? 'yes' : 'no', x.message]),
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
