// A real distribution registry in token-auth mode, with a small token service beside it that
// issues RS256 JWTs the registry verifies: the Bearer flow of Docker Hub, GHCR and friends.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes, sign, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface TokenRegistry {
  /** host:port of the registry */
  address: string;
  tokenRequests: Array<{ method: string; scopes: string[]; grant: string }>;
  user: string;
  password: string;
  refreshToken: string;
  stop(): Promise<void>;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export async function startTokenRegistry(): Promise<TokenRegistry> {
  const dir = mkdtempSync(path.join(tmpdir(), 'oci-token-reg-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      path.join(dir, 'key.pem'),
      '-out',
      path.join(dir, 'cert.pem'),
      '-days',
      '1',
      '-subj',
      '/CN=shipline-token-issuer',
    ],
    { stdio: 'ignore' },
  );
  const key = readFileSync(path.join(dir, 'key.pem'));
  const certDer = new X509Certificate(readFileSync(path.join(dir, 'cert.pem'))).raw;
  const user = 'tokenuser';
  const password = randomBytes(9).toString('hex');
  const refreshToken = `refresh-${randomBytes(6).toString('hex')}`;
  const service = 'shipline-registry';
  const issuer = 'shipline-test-issuer';
  const tokenRequests: TokenRegistry['tokenRequests'] = [];

  const issue = (sub: string, scopes: string[]) => {
    const now = Math.floor(Date.now() / 1000);
    const access = scopes.map((s) => {
      const [type, ...rest] = s.split(':');
      const actions = (rest.pop() ?? '').split(',').filter(Boolean);
      return { type, name: rest.join(':'), actions };
    });
    const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', x5c: [certDer.toString('base64')] }));
    const claims = b64url(
      JSON.stringify({ iss: issuer, sub, aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access }),
    );
    const sig = b64url(sign('RSA-SHA256', Buffer.from(`${header}.${claims}`), key));
    return `${header}.${claims}.${sig}`;
  };

  const tokens = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      const deny = () => {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end('{"details":"bad credentials"}');
      };
      if (req.method === 'POST') {
        const form = new URLSearchParams(body);
        const scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
        tokenRequests.push({ method: 'POST', scopes, grant: form.get('grant_type') ?? '' });
        if (form.get('grant_type') !== 'refresh_token' || form.get('refresh_token') !== refreshToken || form.get('service') !== service) return deny();
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ access_token: issue(user, scopes), expires_in: 300 }));
        return;
      }
      const scopes = u.searchParams.getAll('scope');
      tokenRequests.push({ method: 'GET', scopes, grant: 'basic' });
      const authz = req.headers.authorization ?? '';
      const expected = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
      if (authz !== expected || u.searchParams.get('service') !== service) return deny();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token: issue(user, scopes), expires_in: 300, issued_at: new Date().toISOString() }));
    });
  });
  await new Promise<void>((r) => tokens.listen(0, '127.0.0.1', r));
  const tokenPort = (tokens.address() as net.AddressInfo).port;
  const port = await freePort();
  writeFileSync(
    path.join(dir, 'config.yml'),
    [
      'version: 0.1',
      'log:',
      '  level: warn',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${path.join(dir, 'data')}`,
      'http:',
      `  addr: 127.0.0.1:${port}`,
      'auth:',
      '  token:',
      `    realm: http://127.0.0.1:${tokenPort}/token`,
      `    service: ${service}`,
      `    issuer: ${issuer}`,
      `    rootcertbundle: ${path.join(dir, 'cert.pem')}`,
      '',
    ].join('\n'),
  );
  const bin = process.env.SHIPLINE_REGISTRY_BIN ?? 'docker-registry';
  const child: ChildProcess = spawn(bin, ['serve', path.join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    await new Promise<void>((r) => tokens.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    const status = await new Promise<number>((resolve) => {
      const req = http.get(`http://127.0.0.1:${port}/v2/`, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', () => resolve(0));
    });
    if (status === 401) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`${bin} in token mode did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { address: `127.0.0.1:${port}`, tokenRequests, user, password, refreshToken, stop };
}
