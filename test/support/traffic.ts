// A steady loopback client for tests of rollouts under load: GETs the URLs `next()` hands out, one
// request at a time, one every `everyMs`, and counts each answer by its class.
import http from 'node:http';

export interface Tally {
  sent: number;
  ok: number;
  status5xx: number;
  otherStatus: number;
  failed: number;
  firstErrors: string[];
}

/**
 * GETs the URLs `next()` hands out, one request at a time, starting one every `everyMs`, until
 * stopped; each answer is counted by its class (a request that got no answer is `failed`).
 */
export function traffic(next: () => string, everyMs: number) {
  const tally: Tally = { sent: 0, ok: 0, status5xx: 0, otherStatus: 0, failed: 0, firstErrors: [] };
  const get = (url: string) =>
    new Promise<void>((settle) => {
      tally.sent++;
      const req = http.get(url, { agent: false, timeout: 2000 }, (res) => {
        const code = res.statusCode ?? 0;
        res.resume().on('end', () => {
          if (code >= 200 && code < 400) tally.ok++;
          else if (code >= 500) tally.status5xx++;
          else tally.otherStatus++;
          settle();
        });
      });
      req.on('timeout', () => req.destroy(new Error('no answer in 2 s')));
      req.on('error', (e) => {
        tally.failed++;
        if (tally.firstErrors.length < 10) tally.firstErrors.push(`${new Date().toISOString()} ${url}: ${e.message}`);
        settle();
      });
    });
  let running = true;
  const done = (async () => {
    while (running) {
      const started = Date.now();
      await get(next());
      await new Promise((wake) => setTimeout(wake, Math.max(0, everyMs - (Date.now() - started))));
    }
  })();
  return {
    tally,
    async stop(): Promise<Tally> {
      running = false;
      await done;
      return tally;
    },
  };
}
