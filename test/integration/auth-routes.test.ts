import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { readFileSync } from 'node:fs';
import { tempDir, trustGlobally } from '../harness/processes.js';

// The route table comes from the running server itself (Fastify's onRoute), so a route added
// later without authentication fails this test.
describe('authentication on every route', () => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startServer({ host: '127.0.0.1', port: 0, dataDir: tempDir('auth'), logLevel: 'silent' });
    trustGlobally(readFileSync(server.caFile, 'utf8'));
  });

  afterAll(async () => {
    await server?.close();
  });

  const concrete = (url: string) => url.replace(/:[a-zA-Z]+/g, 'x-1');

  it('knows a reasonable route table', () => {
    const urls = server.routes.map((r) => `${r.method} ${r.url}`);
    expect(urls).toEqual(expect.arrayContaining(['GET /healthz', 'POST /v1/jobs', 'GET /v1/jobs/:id/tasks', 'GET /v1/events', 'POST /v1/agents/join', 'GET /metrics']));
    expect(server.routes.length).toBeGreaterThanOrEqual(14);
  });

  const OPEN_ROUTES: Readonly<Record<string, number>> = {
    'GET /healthz': 200, 'GET /v1/agents/ca': 200, 'GET /': 200,
    'GET /assets/:name': 404, // no such asset: the route is open, the name made up
    'POST /v1/sign-in': 400, // no code given
  };

  it('answers 401 on every route but the open ones without a token, with a wrong token and with a join token', async () => {
    const joinToken = (await import('node:fs')).readFileSync(server.tokens.joinTokenFile, 'utf8').trim();
    const headerSets: Record<string, Record<string, string>> = {
      none: {},
      wrong: { authorization: 'Bearer atoll_admin_not-a-real-token' },
      malformed: { authorization: 'Basic abc' },
    };
    for (const route of server.routes) {
      const url = `${server.url}${concrete(route.url)}`;
      // Open routes: the CA certificate (agents compare it with their join token's fingerprint), the
      // dashboard's page and assets (no data in them), and the sign-in that trades a one-time code.
      const open = OPEN_ROUTES[`${route.method} ${route.url}`];
      if (open !== undefined) {
        const response = await fetch(url, { method: route.method, ...(route.method === 'GET' ? {} : { headers: { 'content-type': 'application/json' }, body: '{}' }) });
        expect(response.status, `${route.method} ${route.url}`).toBe(open);
        continue;
      }
      for (const [label, headers] of Object.entries(headerSets)) {
        const response = await fetch(url, { method: route.method, headers: { ...headers, 'content-type': 'application/json' }, ...(route.method === 'GET' ? {} : { body: '{}' }) });
        expect(response.status, `${route.method} ${route.url} with ${label} credentials`).toBe(401);
        const body = (await response.json()) as { error: { code: string } };
        expect(body.error.code).toBe('unauthorized');
      }
      if (route.url !== '/v1/agents/join') {
        const response = await fetch(url, { method: route.method, headers: { authorization: `Bearer ${joinToken}` } });
        expect(response.status, `${route.method} ${route.url} with the join token`).toBe(401);
      }
    }
  });

  it('answers 401 on unknown paths without a token, and 404 with one', async () => {
    expect((await fetch(`${server.url}/v1/nope`)).status).toBe(401);
    const admin = (await import('node:fs')).readFileSync(server.tokens.adminTokenFile, 'utf8').trim();
    expect((await fetch(`${server.url}/v1/nope`, { headers: { authorization: `Bearer ${admin}` } })).status).toBe(404);
  });

  it('refuses the agent WebSocket without a node credential', async () => {
    const admin = (await import('node:fs')).readFileSync(server.tokens.adminTokenFile, 'utf8').trim();
    for (const headers of [{}, { authorization: `Bearer ${admin}` }]) {
      const status = await new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(`${server.url.replace('http', 'ws')}/v1/agents/connect`, { headers, ca: readFileSync(server.caFile) });
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('open', () => reject(new Error('the socket opened')));
        ws.on('error', () => undefined);
      });
      expect(status).toBe(401);
    }
  });

  it('writes the token files with mode 0600', async () => {
    const { statSync } = await import('node:fs');
    expect(statSync(server.tokens.adminTokenFile).mode & 0o777).toBe(0o600);
    expect(statSync(server.tokens.joinTokenFile).mode & 0o777).toBe(0o600);
  });
});
