import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { AtollClient } from '../../src/client/client.js';
import { createCsr, newKeyPair } from '../../src/protocol/certificate-request.js';
import type { AuditRecord } from '../../src/core/access.js';
import type { JobView } from '../../src/core/types.js';
import { startServer as startInProcess } from '../../src/server/server.js';
import { runCli, startAgent, startServer, tempDir, waitFor, waitForReadyNodes, type Proc, type ServerProc } from '../harness/processes.js';

// Roles, namespaces, token revocation and rotation, the audit log and node identity, against a
// real server and agent. Every route is walked with a token of the wrong namespace: the route
// table comes from the server's own listing of routes, so a route added later without a rule
// here fails the test.

interface Answer {
  readonly status: number;
  readonly text: string;
}

async function call(server: ServerProc, token: string, method: string, path: string, body?: unknown): Promise<Answer> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, text: await response.text() };
}

const pendingSpec = (namespace: string, name: string) => ({
  name, namespace, tasks: 1, command: ['true'],
  // Nothing carries this label: the job waits, and stays in the store to be looked at.
  placement: { require: [{ key: 'absent', operator: 'In', values: ['yes'] }] },
});

describe('roles, namespaces, revocation and the audit log', () => {
  let server: ServerProc;
  let agent: Proc & { dataDir: string };
  let admin: AtollClient;
  const secrets: string[] = [];
  const tokens: Record<string, { id: string; secret: string }> = {};
  let jobA: JobView;

  const as = (name: string) => new AtollClient({ server: server.url, token: tokens[name]!.secret });

  beforeAll(async () => {
    // Every log line the processes can write: the secrets test below reads all of it.
    server = await startServer({ extraArgs: ['--log-level', 'trace'] });
    admin = server.client;
    secrets.push(server.adminToken, server.joinToken);
    agent = startAgent(server.url, server.joinToken, { name: 'edge-1', extraArgs: ['--log-level', 'trace'] });
    await waitForReadyNodes(admin, 1);
    secrets.push(JSON.parse(readFileSync(join(agent.dataDir, 'node-credential.json'), 'utf8')).credential as string);
    const make = async (name: string, role: 'viewer' | 'operator' | 'admin', namespaces: string[] | null) => {
      const created = await admin.createToken({ name, role, namespaces });
      tokens[name] = { id: created.token.id, secret: created.secret };
      secrets.push(created.secret);
    };
    await make('viewer-a', 'viewer', ['team-a']);
    await make('operator-a', 'operator', ['team-a']);
    await make('operator-b', 'operator', ['team-b']);
    await make('admin-a', 'admin', ['team-a']);
    await make('cluster-viewer', 'viewer', null);
    jobA = await admin.submitJob(pendingSpec('team-a', 'secret-plans'));
    await admin.applyPolicy('team-budgets', { budget: { monthly: 100 }, namespaces: ['team-a', 'team-b'] });
  }, 60_000);

  afterAll(async () => {
    await agent?.kill();
    await server?.kill();
  });

  it('keeps the secret out of every token listing', async () => {
    const listing = await admin.listTokens();
    expect(listing.items.map((t) => t.name)).toEqual(expect.arrayContaining(['bootstrap-admin', 'viewer-a', 'operator-a', 'operator-b', 'admin-a', 'cluster-viewer']));
    const text = JSON.stringify(listing);
    for (const secret of secrets) expect(text).not.toContain(secret);
    expect(text).not.toMatch(/"hash"/);
  });

  it('refuses bad token requests with the field named, and creates nothing', async () => {
    const before = (await admin.listTokens()).total;
    for (const [body, field] of [
      [{ name: 'x', role: 'root' }, 'role'],
      [{ name: 'Bad Name', role: 'viewer' }, 'name'],
      [{ name: 'ok', role: 'viewer', namespaces: ['NOPE'] }, 'namespaces'],
      [{ name: 'ok', role: 'viewer', namespaces: [] }, 'namespaces'],
      [{ name: 'ok', role: 'viewer', extra: 1 }, 'extra'],
    ] as const) {
      const answer = await call(server, server.adminToken, 'POST', '/v1/tokens', body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.text).toContain(field);
    }
    expect((await admin.listTokens()).total).toBe(before);
  });

  it('lets each role do what it may and nothing more', async () => {
    // A viewer of team-a reads its job but cannot cancel it or submit.
    expect((await as('viewer-a').getJob(jobA.id)).id).toBe(jobA.id);
    await expect(as('viewer-a').cancelJob(jobA.id)).rejects.toMatchObject({ status: 403 });
    await expect(as('viewer-a').submitJob(pendingSpec('team-a', 'nope'))).rejects.toMatchObject({ status: 403, message: expect.stringContaining('operator') });
    // An operator of team-a submits there, not in default (a spec without a namespace) nor in team-b.
    const mine = await as('operator-a').submitJob(pendingSpec('team-a', 'ops'));
    expect(mine.namespace).toBe('team-a');
    await expect(as('operator-a').submitJob({ ...pendingSpec('team-a', 'x'), namespace: undefined })).rejects.toMatchObject({ status: 403, message: expect.stringContaining('"default"') });
    await expect(as('operator-a').submitJob(pendingSpec('team-b', 'x'))).rejects.toMatchObject({ status: 403 });
    expect((await as('operator-a').cancelJob(mine.id)).state).toBe('cancelled');
    // Cluster changes need a token for every namespace, whatever its role.
    await expect(as('admin-a').cordonNode('edge-1')).rejects.toMatchObject({ status: 403, message: expect.stringContaining('every namespace') });
    await expect(as('operator-a').cordonNode('edge-1')).rejects.toMatchObject({ status: 403 });
    // A cluster viewer sees every namespace and the metrics, and changes nothing.
    expect((await as('cluster-viewer').listJobs()).items.map((j) => j.id)).toContain(jobA.id);
    expect((await call(server, tokens['cluster-viewer']!.secret, 'GET', '/metrics')).status).toBe(200);
    await expect(as('cluster-viewer').cancelJob(jobA.id)).rejects.toMatchObject({ status: 403 });
    // Scoped listings show only the token's namespaces.
    expect((await as('operator-b').listJobs()).items).toEqual([]);
    expect((await as('viewer-a').listJobs()).items.map((j) => j.namespace)).toEqual(expect.arrayContaining(['team-a']));
    expect(new Set((await as('viewer-a').listJobs()).items.map((j) => j.namespace))).toEqual(new Set(['team-a']));
  });

  it('walks every route with a token of another namespace: nothing of team-a is seen or touched', async () => {
    const b = tokens['operator-b']!.secret;
    const task = `${jobA.id}.0`;
    const q = (path: string) => `${path}?namespace=team-a`;
    // Each route: the request made, and what must come back. `clean` answers are 200 but must not
    // mention team-a's job; cluster-readable routes (nodes, policies, prices, schema) are open to all.
    type Expect = 'forbidden' | 'not-found' | 'clean' | 'unauthorized' | 'open';
    const walk: Record<string, { method: string; path: string; body?: unknown; expect: Expect }[]> = {
      'GET /healthz': [{ method: 'GET', path: '/healthz', expect: 'open' }],
      // The dashboard's page and assets hold no data.
      'GET /': [{ method: 'GET', path: '/', expect: 'open' }],
      'GET /assets/:name': [{ method: 'GET', path: '/assets/none.js', expect: 'not-found' }],
      'GET /v1/whoami': [{ method: 'GET', path: '/v1/whoami', expect: 'clean' }],
      // A sign-in link signs in as the token that asked for it: operator-b gets one for team-b.
      'POST /v1/sign-in-links': [{ method: 'POST', path: '/v1/sign-in-links', body: {}, expect: 'clean' }],
      'POST /v1/sign-in': [{ method: 'POST', path: '/v1/sign-in', body: { code: 'a'.repeat(32) }, expect: 'unauthorized' }],
      'GET /v1/jobs/:id/task-states': [{ method: 'GET', path: `/v1/jobs/${jobA.id}/task-states`, expect: 'not-found' }],
      'POST /v1/jobs': [{ method: 'POST', path: '/v1/jobs', body: pendingSpec('team-a', 'intruder'), expect: 'forbidden' }],
      'POST /v1/jobs/estimate': [{ method: 'POST', path: '/v1/jobs/estimate', body: pendingSpec('team-a', 'intruder'), expect: 'forbidden' }],
      'GET /v1/jobs': [{ method: 'GET', path: '/v1/jobs', expect: 'clean' }, { method: 'GET', path: q('/v1/jobs'), expect: 'forbidden' }],
      'GET /v1/jobs/:id': [{ method: 'GET', path: `/v1/jobs/${jobA.id}`, expect: 'not-found' }],
      'GET /v1/jobs/:id/transfers': [{ method: 'GET', path: `/v1/jobs/${jobA.id}/transfers`, expect: 'not-found' }],
      'POST /v1/jobs/:id/cancel': [{ method: 'POST', path: `/v1/jobs/${jobA.id}/cancel`, expect: 'not-found' }],
      'GET /v1/jobs/:id/tasks': [{ method: 'GET', path: `/v1/jobs/${jobA.id}/tasks`, expect: 'not-found' }],
      'GET /v1/schema/job': [{ method: 'GET', path: '/v1/schema/job', expect: 'open' }],
      'GET /v1/tasks/:id': [{ method: 'GET', path: `/v1/tasks/${task}`, expect: 'not-found' }],
      'GET /v1/tasks/:id/explanation': [{ method: 'GET', path: `/v1/tasks/${task}/explanation`, expect: 'not-found' }],
      'GET /v1/tasks/:id/logs': [{ method: 'GET', path: `/v1/tasks/${task}/logs`, expect: 'not-found' }],
      'GET /v1/nodes': [{ method: 'GET', path: '/v1/nodes', expect: 'open' }],
      'GET /v1/fleet': [{ method: 'GET', path: '/v1/fleet', expect: 'open' }],
      'GET /v1/nodes/:name': [{ method: 'GET', path: '/v1/nodes/edge-1', expect: 'open' }],
      'POST /v1/nodes/:name/cordon': [{ method: 'POST', path: '/v1/nodes/edge-1/cordon', expect: 'forbidden' }],
      'POST /v1/nodes/:name/uncordon': [{ method: 'POST', path: '/v1/nodes/edge-1/uncordon', expect: 'forbidden' }],
      'POST /v1/nodes/:name/drain': [{ method: 'POST', path: '/v1/nodes/edge-1/drain', body: {}, expect: 'forbidden' }],
      'GET /v1/datasets': [{ method: 'GET', path: '/v1/datasets', expect: 'clean' }, { method: 'GET', path: q('/v1/datasets'), expect: 'forbidden' }],
      'GET /v1/datasets/:name': [{ method: 'GET', path: q('/v1/datasets/readings'), expect: 'forbidden' }],
      'DELETE /v1/datasets/:name': [{ method: 'DELETE', path: q('/v1/datasets/readings'), expect: 'forbidden' }],
      'POST /v1/data/uploads': [{ method: 'POST', path: '/v1/data/uploads', body: { namespace: 'team-a', dataset: 'readings', partition: 'p0', node: 'edge-1' }, expect: 'forbidden' }],
      'POST /v1/data/register': [{ method: 'POST', path: '/v1/data/register', body: { namespace: 'team-a', dataset: 'readings', partition: 'p0', node: 'edge-1', path: '/etc/hostname' }, expect: 'forbidden' }],
      // Relayed transfers take a data token signed for one partition, never an API token.
      'GET /v1/data/relay/:namespace/:dataset/:partition': [{ method: 'GET', path: '/v1/data/relay/team-a/readings/p0', expect: 'unauthorized' }],
      'PUT /v1/data/relay/:namespace/:dataset/:partition': [{ method: 'PUT', path: '/v1/data/relay/team-a/readings/p0', body: {}, expect: 'unauthorized' }],
      'GET /v1/policies': [{ method: 'GET', path: '/v1/policies', expect: 'open' }],
      'GET /v1/policies/:name': [{ method: 'GET', path: '/v1/policies/team-budgets', expect: 'open' }],
      'PUT /v1/policies/:name': [{ method: 'PUT', path: '/v1/policies/team-budgets', body: { budget: { monthly: 1 }, namespaces: ['team-a'] }, expect: 'forbidden' }],
      'DELETE /v1/policies/:name': [{ method: 'DELETE', path: '/v1/policies/team-budgets', expect: 'forbidden' }],
      // Cluster events (nodes, policies) are for every token; team-a's job events are not.
      'GET /v1/events': [{ method: 'GET', path: '/v1/events', expect: 'open' }],
      'GET /v1/spend': [{ method: 'GET', path: '/v1/spend', expect: 'clean' }, { method: 'GET', path: q('/v1/spend'), expect: 'forbidden' }],
      'GET /v1/budgets': [{ method: 'GET', path: '/v1/budgets', expect: 'clean' }],
      'GET /v1/pricing': [{ method: 'GET', path: '/v1/pricing', expect: 'open' }],
      'PUT /v1/pricing': [{ method: 'PUT', path: '/v1/pricing', body: {}, expect: 'forbidden' }],
      'POST /v1/agents/join': [{ method: 'POST', path: '/v1/agents/join', body: { node: 'intruder' }, expect: 'unauthorized' }],
      'GET /v1/agents/connect': [{ method: 'GET', path: '/v1/agents/connect', expect: 'unauthorized' }],
      // The cluster CA certificate is public (agents check it against their join token); renewal takes a node certificate.
      'GET /v1/agents/ca': [{ method: 'GET', path: '/v1/agents/ca', expect: 'open' }],
      'POST /v1/agents/renew': [{ method: 'POST', path: '/v1/agents/renew', body: { csr: 'x' }, expect: 'unauthorized' }],
      'POST /v1/join-tokens': [{ method: 'POST', path: '/v1/join-tokens', body: {}, expect: 'forbidden' }],
      'GET /v1/join-tokens': [{ method: 'GET', path: '/v1/join-tokens', expect: 'forbidden' }],
      'DELETE /v1/join-tokens/:id': [{ method: 'DELETE', path: '/v1/join-tokens/join-x', expect: 'forbidden' }],
      'GET /v1/node-identities': [{ method: 'GET', path: '/v1/node-identities', expect: 'forbidden' }],
      'POST /v1/nodes/:name/revoke': [{ method: 'POST', path: '/v1/nodes/edge-1/revoke', expect: 'forbidden' }],
      'GET /metrics': [{ method: 'GET', path: '/metrics', expect: 'forbidden' }],
      'POST /v1/tokens': [{ method: 'POST', path: '/v1/tokens', body: { name: 'mine', role: 'admin' }, expect: 'forbidden' }],
      'GET /v1/tokens': [{ method: 'GET', path: '/v1/tokens', expect: 'forbidden' }],
      'POST /v1/tokens/:id/revoke': [{ method: 'POST', path: `/v1/tokens/${tokens['operator-a']!.id}/revoke`, expect: 'forbidden' }],
      'POST /v1/tokens/:id/rotate': [{ method: 'POST', path: `/v1/tokens/${tokens['operator-a']!.id}/rotate`, expect: 'forbidden' }],
      'GET /v1/audit': [{ method: 'GET', path: '/v1/audit', expect: 'forbidden' }],
    };
    // The events a cluster token sees do include team-a's job, so the filtered view below means something.
    expect(JSON.stringify(await admin.listEvents({ limit: 1000 }))).toContain(jobA.id);
    const routes = await listRoutes();
    expect(routes.filter((r) => walk[r] === undefined), 'routes the walk does not cover').toEqual([]);
    const status: Record<Exclude<Expect, 'clean' | 'open'>, number> = { forbidden: 403, 'not-found': 404, unauthorized: 401 };
    for (const [route, requests] of Object.entries(walk)) {
      for (const request of requests) {
        const answer = await call(server, b, request.method, request.path, request.body);
        const label = `${route} as ${request.method} ${request.path}`;
        if (request.expect === 'clean' || request.expect === 'open') expect([200, 201], label).toContain(answer.status);
        else expect(answer.status, `${label}: ${answer.text}`).toBe(status[request.expect]);
        if (request.expect === 'not-found') {
          // The same answer as for a job that never existed: the id echoed is only the caller's own.
          const never = await call(server, b, request.method, request.path.replaceAll(jobA.id, 'never-000000'), request.body);
          expect(answer.text.replaceAll(jobA.id, 'ID'), label).toBe(never.text.replaceAll('never-000000', 'ID'));
        } else expect(answer.text, label).not.toContain(jobA.id);
        if (request.expect === 'clean') expect(answer.text, label).not.toContain('team-a');
        if (answer.status >= 400 && answer.status !== 401) expect(JSON.parse(answer.text).error.message.length, label).toBeGreaterThan(10);
      }
    }
    // Nothing changed: team-a's job is still waiting, the node is not cordoned, the policy stands, no token appeared.
    expect((await admin.getJob(jobA.id)).state).toBe('pending');
    expect((await admin.getNode('edge-1')).cordoned).toBe(false);
    expect((await admin.listPolicies()).items.map((p) => p.name)).toContain('team-budgets');
    expect((await admin.listTokens()).items.map((t) => t.name)).not.toContain('mine');
    expect((await admin.listTokens()).items.find((t) => t.id === tokens['operator-a']!.id)?.revokedAt).toBeNull();
  });

  it('ends a revoked token\'s live event stream within 5 s, and refuses it afterwards', async () => {
    const secret = tokens['viewer-a']!.secret;
    const response = await fetch(`${server.url}/v1/events?follow=true`, { headers: { authorization: `Bearer ${secret}`, accept: 'text/event-stream' } });
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    let text = '';
    const ended = (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return true;
        text += Buffer.from(value).toString();
      }
    })();
    await waitFor(() => (text.includes('caught-up') ? true : undefined), 10_000, 'the stream to replay');
    const revokedAt = Date.now();
    await admin.revokeToken(tokens['viewer-a']!.id);
    const outcome = await Promise.race([ended, new Promise<false>((r) => setTimeout(() => r(false), 5_000))]);
    expect(outcome, 'the stream ended within 5 s of the revocation').toBe(true);
    expect(Date.now() - revokedAt).toBeLessThan(5_000);
    expect(text).toContain('event: revoked');
    expect((await call(server, secret, 'GET', '/v1/jobs')).status).toBe(401);
  });

  it('rotates the bootstrap admin token: the new secret works and is in its file, the old one is refused', async () => {
    const bootstrap = (await admin.listTokens()).items.find((t) => t.name === 'bootstrap-admin')!;
    const rotated = await admin.rotateToken(bootstrap.id);
    secrets.push(rotated.secret);
    expect(rotated.secret).not.toBe(server.adminToken);
    expect(readFileSync(join(server.dataDir, 'admin.token'), 'utf8').trim()).toBe(rotated.secret);
    expect((await call(server, server.adminToken, 'GET', '/v1/jobs')).status).toBe(401);
    const fresh = new AtollClient({ server: server.url, token: rotated.secret });
    expect((await fresh.listTokens()).items.map((t) => t.id)).toContain(rotated.token.id);
    admin = fresh;
    // The last cluster admin token cannot be revoked (that would lock everyone out); it can be rotated.
    await expect(admin.revokeToken(rotated.token.id)).rejects.toMatchObject({ status: 409, message: expect.stringContaining('rotate') });
  });

  it('audits every change and every refusal, with actor, action, target, outcome and time, and no secret', async () => {
    const { items } = await admin.listAudit({ limit: 10_000 });
    const find = (match: (e: AuditRecord) => boolean) => items.find(match);
    const submitted = find((e) => e.action === 'POST /v1/jobs' && e.target === jobA.id);
    expect(submitted).toMatchObject({ actorKind: 'token', role: 'admin', namespace: 'team-a', outcome: 'ok', status: 201 });
    expect(submitted!.time).toBeGreaterThan(Date.now() - 600_000);
    const refusedCancel = find((e) => e.action === 'POST /v1/jobs/:id/cancel' && e.actor === tokens['operator-b']!.id);
    expect(refusedCancel).toMatchObject({ role: 'operator', target: jobA.id, outcome: 'refused', status: 404 });
    const denied = find((e) => e.action === 'POST /v1/nodes/:name/cordon' && e.actor === tokens['operator-b']!.id);
    expect(denied).toMatchObject({ target: 'edge-1', outcome: 'denied', status: 403, reason: expect.stringContaining('needs admin') });
    expect(find((e) => e.actor === 'anonymous' && e.status === 401)).toBeDefined();
    expect(find((e) => e.action === 'POST /v1/tokens/:id/revoke' && e.target === tokens['viewer-a']!.id && e.outcome === 'ok')).toBeDefined();
    // Reads that succeed are not audited: the log is of changes and refusals.
    expect(find((e) => e.action === 'GET /v1/jobs/:id' && e.outcome === 'ok')).toBeUndefined();
    const text = JSON.stringify(items);
    for (const secret of secrets) expect(text).not.toContain(secret);
    // `atoll audit` filters on the server.
    const onlyDenied = await admin.listAudit({ outcome: 'denied', actor: tokens['operator-b']!.id });
    expect(onlyDenied.items.length).toBeGreaterThan(5);
    expect(onlyDenied.items.every((e) => e.outcome === 'denied' && e.actor === tokens['operator-b']!.id)).toBe(true);
  });

  it('holds a node to its own identity: speaking for another node or reporting its attempts is refused with 403 and audited', async () => {
    // Two more node certificates, as agents get them: a key of their own and a CSR with the join token.
    const ca = readFileSync(server.caFile, 'utf8');
    const credential = async (node: string) => {
      const keys = newKeyPair();
      const response = await fetch(`${server.url}/v1/agents/join`, { method: 'POST', headers: { authorization: `Bearer ${server.joinToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ node, csr: createCsr(node, keys) }) });
      expect(response.status).toBe(201);
      const { certificate } = (await response.json()) as { certificate: string };
      return { cert: certificate, key: keys.privateKeyPem };
    };
    const rogue = await credential('rogue-1');
    await credential('victim-1');
    const hello = (name: string) => ({ type: 'hello', protocol: 1, agentVersion: 'test', node: { name, cpu: 1000, memory: 1 << 30 }, running: [], finished: [] });
    const open = (identity: { cert: string; key: string }) => new Promise<{ ws: WebSocket; messages: unknown[]; closed: Promise<number> }>((resolve, reject) => {
      const ws = new WebSocket(`${server.url.replace('http', 'ws')}/v1/agents/connect`, { ca, ...identity });
      const messages: unknown[] = [];
      ws.on('message', (data) => messages.push(JSON.parse(data.toString())));
      const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
      ws.on('open', () => resolve({ ws, messages, closed }));
      ws.on('error', reject);
    });

    // Speaking as another node: the connection is closed with 4403 and the attempt is audited.
    const asVictim = await open(rogue);
    asVictim.ws.send(JSON.stringify(hello('victim-1')));
    expect(await asVictim.closed).toBe(4403);
    expect(asVictim.messages).toContainEqual({ type: 'error', code: 'forbidden', message: expect.stringContaining('speaks for node rogue-1, not victim-1') });

    // Reporting a real attempt of edge-1 as finished, from rogue-1's own connection.
    const long = await admin.submitJob({ name: 'long', tasks: 1, command: ['sleep', '30'] });
    const running = await waitFor(async () => (await admin.listTasks(long.id)).items.find((t) => t.state === 'running'), 20_000, 'the task to run on edge-1');
    const attemptId = running.currentAttemptId!;
    const own = await open(rogue);
    own.ws.send(JSON.stringify(hello('rogue-1')));
    await waitFor(async () => ((await admin.getNode('rogue-1')).state === 'ready' ? true : undefined), 10_000, 'rogue-1 to be ready');
    own.ws.send(JSON.stringify({ type: 'attempts.results', results: [{ attemptId, epoch: 1, outcome: 'succeeded', exitCode: 0, reason: null, startedAt: 1, finishedAt: 2 }] }));
    await waitFor(() => own.messages.find((m) => (m as { code?: string }).code === 'forbidden'), 10_000, 'the forbidden answer');
    expect(own.messages).toContainEqual({ type: 'error', code: 'forbidden', message: expect.stringContaining(`${attemptId} runs on edge-1`) });
    // The task goes on running where it was; nothing of the report was applied.
    expect((await admin.listTasks(long.id)).items[0]).toMatchObject({ state: 'running', currentAttemptId: attemptId });
    const audit = await admin.listAudit({ outcome: 'denied', actor: 'rogue-1' });
    expect(audit.items.map((e) => [e.action, e.target, e.status])).toEqual(expect.arrayContaining([
      ['agent.hello', 'victim-1', 403],
      ['agent.attempts.results', attemptId, 403],
    ]));
    own.ws.close();
    await admin.cancelJob(long.id);
  });

  it('manages tokens and reads the audit log from the CLI', async () => {
    const cli = (...args: string[]) =>
      // The bootstrap admin token was rotated above: its file holds the live secret.
      runCli({ url: server.url, adminToken: readFileSync(join(server.dataDir, 'admin.token'), 'utf8').trim() }, ...args);
    const created = await cli('token', 'create', 'from-cli', '--role', 'viewer', '--namespace', 'team-a', 'team-b', '-o', 'json');
    expect(created.code, created.stderr).toBe(0);
    const { token, secret } = JSON.parse(created.stdout) as { token: { id: string; namespaces: string[] }; secret: string };
    secrets.push(secret);
    expect(token.namespaces).toEqual(['team-a', 'team-b']);
    const table = await cli('token', 'list');
    expect(table.stdout).toMatch(new RegExp(`${token.id}\\s+from-cli\\s+viewer\\s+team-a,team-b`));
    expect(table.stdout).not.toContain(secret);
    const bad = await cli('token', 'create', 'x', '--role', 'root');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--role: expected one of viewer, operator, admin');
    expect((await cli('token', 'revoke', token.id)).stdout).toContain(`revoked token ${token.id}`);
    const audit = await cli('audit', '--actor', tokens['operator-b']!.id, '--outcome', 'denied');
    expect(audit.code, audit.stderr).toBe(0);
    expect(audit.stdout).toMatch(/POST \/v1\/nodes\/:name\/cordon\s+edge-1\s+-\s+denied 403/);
  });

  it('never writes a token or credential to the server\'s or the agent\'s log', async () => {
    expect(server.output().length + agent.output().length).toBeGreaterThan(0);
    for (const secret of secrets) {
      expect(server.output(), 'server log').not.toContain(secret);
      expect(agent.output(), 'agent log').not.toContain(secret);
    }
  });
});

/** Every route the server has, as `METHOD /pattern`, from a server started in this process for its route table. */
async function listRoutes(): Promise<string[]> {
  const probe = await startInProcess({ host: '127.0.0.1', port: 0, dataDir: tempDir('routes'), logLevel: 'silent' });
  try {
    return probe.routes.map((r) => `${r.method} ${r.url}`);
  } finally {
    await probe.close();
  }
}
