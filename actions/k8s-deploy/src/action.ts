import { accessSync, constants } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { type ActionDefinition, exec, Summary, untrusted } from '@shipline/kit';
import type { AppliedResource, Provenance } from '@shipline/kube';
import { type Inputs, schema, validate } from './inputs.ts';
import type { DeployOutcome } from './run.ts';
import { waitFailure, waitSummary } from './wait-report.ts';

export const k8sDeploy: ActionDefinition<typeof schema, DeployOutcome> = {
  name: 'k8s-deploy',
  schema,
  validate,
  // The Kubernetes client is loaded after the inputs are valid, so bad input fails fast.
  run: async (inputs: Inputs, ctx) =>
    (await import('./run.ts')).run(inputs, {
      log: ctx.log,
      mask: ctx.mask,
      env: process.env,
      tempDir: process.env.RUNNER_TEMP || tmpdir(),
      cwd: process.cwd(),
      kustomize: kustomizer(process.env.PATH ?? ''),
      provenance: provenanceFromEnv(process.env),
      now: () => performance.now(),
    }),
  outputs: (r) => ({
    resources: JSON.stringify(r.resources.map(output)),
    pruned: JSON.stringify(r.pruned.map(output)),
    namespace: r.namespace,
    changed: String([...r.resources, ...r.pruned].some((x) => x.action !== 'unchanged')),
  }),
  summary,
  failure: (r) => r.failure?.message ?? waitFailure(r.wait),
};

/** The `resources` output: what the next action (rollout-verify) needs, nothing more. */
function output(r: AppliedResource) {
  const o: Record<string, unknown> = {
    apiVersion: r.apiVersion,
    kind: r.kind,
    namespace: r.namespace,
    name: r.name,
    uid: r.uid,
    generation: r.generation,
    action: r.action,
  };
  if (r.revision) o.revision = r.revision;
  return o;
}

/** A table cell of the cluster's (or the manifests') text: masked, one line, inert. */
const cellOf = (text: unknown, max = 500) => untrusted(text, { max, oneLine: true });

function summary(r: DeployOutcome): Summary {
  const s = new Summary();
  const title = r.failure ? 'k8s-deploy failed ❌' : r.dryRun ? 'k8s-deploy dry-run (nothing changed)' : 'k8s-deploy applied ✅';
  s.heading(title).paragraph(
    `Cluster \`${cellOf(r.server)}\` (context \`${cellOf(r.context)}\`), default namespace \`${cellOf(r.namespace)}\`, ${(r.durationMs / 1000).toFixed(1)} s.`,
  );
  if (r.failure) {
    s.paragraph(
      r.failure.applied.length
        ? `Refused in ${r.failure.phase}; ${r.failure.applied.length} object(s) had been applied before.`
        : `Refused in ${r.failure.phase}; nothing was applied.`,
    );
    s.table(
      ['Object', 'Reason', 'Message'],
      r.failure.failures.map((f) => [cellOf(f.object), cellOf(f.reason), cellOf(f.message, 1000)]),
    );
  }
  const rows = [...r.resources, ...r.pruned].map((x) => [
    cellOf(x.kind),
    cellOf(x.namespace ?? ''),
    cellOf(x.name),
    r.dryRun && x.action !== 'unchanged' ? `would be ${x.action}` : x.action,
    x.revision ? cellOf(`${x.revision.before ?? '—'} → ${x.revision.after ?? (r.dryRun ? '?' : '—')}`) : '',
  ]);
  if (rows.length) s.table(['Kind', 'Namespace', 'Name', 'Result', 'Revision'], rows);
  if (r.wait) waitSummary(s, r.wait);
  if (r.images.length)
    s.heading('Images', 4).table(
      ['Object', 'Container', 'From', 'To'],
      r.images.map((c) => [cellOf(c.object), cellOf(c.container), cellOf(c.from), cellOf(c.to)]),
    );
  if (r.dryRun) {
    // Secret values are already `(redacted, N bytes, …)` in the diff; the rest is the cluster's text.
    const diffs = r.resources.filter((x) => x.diff).map((x) => untrusted(`--- ${x.kind} ${x.namespace ? `${x.namespace}/` : ''}${x.name}\n${x.diff}`));
    if (diffs.length) s.details(`Diff of ${diffs.length} object(s)`, diffs.join('\n'));
  }
  return s;
}

function provenanceFromEnv(env: NodeJS.ProcessEnv): Provenance {
  if (env.GITHUB_REPOSITORY) {
    const server = env.GITHUB_SERVER_URL ?? 'https://github.com';
    return {
      repository: env.GITHUB_REPOSITORY,
      commit: env.GITHUB_SHA,
      runUrl: env.GITHUB_RUN_ID ? `${server}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}` : undefined,
    };
  }
  if (env.CI_PROJECT_PATH) return { repository: env.CI_PROJECT_PATH, commit: env.CI_COMMIT_SHA, runUrl: env.CI_JOB_URL };
  return {};
}

/** `kubectl kustomize <dir>` when kubectl is on PATH (an argument array, no shell). */
function kustomizer(path: string): ((dir: string) => Promise<string>) | undefined {
  const kubectl = path
    .split(delimiter)
    .filter((d) => d !== '')
    .map((d) => join(d, 'kubectl'))
    .find((p) => {
      try {
        accessSync(p, constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
  if (!kubectl) return undefined;
  return async (dir) => {
    // A render larger than this is no manifest set anyone applies; a cut one must not be applied.
    const r = await exec(kubectl, ['kustomize', dir], { timeoutMs: 120_000, maxOutput: 64 << 20 });
    if (r.timedOut) throw new Error(`kubectl kustomize ${dir} did not finish within 2 minutes`);
    if (r.truncated) throw new Error(`kubectl kustomize ${dir} rendered more than 64 MiB`);
    if (r.code !== 0) {
      const why = (r.stderr || r.stdout).trim().split('\n')[0] || `exit code ${r.code}`;
      throw new Error(`kubectl kustomize ${dir} failed: ${untrusted(why, { max: 300, oneLine: true })}`);
    }
    return r.stdout;
  };
}
