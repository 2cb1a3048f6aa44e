import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AtollClient } from '../../src/client/client.js';
import { fetchTrusting } from '../../src/client/tls-fetch.js';
import { readFileSync } from 'node:fs';
import { type Proc, runCli, type ServerProc, startAgent, startServer, waitFor, waitForReadyNodes } from '../harness/processes.js';

// What the dashboard reads, with real processes: the fleet summary and sites, nodes filtered and
// paged by the server, the newest events, a job's task states in one string, who a token is, and
// one-time sign-in links traded for expiring session tokens.

describe('fleet views and dashboard sign-in', () => {
  let server: ServerProc;
  const agents: Proc[] = [];

  beforeAll(async () => {
    server = await startServer({ extraArgs: ['--heartbeat', '200ms'] });
    agents.push(
      startAgent(server.url, server.joinToken, { name: 'aws-fra-1', provider: 'aws', region: 'eu-central-1', site: 'fra', jurisdiction: 'DE', geo: { lat: 50, lon: 8 }, labels: { pool: 'blue' } }),
      startAgent(server.url, server.joinToken, { name: 'aws-fra-2', provider: 'aws', region: 'eu-central-1', site: 'fra', jurisdiction: 'DE', geo: { lat: 52, lon: 10 } }),
      startAgent(server.url, server.joinToken, { name: 'gcp-iowa-1', provider: 'gcp', region: 'us-central1', site: 'iowa', jurisdiction: 'US', geo: { lat: 41, lon: -95 } }),
    );
    await waitForReadyNodes(server.client, 3);
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.kill('SIGKILL')));
    await server?.kill('SIGKILL');
  });

  it('sums the fleet by state, provider and region, and groups nodes into sites', async () => {
    const fleet = await server.client.fleetSummary();
    expect(fleet).toMatchObject({ nodes: 3, unplaced: 0, byState: [['ready', 3]], byProvider: [['aws', 2], ['gcp', 1]], byRegion: [['eu-central-1', 2], ['us-central1', 1]] });
    expect(fleet.sites.map((s) => [s.key, s.nodes, s.ready, s.health, s.lat, s.lon])).toEqual([
      ['aws/eu-central-1/fra', 2, 2, 'healthy', 51, 9],
      ['gcp/us-central1/iowa', 1, 1, 'healthy', 41, -95],
    ]);
    await agents[1]!.kill('SIGKILL');
    await waitFor(async () => ((await server.client.fleetSummary()).sites[0]!.health === 'degraded' ? true : undefined), 10_000, 'the fra site to be degraded');
  });

  it('filters and pages nodes on the server, in name order, with the total that matched', async () => {
    const page = await server.client.listNodes({ limit: 2 });
    expect(page.total).toBe(3);
    expect(page.items.map((n) => n.name)).toEqual(['aws-fra-1', 'aws-fra-2']);
    expect((await server.client.listNodes({ limit: 2, offset: 2 })).items.map((n) => n.name)).toEqual(['gcp-iowa-1']);
    // q matches names, places and label values, in any case.
    expect((await server.client.listNodes({ q: 'IOWA' })).items.map((n) => n.name)).toEqual(['gcp-iowa-1']);
    expect((await server.client.listNodes({ q: 'blue' })).items.map((n) => n.name)).toEqual(['aws-fra-1']);
    expect(await server.client.listNodes({ q: 'eu-central', state: 'ready' })).toMatchObject({ total: 1 });
    await expect(server.client.listNodes({ limit: 0 })).rejects.toMatchObject({ status: 400, message: expect.stringContaining('limit') });
  });

  it('gives the newest events in log order, and every task state of a job in one string', async () => {
    const job = await server.client.submitJob({ name: 'states', tasks: 5, command: ['sh', '-c', 'exit $((ATOLL_TASK_INDEX % 2))'], retry: { attempts: 1 } });
    await waitFor(async () => ((await server.client.getJob(job.id)).finishedAt !== null ? true : undefined), 20_000, 'the job to end');
    expect(await server.client.taskStates(job.id)).toEqual({ jobId: job.id, states: 'sfsfs' });
    const all = (await server.client.listEvents({ limit: 10_000 })).items;
    const newest = (await server.client.listEvents({ newest: true, limit: 3 })).items;
    expect(newest.map((e) => e.seq)).toEqual(all.slice(-3).map((e) => e.seq));
  });

  it('trades a one-time sign-in link for a session token of the same role, once', async () => {
    const viewer = await server.client.createToken({ name: 'team-a-viewer', role: 'viewer', namespaces: ['team-a'] });
    const asViewer = new AtollClient({ server: server.url, token: viewer.secret, fetch: fetchTrusting({ ca: readFileSync(server.caFile, 'utf8') }) });
    expect(await asViewer.whoami()).toMatchObject({ id: viewer.token.id, role: 'viewer', namespaces: ['team-a'], expiresAt: null });
    const link = await asViewer.createSignInLink();
    const trade = () => fetch(`${server.url}/v1/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: link.code }) });
    const first = await trade();
    expect(first.status).toBe(201);
    const session = (await first.json()) as { secret: string; token: { id: string; role: string; namespaces: string[]; expiresAt: number } };
    expect(session.token).toMatchObject({ role: 'viewer', namespaces: ['team-a'], name: 'dashboard-session' });
    expect(session.token.expiresAt - Date.now()).toBeGreaterThan(11 * 3_600_000);
    expect(session.token.expiresAt - Date.now()).toBeLessThanOrEqual(12 * 3_600_000);
    const asSession = new AtollClient({ server: server.url, token: session.secret, fetch: fetchTrusting({ ca: readFileSync(server.caFile, 'utf8') }) });
    expect(await asSession.whoami()).toMatchObject({ id: session.token.id, role: 'viewer' });
    // Spent: a second trade, or a made-up code, gets 401 and no token.
    expect((await trade()).status).toBe(401);
    // Revoking the token that made a link voids the links it made, and ends the sessions it signed in.
    const again = await asViewer.createSignInLink();
    await server.client.revokeToken(viewer.token.id);
    const late = await fetch(`${server.url}/v1/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: again.code }) });
    expect(late.status).toBe(401);
    await expect(asSession.whoami()).rejects.toMatchObject({ status: 401, message: expect.stringContaining('signed in with is revoked') });
    // The sign-in is in the audit log, without the code or the session's secret.
    const audit = JSON.stringify((await server.client.listAudit({ limit: 1000 })).items.filter((e) => e.action === 'POST /v1/sign-in'));
    expect(audit).toContain(session.token.id);
    expect(audit).not.toContain(link.code);
    expect(audit).not.toContain(session.secret);
  });

  it('does not count a dashboard session as another cluster admin: the last admin token still cannot be revoked', async () => {
    const link = await server.client.createSignInLink();
    const traded = await fetch(`${server.url}/v1/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: link.code }) });
    const session = (await traded.json()) as { token: { id: string; role: string; namespaces: string[] | null } };
    expect(session.token).toMatchObject({ role: 'admin', namespaces: null });
    const me = await server.client.whoami();
    await expect(server.client.revokeToken(me.id)).rejects.toMatchObject({ status: 409, message: expect.stringContaining('last admin') });
    // Rotating a session keeps its expiry and its tie to the token that made it.
    const rotated = await server.client.rotateToken(session.token.id);
    expect(rotated.token.expiresAt).not.toBeNull();
  });

  it('prints a sign-in link from the CLI', async () => {
    const shown = await runCli(server, 'dashboard');
    expect(shown.code, shown.stderr).toBe(0);
    const url = /^(https:\/\/\S+#sign-in=[A-Za-z0-9_-]{32})$/m.exec(shown.stdout)?.[1];
    expect(url, shown.stdout).toBeDefined();
    const code = url!.split('#sign-in=')[1]!;
    const trade = await fetch(`${server.url}/v1/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) });
    expect(trade.status).toBe(201);
  });
});
