import { readFileSync } from 'node:fs';
import { type ActionDefinition, input, type RunContext, Summary, tlsVerificationOff, UserError } from '@shipline/kit';
import { urlSecrets } from '@shipline/kit/redact-url';
import { CaFileError, createCredentialSource, dockerEndpoint, dockerImageSource, OciError, ociLayoutSource, pushImage, RegistryTlsError } from '@shipline/oci';
import { credentialRegistry, type Inputs, schema, validate } from './inputs.ts';
import { type PushReport, type Registry, run } from './run.ts';

const MB = 1024 * 1024;
const PROXY_VARIABLES = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'];

export const registryPush: ActionDefinition<typeof schema, PushReport> = {
  name: 'registry-push',
  schema,
  validate: (inputs) => {
    validate(inputs);
    validateFiles(inputs);
  },
  run: (inputs, ctx) => runWithRegistry(inputs, ctx),
  outputs: (r) => ({
    digest: r.digest,
    refs: JSON.stringify(r.refs),
    'pushed-bytes': String(r.pushedBytes),
    'reused-blobs': String(r.reusedBlobs),
    'duration-ms': String(Math.round(r.durationMs)),
  }),
  summary: (r) => {
    const s = new Summary().heading('Registry push ✅');
    s.paragraph(`Source \`${r.source}\` → digest \`${r.digest}\``);
    s.table(
      ['Pushed reference'],
      r.refs.map((ref) => [`\`${ref}\``]),
    );
    const dests = [...new Set(r.layers.flatMap((l) => Object.keys(l.states)))];
    if (r.layers.length) {
      s.table(
        ['Blob', 'Size', ...dests],
        r.layers.map((l) => [`\`${l.digest.slice(0, 19)}\``, `${(l.size / MB).toFixed(1)} MB`, ...dests.map((d) => l.states[d] ?? '')]),
      );
    }
    return s.paragraph(`${(r.pushedBytes / MB).toFixed(1)} MB uploaded, ${r.reusedBlobs} blob(s) reused, in ${(r.durationMs / 1000).toFixed(2)} s.`);
  },
};

/**
 * The files and the daemon address are read only when a push needs them (a plain-HTTP registry never
 * opens the CA file), so a wrong one would pass unnoticed until the day it matters; check them here,
 * before the first side effect. Found by the bad-input corpus (issue 14).
 */
export function validateFiles(i: Partial<Pick<Inputs, 'ca-file' | 'docker-config' | 'docker-host'>>): void {
  const ca = i['ca-file'];
  if (ca !== undefined && !readFileSync(ca, 'utf8').includes('-----BEGIN CERTIFICATE-----')) {
    throw new UserError(`${input.quote(ca)} holds no PEM certificate`, {
      input: 'ca-file',
      hint: "give a PEM file with the registry's CA (-----BEGIN CERTIFICATE----- blocks)",
    });
  }
  const config = i['docker-config'];
  if (config !== undefined) {
    // Only the shape is checked; the file holds credentials, so neither it nor the parser's message
    // (which quotes the text around the fault) is shown.
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(config, 'utf8'));
    } catch {
      parsed = undefined;
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new UserError(`${input.quote(config)} is not a docker config.json (a JSON object)`, {
        input: 'docker-config',
        hint: 'point docker-config at a config.json as `docker login` writes it, e.g. ~/.docker/config.json',
      });
    }
  }
  if (i['docker-host'] !== undefined) {
    try {
      dockerEndpoint(i['docker-host']);
    } catch (e) {
      if (e instanceof OciError) throw new UserError(e.message, { input: 'docker-host', ...(e.hint ? { hint: e.hint } : {}) });
      throw e;
    }
  }
}

/**
 * An OciError is the user's to fix (bad credentials, unknown image, unreachable registry): one
 * line with its hint, blamed on the input that caused it where one did.
 */
export function asUserError(e: unknown, input?: string): unknown {
  // The library names no inputs: which one holds the CA, or lists insecure registries, is ours to say.
  if (e instanceof CaFileError)
    return new UserError(e.message, { input: 'ca-file', hint: "point ca-file at a readable PEM file with the registry's CA certificate", cause: e });
  if (e instanceof RegistryTlsError)
    return new UserError(e.message, {
      hint: `pass the registry's CA with ca-file, or list ${e.registry} in insecure-registries if it speaks plain HTTP`,
      cause: e,
    });
  if (e instanceof OciError && !(e instanceof UserError))
    return new UserError(e.message, { ...(input ? { input } : {}), ...(e.hint ? { hint: e.hint } : {}), cause: e });
  return e;
}

/** The real registry client, bound to this job's credentials, CA, insecure list, proxies and timeout. */
function realRegistry(inputs: Inputs, ctx: RunContext, env: NodeJS.ProcessEnv): Registry {
  const registry = credentialRegistry(inputs);
  const credentials = createCredentialSource({
    ...(registry && inputs.username && inputs.password ? { explicit: { [registry]: { username: inputs.username, password: inputs.password } } } : {}),
    ...(inputs['docker-config'] ? { dockerConfigPath: inputs['docker-config'] } : {}),
    env,
  });
  return {
    open: async (spec, log) => {
      try {
        if (spec.kind === 'oci-layout') return await ociLayoutSource(spec.path, spec.ref ? { ref: spec.ref } : {});
        return await dockerImageSource({
          image: spec.image,
          ...(spec.dockerHost ? { dockerHost: spec.dockerHost } : {}),
          compression: spec.compression,
          manifestFormat: spec.manifestFormat,
          read: spec.read,
          log: (line) => log.info(line),
          warn: (line) => log.warning(line),
        });
      } catch (e) {
        throw asUserError(e, spec.kind === 'oci-layout' ? 'oci-layout' : 'image');
      }
    },
    push: async (request) => {
      try {
        return await pushImage({
          ...request,
          insecure: inputs['insecure-registries'],
          ...(inputs['ca-file'] ? { caFile: inputs['ca-file'] } : {}),
          credentials,
          onSecret: (s) => ctx.mask(s),
          timeoutMs: inputs.timeout,
          proxyEnv: env,
        });
      } catch (e) {
        throw asUserError(e);
      }
    },
  };
}

async function runWithRegistry(inputs: Inputs, ctx: RunContext): Promise<PushReport> {
  // A proxy URL's userinfo is a credential too (it goes to the proxy as Proxy-Authorization).
  for (const name of PROXY_VARIABLES) for (const s of urlSecrets(process.env[name] ?? '')) ctx.mask(s);
  for (const host of inputs['insecure-registries']) tlsVerificationOff(`registry ${host}`, 'input `insecure-registries`, which allows plain HTTP too');
  return run(inputs, { registry: realRegistry(inputs, ctx, process.env), log: ctx.log, mask: ctx.mask, dockerHost: process.env.DOCKER_HOST });
}
