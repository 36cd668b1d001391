// Real HTTP(S) servers on 127.0.0.1 for tests, with a CA made by openssl for TLS.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export interface Served {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function serve(handler: Handler, tls?: { key: Buffer; cert: Buffer }): Promise<Served> {
  const server = tls ? https.createServer({ key: tls.key, cert: tls.cert }, handler) : http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = await serve(() => {});
  await s.close();
  return s.port;
}

export interface TestCa {
  dir: string;
  caFile: string;
  key: Buffer;
  cert: Buffer;
  cleanup(): void;
}

/** A throwaway CA and a server certificate for 127.0.0.1 and localhost. */
export function makeCa(): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'shipline-ca-'));
  const p = (n: string) => join(dir, n);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('ca.key'), '-out', p('ca.crt'), '-days', '2', '-subj', '/CN=Shipline Test CA');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('srv.key'), '-out', p('srv.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(p('ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n');
  ssl(
    'x509',
    '-req',
    '-in',
    p('srv.csr'),
    '-CA',
    p('ca.crt'),
    '-CAkey',
    p('ca.key'),
    '-CAcreateserial',
    '-out',
    p('srv.crt'),
    '-days',
    '2',
    '-extfile',
    p('ext'),
  );
  return {
    dir,
    caFile: p('ca.crt'),
    key: readFileSync(p('srv.key')),
    cert: readFileSync(p('srv.crt')),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
