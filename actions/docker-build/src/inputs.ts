import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type InputsOf, input, UserError } from '@shipline/kit';
import { parseReference } from '@shipline/oci';
import { DEFAULT_BUILDKIT_IMAGE } from './buildx.ts';
import { CACHE_MODES } from './cache.ts';
import type { Secret } from './secrets.ts';
import { DEFAULT_TAG_RULES, parseTagRule, type TagRule } from './tags.ts';

const ARG_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SECRET_ID = /^[A-Za-z0-9_.-]+$/;
const STAGE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const PLATFORM = /^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/;
const ANNOTATION_TARGET = /^(index|manifest|index-descriptor|manifest-descriptor)(\[[a-z0-9/_,]+\])?$/;
const BUILDER = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export interface NameValue {
  name: string;
  value: string;
}

const buildArg = input.custom<NameValue>('`NAME=value` line', (raw, fail) => {
  const eq = raw.indexOf('=');
  if (eq <= 0) return fail(`${input.quote(raw)} is not NAME=value`, 'write one build argument a line, e.g. `NODE_ENV=production`');
  const name = raw.slice(0, eq).trim();
  if (!ARG_NAME.test(name))
    return fail(`${input.quote(name)} is not a valid build argument name`, 'names are letters, digits and _ and start with a letter or _');
  return { name, value: raw.slice(eq + 1) };
});

// Errors here never quote the line: it holds a secret value.
const secret = input.custom<Secret>('`id=value` line', (raw, fail) => {
  const eq = raw.indexOf('=');
  if (eq <= 0)
    return fail(
      'a line is not id=value (value not shown: it is a secret)',
      'write one secret a line as `id=value`, e.g. `npm_token=…`; mount it with RUN --mount=type=secret,id=npm_token',
    );
  const id = raw.slice(0, eq).trim();
  if (!SECRET_ID.test(id)) return fail(`secret id ${input.quote(id)} is not valid`, 'ids are letters, digits, _ . and -');
  const value = raw.slice(eq + 1);
  if (value === '') return fail(`secret ${input.quote(id)} is empty`, 'give it a value, or remove the line');
  return { id, value };
});

const label = input.custom<NameValue>('`key=value` line', (raw, fail) => {
  const eq = raw.indexOf('=');
  if (eq <= 0) return fail(`${input.quote(raw)} is not key=value`, 'write one label a line, e.g. `org.opencontainers.image.title=orders`');
  const name = raw.slice(0, eq).trim();
  if (/\s/.test(name)) return fail(`label key ${input.quote(name)} contains whitespace`, 'use a key such as com.example.team');
  return { name, value: raw.slice(eq + 1).trim() };
});

const annotation = input.custom<string>('`[type:]key=value` line', (raw, fail) => {
  const eq = raw.indexOf('=');
  if (eq <= 0) return fail(`${input.quote(raw)} is not key=value`, 'write `key=value` or `manifest:key=value` / `index:key=value`');
  const head = raw.slice(0, eq);
  // `manifest[linux/amd64]:key` holds a colon only in its target part.
  const colon = head.lastIndexOf(':');
  const key = colon >= 0 ? head.slice(colon + 1) : head;
  if (colon >= 0) {
    for (const t of head.slice(0, colon).split(/,(?![^[]*\])/)) {
      if (!ANNOTATION_TARGET.test(t))
        return fail(
          `${input.quote(t)} is not an annotation target`,
          'targets are index, manifest, index-descriptor, manifest-descriptor, optionally with [os/arch]',
        );
    }
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(key))
    return fail(`annotation key ${input.quote(key)} is not valid`, 'use a key such as org.opencontainers.image.description');
  return raw;
});

const platform = input.custom<string>('platform', (raw, fail) => {
  if (!PLATFORM.test(raw)) return fail(`${input.quote(raw)} is not a platform`, 'write os/arch[/variant], e.g. linux/amd64, linux/arm64, linux/arm/v7');
  return raw;
});

const imageName = input.custom<string>('image name', (raw, fail) => {
  let ref: ReturnType<typeof parseReference>;
  try {
    ref = parseReference(raw, { defaultTag: false });
  } catch (e) {
    return fail(
      `${input.quote(raw)} is not an image name: ${(e as { reason?: string }).reason ?? (e as Error).message}`,
      'write [registry[:port]/]repository in lowercase without a tag, e.g. 127.0.0.1:5000/shop/orders',
    );
  }
  if (ref.tag !== undefined || ref.digest !== undefined)
    return fail(`${input.quote(raw)} has a tag or digest`, 'give the name only; tags come from the `tags` rules');
  return raw;
});

const tagRule = input.custom<TagRule>('tag rule', (raw, fail) => {
  const r = parseTagRule(raw);
  if ('error' in r)
    return fail(
      `rule ${input.quote(raw)}: ${r.error}`,
      'write rules such as type=sha, type=branch, type=semver,pattern={{version}}, type=latest, type=raw,value=stable',
    );
  return r;
});

const cacheRef = input.custom<string>('image reference', (raw, fail) => {
  try {
    const r = parseReference(raw, { defaultTag: false });
    if (r.digest !== undefined) return fail(`${input.quote(raw)} has a digest`, 'a cache ref is written to, so give a tag: registry/repo:buildcache');
  } catch (e) {
    return fail(
      `${input.quote(raw)} is not an image reference: ${(e as { reason?: string }).reason ?? (e as Error).message}`,
      'write registry[:port]/repository[:tag], e.g. 127.0.0.1:5000/shop/orders:buildcache',
    );
  }
  return raw;
});

export const schema = {
  context: input.string({ default: '.' }),
  file: input.string(),
  target: input.string({ pattern: STAGE, patternHint: 'a stage name as written after AS in the Dockerfile (letters, digits, _ . -)' }),
  'build-args': input.list(buildArg, { commas: false }),
  secrets: input.list(secret, { commas: false, secret: true }),
  labels: input.list(label, { commas: false }),
  annotations: input.list(annotation, { commas: false }),
  'no-cache': input.boolean({ default: 'false' }),
  pull: input.boolean({ default: 'false' }),
  platforms: input.list(platform),
  builder: input.string({ pattern: BUILDER, patternHint: 'a buildx builder name (letters, digits, _ . -)' }),
  'buildkit-image': input.string({ default: DEFAULT_BUILDKIT_IMAGE }),
  image: input.list(imageName),
  tags: input.list(tagRule, { commas: false, default: DEFAULT_TAG_RULES }),
  'default-branch': input.string(),
  cache: input.enumOf(CACHE_MODES, { default: 'auto' }),
  'cache-ref': cacheRef,
  'cache-dir': input.string(),
  'cache-scope': input.string({ pattern: /^[A-Za-z0-9._-]{1,60}$/, patternHint: 'letters, digits, _ . - (at most 60)' }),
  load: input.boolean({ default: 'true' }),
  'oci-layout': input.string(),
};

export type Inputs = InputsOf<typeof schema>;

function dupes(names: string[]): string | undefined {
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) return n;
    seen.add(n);
  }
  return undefined;
}

/** Rules across inputs and checks of the file system; all before the first side effect. */
export function validate(i: Inputs): void {
  if (!existsSync(i.context))
    throw new UserError(`directory ${input.quote(i.context)} does not exist`, {
      input: 'context',
      hint: 'give the build context directory, relative to the working directory',
    });
  if (!statSync(i.context).isDirectory())
    throw new UserError(`${input.quote(i.context)} is not a directory`, {
      input: 'context',
      hint: 'give the directory that holds the files the Dockerfile copies',
    });
  const file = i.file ?? join(i.context, 'Dockerfile');
  if (!existsSync(file) || !statSync(file).isFile()) {
    throw new UserError(`Dockerfile ${input.quote(file)} does not exist`, {
      input: 'file',
      hint: i.file ? 'give the Dockerfile path relative to the working directory (not to the context)' : 'add a Dockerfile to the context or set `file`',
    });
  }
  const dupArg = dupes(i['build-args'].map((b) => b.name));
  if (dupArg) throw new UserError(`build argument ${dupArg} is given twice`, { input: 'build-args', hint: 'keep one line per name' });
  const dupSecret = dupes(i.secrets.map((s) => s.id));
  if (dupSecret) throw new UserError(`secret id ${dupSecret} is given twice`, { input: 'secrets', hint: 'keep one line per id' });
  const dupPlatform = dupes(i.platforms);
  if (dupPlatform) throw new UserError(`platform ${dupPlatform} is given twice`, { input: 'platforms', hint: 'list each platform once' });
  if (i.platforms.length > 1 && i.load) {
    throw new UserError(`the docker image store holds one platform, and ${i.platforms.length} are asked for`, {
      input: 'load',
      hint: 'set `load: false` and `oci-layout: <dir>` to build several platforms (registry-push pushes the layout)',
    });
  }
  if (i.platforms.length > 1 && !i['oci-layout']) {
    throw new UserError('several platforms need an OCI layout to keep them', { input: 'oci-layout', hint: 'set `oci-layout: <dir>`' });
  }
  if (i.cache === 'registry' && !i['cache-ref'])
    throw new UserError('cache: registry needs a cache reference', { input: 'cache-ref', hint: 'set `cache-ref`, e.g. 127.0.0.1:5000/shop/orders:buildcache' });
  if (i.cache === 'local' && !i['cache-dir'])
    throw new UserError('cache: local needs a directory', { input: 'cache-dir', hint: 'set `cache-dir`, e.g. .buildx-cache (persist it with your CI cache)' });
  if (i['cache-ref'] && i.cache !== 'registry' && i.cache !== 'auto') {
    throw new UserError(`cache-ref is set but cache is ${i.cache}`, { input: 'cache-ref', hint: 'set `cache: registry` (or auto), or remove `cache-ref`' });
  }
  if (i['cache-dir'] && i.cache !== 'local' && i.cache !== 'auto') {
    throw new UserError(`cache-dir is set but cache is ${i.cache}`, { input: 'cache-dir', hint: 'set `cache: local` (or auto), or remove `cache-dir`' });
  }
  if (i['cache-dir'] && existsSync(i['cache-dir']) && !statSync(i['cache-dir']).isDirectory()) {
    throw new UserError(`${input.quote(i['cache-dir'])} is not a directory`, {
      input: 'cache-dir',
      hint: 'give a directory path (it is created when missing)',
    });
  }
  const layout = i['oci-layout'];
  if (layout && existsSync(layout)) {
    if (!statSync(layout).isDirectory())
      throw new UserError(`${input.quote(layout)} is a file`, { input: 'oci-layout', hint: 'give a directory path; it is created' });
    // Replacing a directory is only safe when it is an OCI layout already (a previous build's).
    if (readdirSync(layout).length > 0 && !existsSync(join(layout, 'oci-layout'))) {
      throw new UserError(`${input.quote(layout)} is a non-empty directory that is not an OCI layout`, {
        input: 'oci-layout',
        hint: 'give a new or empty directory',
      });
    }
  }
}
