// The kit's exec against real processes (Node itself as the program): arguments reach the program
// verbatim, timeouts and aborts kill, output is bounded, lines are split as the runner splits them.
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { commandLine, exec, LineSplitter } from './exec.ts';
import { secrets } from './mask.ts';

const node = process.execPath;
const script = (code: string, ...args: string[]) => ['-e', code, ...args];
const dir = mkdtempSync(join(tmpdir(), 'shipline-exec-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('running', () => {
  it('passes arguments verbatim (no shell) and returns both streams and the exit code', async () => {
    const args = ['a b', '$(echo injected)', '"quoted"', "it's", '*', ''];
    const r = await exec(node, script('console.log(JSON.stringify(process.argv.slice(1))); console.error("err"); process.exit(3)', ...args));
    expect(JSON.parse(r.stdout)).toEqual(args);
    expect(r.stderr).toBe('err\n');
    expect(r).toMatchObject({ code: 3, notFound: false, timedOut: false, cancelled: false, truncated: false });
  });

  it('runs a program whose path holds a space', async () => {
    const spaced = join(dir, 'with space');
    symlinkSync(node, spaced);
    const r = await exec(spaced, script('console.log("ok")'));
    expect(r).toMatchObject({ code: 0, stdout: 'ok\n' });
  });

  it('reports a program that is not installed', async () => {
    const r = await exec('shipline-no-such-program', ['x']);
    expect(r).toMatchObject({ code: 127, notFound: true });
  });

  it('closes stdin at once, or after writing `input`', async () => {
    const echo = 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log("eof:"+s))';
    expect((await exec(node, script(echo))).stdout).toBe('eof:\n');
    expect((await exec(node, script(echo), { input: 'hello' })).stdout).toBe('eof:hello\n');
  });

  it('a program that exits without reading its input is no crash (EPIPE on stdin is not fatal)', async () => {
    // 16 MiB cannot fit in a pipe buffer: the write is still pending when the program exits.
    const r = await exec(node, script('process.exit(3)'), { input: Buffer.alloc(16 << 20, 0x61) });
    expect(r.code).toBe(3);
  });

  it('never echoes the command line itself; it goes to the debug log, masked', async () => {
    secrets.add('exec-secret-value-1');
    const debug: string[] = [];
    const write = vi.spyOn(process.stdout, 'write');
    await exec(node, script('0', '--password', 'exec-secret-value-1', 'a b'), { log: { debug: (m) => debug.push(m) } });
    expect(write).not.toHaveBeenCalled();
    write.mockRestore();
    expect(debug).toEqual([`exec: ${node} -e 0 --password *** 'a b'`]);
    expect(commandLine('::x', ['y'])).toBe(':\u200b:x y');
  });
});

describe('killing', () => {
  it('a timeout sends SIGTERM', async () => {
    const started = Date.now();
    const r = await exec(node, script('setTimeout(() => {}, 60_000)'), { timeoutMs: 300 });
    expect(r).toMatchObject({ timedOut: true, signal: 'SIGTERM', code: 143 });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('a program that ignores SIGTERM gets SIGKILL after the grace', async () => {
    const started = Date.now();
    const r = await exec(node, script('process.on("SIGTERM", () => console.log("ignored")); console.log("up"); setInterval(() => {}, 1000)'), {
      timeoutMs: 500,
      killGraceMs: 500,
    });
    expect(r).toMatchObject({ timedOut: true, signal: 'SIGKILL', code: 137 });
    expect(r.stdout).toBe('up\nignored\n');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('an abort signal kills and reports cancelled', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const r = await exec(node, script('setTimeout(() => {}, 60_000)'), { signal: ac.signal });
    expect(r).toMatchObject({ cancelled: true, timedOut: false, signal: 'SIGTERM' });
  });

  it('an already aborted signal starts nothing', async () => {
    const ac = new AbortController();
    ac.abort();
    const r = await exec(node, script('require("fs").writeFileSync(process.argv[1], "ran")', join(dir, 'ran')), { signal: ac.signal });
    expect(r.cancelled).toBe(true);
    expect(() => rmSync(join(dir, 'ran'))).toThrow();
  });
});

describe('output', () => {
  it('keeps the tail when a stream is larger than maxOutput', async () => {
    const r = await exec(node, script('for (let i = 0; i < 20000; i++) console.log("line " + i)'), { maxOutput: 1000 });
    expect(r.truncated).toBe(true);
    expect(r.stdout.length).toBe(1000);
    expect(r.stdout.endsWith('line 19999\n')).toBe(true);
  });

  it('streams lines across chunks: CRLF, lone CR, split UTF-8, a last line without newline', async () => {
    const parts = ['one\r', '\ntwo\rthr', 'ee\n', Buffer.from('é').subarray(0, 1).toString('latin1'), 'LAST'];
    // Written with pauses so each part is its own chunk; é's two bytes straddle two writes.
    const code = `const p=${JSON.stringify(parts)};const e=Buffer.from("é");let i=0;const w=()=>{if(i===3){process.stdout.write(e.subarray(0,1));setTimeout(()=>{process.stdout.write(Buffer.concat([e.subarray(1),Buffer.from("\\n")]));i++;setTimeout(w,30)},30);return}if(i>=p.length)return;process.stdout.write(p[i++]);setTimeout(w,30)};w()`;
    const lines: string[] = [];
    const r = await exec(node, script(code), { onStdoutLine: (l) => lines.push(l) });
    expect(r.code).toBe(0);
    expect(lines).toEqual(['one', 'two', 'three', 'é', 'LAST']);
  });

  it('LineSplitter alone', () => {
    const got: string[] = [];
    const s = new LineSplitter((l) => got.push(l));
    for (const c of ['a\r', '\r', '\nb', '\n\n', 'c\r']) s.push(c);
    s.end();
    expect(got).toEqual(['a', '', 'b', '', 'c']);
  });
});
