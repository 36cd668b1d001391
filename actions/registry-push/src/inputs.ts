import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type InputsOf, input, UserError } from '@shipline/kit';
import { type Compression, InvalidReferenceError, OciError, parseCompression, parseReference, planDestinations } from '@shipline/oci';

const compression = input.custom<Compression>(
  'gzip, gzip:<1-9>, zstd or zstd:<1-19>',
  (raw, fail) => {
    try {
      return parseCompression(raw);
    } catch (e) {
      return fail((e as Error).message, (e as OciError).hint ?? 'use gzip or zstd');
    }
  },
  { default: 'gzip:1' },
);

const registryHost = input.custom<string>('registry host[:port]', (raw, fail) => {
  if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?$/i.test(raw) && !/^\[[0-9a-f:]+\](:\d{1,5})?$/i.test(raw)) {
    return fail(`${input.quote(raw)} is not a registry host`, 'write host or host:port, without a scheme or path, e.g. 127.0.0.1:5000');
  }
  return raw.toLowerCase();
});

export const schema = {
  image: input.string(),
  'oci-layout': input.string(),
  'oci-layout-ref': input.string(),
  destinations: input.list(input.string(), { required: true, min: 1 }),
  registry: registryHost,
  username: input.string(),
  password: input.string({ secret: true }),
  'docker-config': input.file(),
  'ca-file': input.file(),
  'insecure-registries': input.list(registryHost),
  concurrency: input.integer({ default: '4', min: 1, max: 64 }),
  compression,
  'manifest-format': input.enumOf(['oci', 'docker'] as const, { default: 'oci' }),
  'docker-host': input.string(),
  'docker-read': input.enumOf(['auto', 'export'] as const, { default: 'auto' }),
  timeout: input.duration({ default: '60s', min: 1000 }),
};

export type Inputs = InputsOf<typeof schema>;

/** Checks across inputs; every destination is parsed here, before any network call. */
export function validate(i: Inputs): void {
  if (!i.image === !i['oci-layout']) {
    throw new UserError(i.image ? 'both `image` and `oci-layout` are set' : 'no source image', {
      input: 'image',
      hint: 'set `image` (a name or ID in the docker image store) or `oci-layout` (a directory written by docker-build), not both',
    });
  }
  const layout = i['oci-layout'];
  if (layout !== undefined) {
    if (!existsSync(layout) || !statSync(layout).isDirectory()) {
      throw new UserError(`${input.quote(layout)} is not a directory`, {
        input: 'oci-layout',
        hint: 'give the directory docker-build wrote (its oci-layout output)',
      });
    }
    if (!existsSync(join(layout, 'index.json'))) {
      throw new UserError(`${input.quote(layout)} holds no index.json, so it is not an OCI image layout`, {
        input: 'oci-layout',
        hint: 'give the directory docker-build wrote (its oci-layout output)',
      });
    }
  } else if (i['oci-layout-ref'] !== undefined) {
    throw new UserError('is only used with `oci-layout`', { input: 'oci-layout-ref', hint: 'remove it or set `oci-layout`' });
  }
  try {
    planDestinations(i.destinations);
  } catch (e) {
    if (e instanceof InvalidReferenceError)
      throw new UserError(`invalid image reference ${input.quote(e.input)}: ${e.reason}`, { input: 'destinations', hint: e.hint });
    if (e instanceof OciError) throw new UserError(e.message, { input: 'destinations', hint: e.hint });
    throw e;
  }
  if ((i.username === undefined) !== (i.password === undefined)) {
    throw new UserError(i.username === undefined ? 'a password without a username' : 'a username without a password', {
      input: i.username === undefined ? 'username' : 'password',
      hint: 'set both `username` and `password`, or neither (then docker config.json is used)',
    });
  }
  if (i.username !== undefined) {
    const registries = [...new Set(i.destinations.map((d) => parseReference(d).registry))];
    if (i.registry === undefined && registries.length > 1) {
      throw new UserError(`the destinations are on ${registries.length} registries (${registries.join(', ')})`, {
        input: 'registry',
        hint: 'set `registry` to the one `username`/`password` are for; others use docker config.json',
      });
    }
  }
  if (i['manifest-format'] === 'docker' && i.compression.algorithm === 'zstd') {
    throw new UserError('docker manifests cannot carry zstd layers', { input: 'compression', hint: 'use gzip, or manifest-format: oci' });
  }
}

/** The registry the explicit credentials belong to. */
export function credentialRegistry(i: Inputs): string | undefined {
  if (i.username === undefined) return undefined;
  return i.registry ?? parseReference(i.destinations[0] as string).registry;
}
