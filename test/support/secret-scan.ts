// The secret scan of the end-to-end runs (test/hardening/secrets.hardening.test.ts): every form a
// secret can take in what a run leaves behind, a scan of texts and directory trees for them, and a
// watcher that notes every file holding a secret while the run goes (its mode, whether it is gone).
//
// Forms of a secret: itself, its base64 (standard and url-safe) at each of the three byte
// alignments (so it is found inside a larger base64 blob: a docker config's `auth`, a Secret's
// data, a dockerconfigjson), its JSON-escaped form, and pieces of 12 characters at every 12th
// offset of its random part (any leaked window of 23 or more characters holds one). Pieces of a
// JWT come only from its signature: every JWT of one issuer shares its header.
import { existsSync, type FSWatcher, lstatSync, readdirSync, readFileSync, statSync, type WatchEventType, watch } from 'node:fs';
import { join, relative } from 'node:path';

export interface Secret {
  /** What it is, for the report ("registry password"). */
  name: string;
  value: string;
  /** The part that is random, pieces of which count (default: the value). */
  random?: string;
  /** More whole forms to look for (a dockerconfigjson holding it, say). */
  forms?: string[];
}

const PIECE = 12;

function base64Cores(value: string): string[] {
  const raw = Buffer.from(value);
  const cores: string[] = [];
  for (let k = 0; k < 3; k++) {
    const b = Buffer.concat([Buffer.alloc(k), raw])
      .toString('base64')
      .replace(/=+$/, '');
    // The first 4 characters mix in the alignment bytes, the last 3 the bytes after the secret.
    const core = b.slice(4, -3);
    if (core.length >= 8) cores.push(core, core.replaceAll('+', '-').replaceAll('/', '_'));
  }
  return cores;
}

/** Every form of `s` the scan looks for. */
export function formsOf(s: Secret): string[] {
  const out = new Set<string>([s.value, JSON.stringify(s.value).slice(1, -1), ...base64Cores(s.value), ...(s.forms ?? [])]);
  const r = s.random ?? s.value;
  for (let i = 0; i + PIECE <= r.length; i += PIECE) out.add(r.slice(i, i + PIECE));
  if (r.length > PIECE) out.add(r.slice(-PIECE));
  return [...out].filter((f) => f.length >= 8);
}

export interface Hit {
  secret: string;
  where: string;
  form: string;
  /** Up to 80 characters either side of the first hit, every form of every secret replaced by `<secret name>`. */
  context: string;
}

export class Scan {
  readonly hits: Hit[] = [];
  texts = 0;
  bytes = 0;
  readonly secrets: Secret[];
  private readonly forms: { secret: string; form: string }[];

  constructor(secrets: Secret[]) {
    this.secrets = secrets;
    this.forms = secrets.flatMap((s) => formsOf(s).map((form) => ({ secret: s.name, form })));
  }

  /** Which secrets `text` holds (in any form). */
  holds(text: string): Hit[] {
    return this.forms.filter((f) => text.includes(f.form)).map((f) => ({ ...f, where: '', context: this.context(text, f.form) }));
  }

  private context(text: string, form: string): string {
    const at = text.indexOf(form);
    let around = text.slice(Math.max(0, at - 80), at + form.length + 80);
    for (const f of this.forms) around = around.replaceAll(f.form, `<${f.secret}>`);
    return around;
  }

  text(where: string, text: string): void {
    this.texts++;
    this.bytes += text.length;
    for (const h of this.holds(text)) this.hits.push({ ...h, where });
  }

  /**
   * Every regular file under `dir` (not following links), skipping directories named in `skip`,
   * paths `exclude` picks and, with `since`, files last changed before it. Files over 64 MiB are
   * read in part.
   */
  tree(dir: string, opts: { skip?: string[]; exclude?: (path: string) => boolean; since?: number; label?: string } = {}): void {
    if (!existsSync(dir)) return;
    const walk = (d: string) => {
      let names: string[];
      try {
        names = readdirSync(d);
      } catch {
        return;
      }
      for (const n of names) {
        const p = join(d, n);
        let st: ReturnType<typeof lstatSync>;
        try {
          st = lstatSync(p);
        } catch {
          continue;
        }
        if (opts.exclude?.(p)) continue;
        if (st.isDirectory()) {
          if (!opts.skip?.includes(n)) walk(p);
        } else if (st.isFile() && (opts.since === undefined || st.mtimeMs >= opts.since)) {
          try {
            this.text(
              `${opts.label ?? dir}/${relative(dir, p)}`,
              readFileSync(p)
                .subarray(0, 64 << 20)
                .toString('latin1'),
            );
          } catch {
            /* gone meanwhile */
          }
        }
      }
    };
    walk(dir);
  }

  /** Secrets with no hit, of those given. */
  clean(): string[] {
    const hit = new Set(this.hits.map((h) => h.secret));
    return this.secrets.map((s) => s.name).filter((n) => !hit.has(n));
  }
}

export interface CredentialFile {
  path: string;
  mode: number;
  secrets: string[];
}

/**
 * Watches `dirs` (recursively) and the top level of `shallow` (TMPDIR: each directory made there
 * during the run is watched recursively) while a run goes: each file created or written is read,
 * and if it holds a secret its path and mode are kept. `stop()` ends the watch and says which of
 * those files still exist.
 */
export function watchCredentialFiles(
  dirs: string[],
  scan: Scan,
  shallow: string[] = [],
): { seen: Map<string, CredentialFile>; stop(): { seen: CredentialFile[]; left: string[] } } {
  const seen = new Map<string, CredentialFile>();
  const watchers: FSWatcher[] = [];
  const look = (path: string) => {
    try {
      const st = statSync(path);
      if (!st.isFile() || st.size > 4 << 20) return;
      const found = scan.holds(readFileSync(path, 'latin1'));
      if (found.length === 0) return;
      const prev = seen.get(path);
      // The loosest mode a credential file was seen with is the one that counts.
      const mode = st.mode & 0o777;
      seen.set(path, { path, mode: prev ? prev.mode | mode : mode, secrets: [...new Set([...(prev?.secrets ?? []), ...found.map((f) => f.secret)])] });
    } catch {
      /* gone before it could be read */
    }
  };
  const deep = (d: string) => {
    try {
      watchers.push(
        watch(d, { recursive: true }, (_e: WatchEventType, name) => {
          if (name) look(join(d, name.toString()));
        }),
      );
    } catch {
      /* gone already */
    }
  };
  for (const d of dirs.filter((x) => existsSync(x))) deep(d);
  for (const d of shallow.filter((x) => existsSync(x))) {
    const known = new Set(readdirSync(d));
    watchers.push(
      watch(d, (_e: WatchEventType, name) => {
        if (!name) return;
        const p = join(d, name.toString());
        try {
          if (statSync(p).isDirectory()) {
            if (!known.has(name.toString())) {
              known.add(name.toString());
              deep(p);
              // What was written before the watch began.
              for (const f of readdirSync(p, { recursive: true })) look(join(p, f.toString()));
            }
          } else look(p);
        } catch {
          /* gone */
        }
      }),
    );
  }
  return {
    seen,
    stop() {
      for (const w of watchers) w.close();
      const all = [...seen.values()];
      return { seen: all, left: all.filter((f) => existsSync(f.path)).map((f) => f.path) };
    },
  };
}
