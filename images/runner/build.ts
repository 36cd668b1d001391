// Builds shipline/runner on the stack's dockerd from the stack's Node 24 base and publishes it to
// the stack's registry. Like the stack's own images it carries a hash of its inputs as a label and
// is rebuilt only when that hash changes. `node images/runner/build.ts` prints the reference;
// `node images/runner/build.ts --context DIR` only assembles the build context in DIR, for building
// and publishing the image elsewhere (README.md).
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { run, withStackEnv } from '../../test/stack/index.ts';

const HERE = import.meta.dirname;
const REPO = resolve(HERE, '..', '..');
const CLI_DIST = join(REPO, 'dist', 'cli');
const LABEL = 'org.shipline.runner.inputs';
export const RUNNER_LOCAL_TAG = 'shipline/runner:latest';
/** Files of this folder that go into the context's files/ (the Dockerfile goes to its root). */
const OWN_FILES = ['setup.sh', 'shipline', 'shipline-output', 'passwd', 'group'];
/** Libraries every base this image is built on has (node itself needs them). */
const BASE_LIBS = /\/(libc|libm|libdl|libpthread|ld-linux-x86-64)\.so/;

function which(name: string, path: string): string {
  for (const dir of path.split(delimiter)) {
    const p = join(dir, name);
    if (dir && existsSync(p)) return realpathSync(p);
  }
  throw new Error(`${name} is not on the stack's PATH: run \`pnpm stack up\` first`);
}

function firstExisting(what: string, candidates: string[]): string {
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`${what} not found (looked in ${candidates.join(', ')}): run \`pnpm stack up\` first`);
  return realpathSync(found);
}

/** A binary must be static or need only libraries the base already has: nothing else is copied. */
async function checkLinkage(binary: string): Promise<void> {
  const r = await run('ldd', [binary], { allowFail: true });
  if (r.code !== 0) return; // "not a dynamic executable"
  const extra = r.stdout
    .split('\n')
    .map((l) => /(\/\S+)\s+\(0x/.exec(l)?.[1])
    .filter((lib): lib is string => lib !== undefined && !BASE_LIBS.test(lib));
  if (extra.length) throw new Error(`${binary} needs ${extra.join(', ')}, which the runner's base image lacks: use a static build`);
}

interface Inputs {
  binaries: Record<string, string>;
  certs: string;
  baseImage: string;
}

async function findBinaries(env: NodeJS.ProcessEnv): Promise<Pick<Inputs, 'binaries' | 'certs'>> {
  const home = env.HOME ?? '/root';
  const binaries = {
    docker: which('docker', env.PATH ?? ''),
    'docker-buildx': firstExisting('the buildx plugin', [
      join(home, '.docker', 'cli-plugins', 'docker-buildx'),
      '/usr/local/lib/docker/cli-plugins/docker-buildx',
      '/usr/libexec/docker/cli-plugins/docker-buildx',
    ]),
    kubectl: which('kubectl', env.PATH ?? ''),
    busybox: firstExisting("busybox (Debian's busybox-static)", ['/bin/busybox', '/usr/bin/busybox']),
  };
  for (const b of Object.values(binaries)) await checkLinkage(b);
  const certs = firstExisting('the CA bundle (ca-certificates)', ['/etc/ssl/certs/ca-certificates.crt']);
  if (!existsSync(join(CLI_DIST, 'index.js'))) throw new Error(`${CLI_DIST}/index.js is missing: bundle the CLI first (pnpm bundle)`);
  return { binaries, certs };
}

async function findInputs(env: NodeJS.ProcessEnv): Promise<Inputs> {
  const baseImage = env.SHIPLINE_NODE_IMAGE;
  if (!baseImage) throw new Error('SHIPLINE_NODE_IMAGE is not set: the stack names its Node 24 base image there (`pnpm stack env`)');
  return { ...(await findBinaries(env)), baseImage };
}

/** Assembles the build context in `dir` (which must not exist yet) from this machine's binaries. */
export async function writeRunnerContext(dir: string): Promise<void> {
  if (existsSync(dir)) throw new Error(`--context ${dir} exists: give a new directory, the context is written from scratch`);
  mkdirSync(dir, { recursive: true });
  assembleContext(await findBinaries(withStackEnv()), dir);
}

/** Contents of the small inputs, size+mtime of the large binaries (as the stack's images do), and the base's image id. */
async function inputsHash(inp: Inputs, env: NodeJS.ProcessEnv): Promise<string> {
  const h = createHash('sha256');
  const base = await run('docker', ['image', 'inspect', '-f', '{{.Id}}', inp.baseImage], { env, allowFail: true });
  if (base.code !== 0) throw new Error(`base image ${inp.baseImage} is not in the stack's dockerd: run \`pnpm stack up\` first`);
  h.update(`base ${base.stdout.trim()}\n`);
  // build.ts too: it decides what goes where in the context.
  for (const f of ['Dockerfile', 'build.ts', ...OWN_FILES]) h.update(`${f}\n`).update(readFileSync(join(HERE, f)));
  for (const f of readdirSync(CLI_DIST).sort()) h.update(`cli/${f}\n`).update(readFileSync(join(CLI_DIST, f)));
  for (const [name, p] of Object.entries(inp.binaries)) {
    const st = statSync(p);
    h.update(`${name} ${st.size} ${st.mtimeMs}\n`);
  }
  h.update(readFileSync(inp.certs));
  return h.digest('hex').slice(0, 16);
}

/** Lays out the Dockerfile's context in `ctx` (a new temp dir by default). */
function assembleContext(inp: Pick<Inputs, 'binaries' | 'certs'>, ctx = mkdtempSync(join(tmpdir(), 'shipline-runner-'))): string {
  const put = (src: string, dest: string) => {
    mkdirSync(join(ctx, dest, '..'), { recursive: true });
    copyFileSync(src, join(ctx, dest));
    chmodSync(join(ctx, dest), statSync(src).mode & 0o777);
  };
  put(join(HERE, 'Dockerfile'), 'Dockerfile');
  for (const f of OWN_FILES) put(join(HERE, f), join('files', f));
  put(inp.certs, join('files', 'ca-certificates.crt'));
  for (const f of readdirSync(CLI_DIST)) put(join(CLI_DIST, f), join('cli', f));
  for (const [name, p] of Object.entries(inp.binaries)) put(p, join('bin', name));
  return ctx;
}

async function inRegistry(registry: string, repo: string, tag: string): Promise<boolean> {
  const res = await fetch(`http://${registry}/v2/${repo}/manifests/${tag}`, {
    method: 'HEAD',
    headers: { Accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' },
  });
  return res.status === 200;
}

/** Builds (when its inputs changed) and pushes the runner image; returns its reference in the stack's registry. */
export async function ensureRunnerImage(log: (m: string) => void = () => {}): Promise<string> {
  const env = withStackEnv();
  const registry = env.SHIPLINE_REGISTRY as string;
  const inp = await findInputs(env);
  const hash = await inputsHash(inp, env);
  const ref = `${registry}/shipline/runner:${hash}`;
  const have = await run('docker', ['image', 'inspect', '-f', `{{index .Config.Labels "${LABEL}"}}`, ref], { env, allowFail: true });
  if (have.code !== 0 || have.stdout.trim() !== hash) {
    log(`building ${ref}`);
    const ctx = assembleContext(inp);
    try {
      await run(
        'docker',
        ['build', '--quiet', '--build-arg', `BASE_IMAGE=${inp.baseImage}`, '--label', `${LABEL}=${hash}`, '-t', ref, '-t', RUNNER_LOCAL_TAG, ctx],
        {
          env,
          timeoutMs: 600_000,
        },
      );
    } finally {
      rmSync(ctx, { recursive: true, force: true });
    }
  } else {
    // Another build may have moved :latest; the hash-tagged image is the one these inputs make.
    await run('docker', ['tag', ref, RUNNER_LOCAL_TAG], { env });
  }
  if (!(await inRegistry(registry, 'shipline/runner', hash))) {
    log(`pushing ${ref}`);
    await run('docker', ['push', '--quiet', ref], { env, timeoutMs: 600_000 });
  }
  return ref;
}

if (import.meta.main) {
  const [flag, dir, ...extra] = process.argv.slice(2);
  const work =
    flag === undefined
      ? ensureRunnerImage((m) => console.error(`[runner] ${m}`))
      : flag === '--context' && dir && extra.length === 0
        ? writeRunnerContext(resolve(dir)).then(() => resolve(dir))
        : Promise.reject(new Error('usage: node images/runner/build.ts [--context NEW_DIR]'));
  work.then(
    (out) => console.log(out),
    (err: unknown) => {
      console.error(`[runner] ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    },
  );
}
