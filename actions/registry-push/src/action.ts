import { type ActionDefinition, Summary } from '@shipline/kit';
import { type Inputs, schema, validate } from './inputs.ts';
import { type PushReport, run } from './run.ts';

const MB = 1024 * 1024;

export const registryPush: ActionDefinition<typeof schema, PushReport> = {
  name: 'registry-push',
  schema,
  validate,
  run: (inputs: Inputs, ctx) => run(inputs, { log: ctx.log, mask: ctx.mask, dockerHost: process.env.DOCKER_HOST, env: process.env }),
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
