// kubectl, for the one thing k8s-deploy needs it for: rendering kustomizations (`kubectl kustomize`).
// Everything else talks to the API server directly (packages/kube). Typed options, pure argument
// builders, and one run through the kit's exec (an argument array, no shell, killed on timeout).
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { type Exec, exec as kitExec, untrusted } from '@shipline/kit';

export interface KustomizeOptions {
  /** The kustomization directory. */
  dir: string;
  /** `--enable-helm`: let kustomize inflate helmCharts (runs helm). Off, as in kubectl. */
  enableHelm?: boolean;
  /** `--load-restrictor`: whether files outside the kustomization root may be read. kubectl's default when absent. */
  loadRestrictor?: 'LoadRestrictionsRootOnly' | 'LoadRestrictionsNone';
}

export interface KubectlOptions {
  /** Per command; a render taking longer is stuck. Default 2 minutes. */
  timeoutMs?: number;
  /** Characters of stdout kept; a render larger is no manifest set anyone applies. Default 64 Mi. */
  maxOutput?: number;
  /** The process runner (the kit's exec; a fake in tests). */
  exec?: Exec;
}

/** Where kubectl is on a PATH value (the first executable `kubectl`), or undefined. */
export function findKubectl(path: string): string | undefined {
  return path
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
}

export class Kubectl {
  readonly path: string;
  private readonly timeoutMs: number;
  private readonly maxOutput: number;
  private readonly exec: Exec;

  constructor(path: string, options: KubectlOptions = {}) {
    this.path = path;
    this.timeoutMs = options.timeoutMs ?? 120_000;
    this.maxOutput = options.maxOutput ?? 64 << 20;
    this.exec = options.exec ?? kitExec;
  }

  /** The kubectl on `PATH`, or undefined when there is none. */
  static fromPath(path: string, options?: KubectlOptions): Kubectl | undefined {
    const found = findKubectl(path);
    return found ? new Kubectl(found, options) : undefined;
  }

  /** `kubectl kustomize` arguments (pure). */
  static kustomizeArgs(o: KustomizeOptions): string[] {
    const args = ['kustomize'];
    if (o.enableHelm) args.push('--enable-helm');
    if (o.loadRestrictor) args.push(`--load-restrictor=${o.loadRestrictor}`);
    // `--` so that a directory named like a flag is still a directory.
    args.push('--', o.dir);
    return args;
  }

  /** The rendered multi-document YAML; throws with kubectl's first line of error when it fails. */
  async kustomize(o: KustomizeOptions): Promise<string> {
    const what = `kubectl kustomize ${o.dir}`;
    const r = await this.exec(this.path, Kubectl.kustomizeArgs(o), { timeoutMs: this.timeoutMs, maxOutput: this.maxOutput });
    if (r.timedOut) throw new Error(`${what} did not finish within ${formatSeconds(this.timeoutMs)}`);
    // A cut render must not be applied: its end (the part kept) is not the whole set.
    if (r.truncated) throw new Error(`${what} rendered more than ${formatSize(this.maxOutput)}`);
    if (r.code !== 0) {
      const why = (r.stderr || r.stdout).trim().split('\n')[0] || `exit code ${r.code}`;
      throw new Error(`${what} failed: ${untrusted(why, { max: 300, oneLine: true })}`);
    }
    return r.stdout;
  }
}

function formatSeconds(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000} minute${ms === 60_000 ? '' : 's'}` : `${Math.round(ms / 1000)} s`;
}

function formatSize(chars: number): string {
  return chars % (1 << 20) === 0 ? `${chars >> 20} MiB` : `${chars} characters`;
}
