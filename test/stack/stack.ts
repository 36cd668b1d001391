// `pnpm stack up|down|status|env|clean`: the local stack (see README.md in this folder).
import { clean, down, PATH_ADDITIONS, stackEnv, status, up } from './index.ts';

const shellQuote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;

async function main(cmd: string | undefined): Promise<number> {
  switch (cmd) {
    case 'up': {
      await up();
      return 0;
    }
    case 'down': {
      await down();
      return 0;
    }
    case 'clean': {
      await clean();
      return 0;
    }
    case 'status': {
      const rows = await status();
      const w = Math.max(...rows.map((r) => r.name.length));
      let allOk = true;
      for (const r of rows) {
        allOk &&= r.healthy;
        const state = r.healthy ? 'ok' : r.tool ? 'MISSING' : r.pid === undefined ? 'DOWN' : 'UNHEALTHY';
        process.stdout.write(`${r.name.padEnd(w)}  ${state.padEnd(9)}  ${(r.pid ? `pid ${r.pid}` : '').padEnd(10)}  ${r.version}\n`);
      }
      return allOk ? 0 : 1;
    }
    case 'env': {
      for (const [k, v] of Object.entries(stackEnv())) process.stdout.write(`export ${k}=${shellQuote(v)}\n`);
      process.stdout.write(`export PATH=${shellQuote(PATH_ADDITIONS.join(':'))}:"$PATH"\n`);
      return 0;
    }
    default:
      process.stderr.write('usage: pnpm stack up|down|status|env|clean\n');
      return 2;
  }
}

// exitCode, not exit(): writes to a piped stderr are asynchronous and exit() would drop them.
main(process.argv[2]).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`stack ${process.argv[2]}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
