// A loopback stand-in for GitHub's REST API, serving only the two Deployments endpoints
// Shipline calls, and checking every request against GitHub's documented contract ("Create a
// deployment", "Create a deployment status"): method, path, token, Accept, body field names and
// types, allowed states, the 140-character description limit. A request breaking the contract is
// answered 422 like GitHub does and recorded as a violation, so a test fails on it. It can be told
// to fail the next calls (403, 404, 500, a reset connection, no answer at all) for the failure-policy tests.
import type http from 'node:http';
import type { ContextLike } from '../../packages/kit/src/deployments.ts';
import { type Served, serve } from './servers.ts';

export const STATES = ['error', 'failure', 'inactive', 'in_progress', 'queued', 'pending', 'success'] as const;

export interface RecordedCall {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
  /** What was answered. */
  status: number;
}

/** How to answer the next matching request instead of the normal 201. */
export type Fault = { status: number; body?: unknown; headers?: Record<string, string> } | 'reset' | 'hang';

export interface FakeGitHub {
  /** The API base URL (GITHUB_API_URL). */
  url: string;
  /** Every request that reached the server, in order (also the refused ones). */
  calls: RecordedCall[];
  /** Contract breaches found; a correct client leaves this empty. */
  violations: string[];
  /** Answers the next `count` requests (to `path` when given, a RegExp) with `fault`. */
  fail(fault: Fault, count?: number, path?: RegExp): void;
  /** Statuses posted to one deployment, in order. */
  statesOf(id: number): string[];
  /** A run of this fake's repository, as @actions/github's context describes it (log URLs on github.example). */
  context(over?: Partial<ContextLike>): ContextLike;
  close(): Promise<void>;
}

type Field = 'string' | 'boolean' | 'string[]' | 'payload' | 'integer';

// Body fields each endpoint accepts and their types, from the REST reference.
const DEPLOYMENT_FIELDS: Record<string, Field> = {
  ref: 'string',
  task: 'string',
  auto_merge: 'boolean',
  required_contexts: 'string[]',
  payload: 'payload',
  environment: 'string',
  description: 'string',
  transient_environment: 'boolean',
  production_environment: 'boolean',
};
const STATUS_FIELDS: Record<string, Field> = {
  state: 'string',
  target_url: 'string',
  log_url: 'string',
  description: 'string',
  environment: 'string',
  environment_url: 'string',
  auto_inactive: 'boolean',
};

function typeOk(value: unknown, field: Field): boolean {
  switch (field) {
    case 'string':
      return typeof value === 'string';
    case 'boolean':
      return typeof value === 'boolean';
    case 'integer':
      return Number.isInteger(value);
    case 'string[]':
      return Array.isArray(value) && value.every((v) => typeof v === 'string');
    case 'payload':
      return typeof value === 'string' || (value !== null && typeof value === 'object' && !Array.isArray(value));
  }
}

function checkBody(body: Record<string, unknown>, fields: Record<string, Field>, required: string[]): string[] {
  const out: string[] = [];
  for (const k of required) if (!(k in body)) out.push(`missing required field ${k}`);
  for (const [k, v] of Object.entries(body)) {
    const f = fields[k];
    if (!f) out.push(`unknown field ${k}`);
    else if (!typeOk(v, f)) out.push(`field ${k} must be ${f}, got ${JSON.stringify(v)}`);
  }
  if (typeof body.description === 'string' && [...body.description].length > 140)
    out.push(`description is ${[...body.description].length} characters (max 140)`);
  return out;
}

function checkHeaders(h: http.IncomingHttpHeaders, token: string): string[] {
  const out: string[] = [];
  const auth = h.authorization ?? '';
  if (auth !== `token ${token}` && auth !== `Bearer ${token}`) out.push(`authorization is not "token|Bearer <token>"`);
  if (h.accept !== 'application/vnd.github+json') out.push(`accept is ${JSON.stringify(h.accept)}, not application/vnd.github+json`);
  const version = h['x-github-api-version'];
  if (version !== undefined && version !== '2022-11-28') out.push(`unknown X-GitHub-Api-Version ${version}`);
  if (!/^application\/json\b/.test(h['content-type'] ?? '')) out.push(`content-type is ${JSON.stringify(h['content-type'])}`);
  if (!h['user-agent']) out.push('no user-agent (GitHub refuses requests without one)');
  return out;
}

/** Starts the fake on 127.0.0.1 (a free port) for `owner/repo`, accepting only `token`. */
export async function fakeGitHub(opts: { token: string; owner?: string; repo?: string }): Promise<FakeGitHub> {
  const owner = opts.owner ?? 'acme';
  const repo = opts.repo ?? 'shop';
  const calls: RecordedCall[] = [];
  const violations: string[] = [];
  const faults: { fault: Fault; left: number; path: RegExp | undefined }[] = [];
  const deployments = new Map<number, { environment: string; states: string[] }>();
  let nextId = 1000;
  let served: Served | undefined;
  const api = () => served?.url ?? '';

  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const method = req.method ?? '';
      const path = (req.url ?? '').split('?')[0] as string;
      const text = Buffer.concat(chunks).toString('utf8');
      let body: Record<string, unknown> = {};
      const call: RecordedCall = { method, path, headers: req.headers, body, status: 0 };
      calls.push(call);
      const answer = (status: number, data: unknown, headers: Record<string, string> = {}) => {
        call.status = status;
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
        res.end(JSON.stringify(data));
      };

      const fault = faults.find((f) => f.left > 0 && (!f.path || f.path.test(path)));
      if (fault) {
        fault.left--;
        if (fault.fault === 'hang') {
          // Never answers; the socket closes with the server.
          call.status = -2;
          return;
        }
        if (fault.fault === 'reset') {
          call.status = -1;
          req.socket.destroy();
          return;
        }
        return answer(fault.fault.status, fault.fault.body ?? { message: `fault ${fault.fault.status}` }, fault.fault.headers);
      }

      const notFound = () => answer(404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' });
      const base = `/repos/${owner}/${repo}/deployments`;
      const isCreate = path === base;
      const statusMatch = new RegExp(`^${base}/(\\d+)/statuses$`).exec(path);
      if ((!isCreate && !statusMatch) || method !== 'POST') return notFound();

      const problems = checkHeaders(req.headers, opts.token);
      if (problems.some((p) => p.startsWith('authorization'))) {
        violations.push(`${method} ${path}: ${problems.join('; ')}`);
        return answer(401, { message: 'Bad credentials', status: '401' });
      }
      try {
        const parsed: unknown = JSON.parse(text);
        if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
        body = parsed as Record<string, unknown>;
        call.body = body;
      } catch {
        violations.push(`${method} ${path}: body is not a JSON object`);
        return answer(400, { message: 'Problems parsing JSON', status: '400' });
      }
      const now = new Date().toISOString();
      if (isCreate) {
        problems.push(...checkBody(body, DEPLOYMENT_FIELDS, ['ref']));
        if (problems.length) {
          violations.push(`${method} ${path}: ${problems.join('; ')}`);
          return answer(422, { message: 'Validation Failed', errors: problems, status: '422' });
        }
        const id = nextId++;
        const environment = typeof body.environment === 'string' ? body.environment : 'production';
        deployments.set(id, { environment, states: [] });
        return answer(201, {
          url: `${api()}${base}/${id}`,
          id,
          node_id: `DE_${id}`,
          sha: body.ref,
          ref: body.ref,
          task: body.task ?? 'deploy',
          payload: body.payload ?? {},
          original_environment: environment,
          environment,
          description: body.description ?? null,
          creator: { login: 'github-actions[bot]', id: 41898282, type: 'Bot' },
          created_at: now,
          updated_at: now,
          statuses_url: `${api()}${base}/${id}/statuses`,
          repository_url: `${api()}/repos/${owner}/${repo}`,
          transient_environment: body.transient_environment ?? false,
          production_environment: body.production_environment ?? environment === 'production',
        });
      }
      const id = Number(statusMatch?.[1]);
      const deployment = deployments.get(id);
      if (!deployment) return notFound();
      problems.push(...checkBody(body, STATUS_FIELDS, ['state']));
      if (typeof body.state === 'string' && !(STATES as readonly string[]).includes(body.state))
        problems.push(`state ${body.state} is not one of ${STATES.join(', ')}`);
      if (problems.length) {
        violations.push(`${method} ${path}: ${problems.join('; ')}`);
        return answer(422, { message: 'Validation Failed', errors: problems, status: '422' });
      }
      deployment.states.push(body.state as string);
      const statusId = calls.length;
      const logUrl = (body.log_url ?? body.target_url ?? '') as string;
      return answer(201, {
        url: `${api()}${base}/${id}/statuses/${statusId}`,
        id: statusId,
        node_id: `DES_${statusId}`,
        state: body.state,
        creator: { login: 'github-actions[bot]', id: 41898282, type: 'Bot' },
        description: body.description ?? '',
        environment: body.environment ?? deployment.environment,
        target_url: logUrl,
        log_url: logUrl,
        environment_url: body.environment_url ?? '',
        created_at: now,
        updated_at: now,
        deployment_url: `${api()}${base}/${id}`,
        repository_url: `${api()}/repos/${owner}/${repo}`,
      });
    });
  };

  served = await serve(handler);
  return {
    url: served.url,
    calls,
    violations,
    fail: (fault, count = 1, path) => faults.push({ fault, left: count, path }),
    statesOf: (id) => deployments.get(id)?.states ?? [],
    context: (over = {}) => ({
      sha: 'a'.repeat(40),
      ref: 'refs/heads/main',
      runId: 1,
      runAttempt: 1,
      serverUrl: 'https://github.example',
      apiUrl: (served as Served).url,
      repo: { owner, repo },
      ...over,
    }),
    close: () => (served as Served).close(),
  };
}
