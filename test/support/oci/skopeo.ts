// skopeo is the independent oracle for what a registry holds.
import { execFile } from 'node:child_process';
import { sha256Digest } from '../../../packages/oci/src/index.ts';
import { skopeoAuthFile, skopeoCertDir } from './stack-env.ts';

function run(args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile('skopeo', args, { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`skopeo ${args.join(' ')} failed: ${stderr.toString()}`));
      else resolve(stdout);
    });
  });
}

function transportArgs(ref: string): string[] {
  const tls = process.env.SHIPLINE_REGISTRY_TLS;
  if (tls && ref.startsWith(`${tls}/`)) return ['--cert-dir', skopeoCertDir(), '--authfile', skopeoAuthFile()];
  return ['--tls-verify=false'];
}

export async function skopeoInspect(
  ref: string,
): Promise<{ Digest: string; Layers: string[]; LayersData?: Array<{ Digest: string; Size: number; MIMEType: string }> }> {
  return JSON.parse((await run(['inspect', ...transportArgs(ref), `docker://${ref}`])).toString('utf8'));
}

export async function skopeoRaw(ref: string): Promise<{ bytes: Buffer; digest: string; json: Record<string, unknown> }> {
  const bytes = await run(['inspect', '--raw', ...transportArgs(ref), `docker://${ref}`]);
  return { bytes, digest: sha256Digest(bytes), json: JSON.parse(bytes.toString('utf8')) };
}

export async function skopeoConfig(ref: string): Promise<{ digest: string; json: { rootfs: { diff_ids: string[] } } & Record<string, unknown> }> {
  const bytes = await run(['inspect', '--raw', '--config', ...transportArgs(ref), `docker://${ref}`]);
  return { digest: sha256Digest(bytes), json: JSON.parse(bytes.toString('utf8')) };
}

export async function skopeoExists(ref: string): Promise<boolean> {
  try {
    await run(['inspect', '--raw', ...transportArgs(ref), `docker://${ref}`]);
    return true;
  } catch {
    return false;
  }
}
