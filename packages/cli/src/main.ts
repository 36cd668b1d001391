import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliHost, GitLabHost, type Host, runAction } from '@shipline/kit';
import { readActionMeta } from '@shipline/kit/meta';
import { actions } from './actions.ts';
import { parseArgs, UsageError } from './args.ts';
import { writeDotenv } from './dotenv.ts';
import { actionHelp, findActionYml } from './help.ts';

export const VERSION = '0.1.0';

const here = dirname(fileURLToPath(import.meta.url));
const write = (stream: NodeJS.WriteStream) => (text: string) => void stream.write(text);

function topHelp(): string {
  const names = Object.keys(actions);
  const lines = ['Usage: shipline <action> [--input value]...', '       shipline <action> --help', '       shipline --version', '', 'Actions:'];
  for (const n of names) {
    const yml = findActionYml(n, here);
    const desc = yml ? readActionMeta(yml).description.split(/(?<=\.)\s/)[0] : '';
    lines.push(`  ${n.padEnd(16)}${desc}`);
  }
  lines.push(
    '',
    'Under GitLab CI (GITLAB_CI=true) outputs are also appended to a dotenv file:',
    '  $SHIPLINE_DOTENV, default shipline.env, as <ACTION>_<OUTPUT>=value (lists comma-separated,',
    '  JSON on one line); a value too large for it goes to a file beside it, named by <ACTION>_<OUTPUT>_FILE.',
    'Any input can be read from a file: --<input>-file PATH.',
  );
  return `${lines.join('\n')}\n`;
}

function hostFor(action: string, inputs: Map<string, string>, env: NodeJS.ProcessEnv): Host {
  if (env.GITLAB_CI === 'true') {
    const dotenv = env.SHIPLINE_DOTENV || 'shipline.env';
    return new GitLabHost(inputs, write(process.stdout), write(process.stderr), (outputs) => writeDotenv(dotenv, action, outputs));
  }
  return new CliHost(inputs, write(process.stdout), write(process.stderr));
}

/** Returns the exit code: 0 ok, 1 failure or bad input, 2 usage. */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(topHelp());
    return first === undefined ? 2 : 0;
  }
  if (first === '--version' || first === '-V') {
    process.stdout.write(`shipline ${VERSION}\n`);
    return 0;
  }
  const load = actions[first];
  if (!load) {
    process.stderr.write(`shipline: unknown action ${JSON.stringify(first)}; actions: ${Object.keys(actions).join(', ')}\n`);
    return 2;
  }
  const def = await load();
  try {
    const parsed = parseArgs(rest, def.schema, first, env);
    if (parsed.help) {
      const yml = findActionYml(first, here);
      process.stdout.write(actionHelp(first, def.schema, yml ? readActionMeta(yml) : undefined));
      return 0;
    }
    const host = hostFor(first, parsed.inputs, env);
    for (const [name, source] of parsed.sources) host.info(`${name}: read from ${source}`);
    return await runAction(def, host);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`shipline: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

process.exitCode = await main(process.argv.slice(2));
