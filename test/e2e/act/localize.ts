// Turns an example workflow, as a user's repository would hold it, into the one act runs here, with
// as few changes as possible and each of them explicit: Shipline's actions by their local path (act
// would clone `shipline/shipline@v1` from github.com; `actions/checkout` stays, act copies the
// project for it instead of cloning), the workflow `env`
// values a test names (registry, namespace, Prometheus of the stack), and `with:` values of the
// steps a test names by id (null removes one). Anything the override names that the example lacks
// is an error: a renamed step must fail the test, not silently run the example unchanged.
import { parse, stringify } from 'yaml';

export interface Localization {
  env?: Record<string, string>;
  steps?: Record<string, Record<string, string | null>>;
}

interface Step {
  id?: string;
  uses?: string;
  with?: Record<string, unknown>;
}

const SHIPLINE_ACTION = /^shipline\/shipline\/actions\/([a-z0-9-]+)@[\w.-]+$/;

export function localizeWorkflow(text: string, o: Localization = {}): string {
  const wf = parse(text) as { env?: Record<string, unknown>; jobs: Record<string, { steps?: Step[] }> };
  for (const [k, v] of Object.entries(o.env ?? {})) {
    if (!wf.env || !(k in wf.env)) throw new Error(`the workflow has no env ${k}`);
    wf.env[k] = v;
  }
  const seen = new Set<string>();
  for (const job of Object.values(wf.jobs)) {
    if (!job.steps) continue;
    for (const s of job.steps) {
      const m = s.uses ? SHIPLINE_ACTION.exec(s.uses) : null;
      if (m) s.uses = `./actions/${m[1]}`;
      else if (s.uses && !s.uses.startsWith('./') && !s.uses.startsWith('actions/checkout@'))
        throw new Error(`step ${s.id ?? s.uses} uses ${s.uses}, which act cannot fetch here`);
      const over = s.id ? o.steps?.[s.id] : undefined;
      if (!over || !s.id) continue;
      seen.add(s.id);
      s.with ??= {};
      for (const [k, v] of Object.entries(over)) {
        if (v === null) {
          if (!(k in s.with)) throw new Error(`step ${s.id} has no input ${k} to remove`);
          delete s.with[k];
        } else s.with[k] = v;
      }
    }
  }
  for (const id of Object.keys(o.steps ?? {})) if (!seen.has(id)) throw new Error(`the workflow has no step with id ${id}`);
  return stringify(wf, { lineWidth: 0 });
}
