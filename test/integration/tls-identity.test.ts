import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { EventRecord } from '../../src/core/types.js';
import { PROTOCOL_VERSION } from '../../src/protocol/messages.js';
import { type Proc, runCli, startAgent, startProcess, startServer, tempDir, waitFor, waitForReadyNodes, type ServerProc } from '../harness/processes.js';

// TLS and node identity with real processes: the server's own CA, join tokens that name it,
// mutual TLS for agents, scoped and single-use tokens, revocation and renewal.

const procs: Proc[] = [];
afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.kill('SIGKILL')));
});

async function server(options: Parameters<typeof startServer>[0] = {}): Promise<ServerProc> {
  const s = await startServer(options);
  procs.push(s);
  return s;
}

function agent(s: { url: string }, token: string, name: string, labels: Record<string, string> = {}, dataDir?: string): Proc & { dataDir: string } {
  const a = startAgent(s.url, token, { name, labels }, dataDir);
  procs.push(a);
  return a;
}

async function eventsOf(s: ServerProc, type: string): Promise<EventRecord[]> {
  return (await s.client.listEvents({ limit: 10_000 })).items.filter((e) => e.type === type);
}

async function exitCode(p: Proc, what: string): Promise<number | string> {
  return waitFor(() => (p.child.exitCode ?? p.child.signalCode ?? undefined), 20_000, what);
}

describe('TLS and node identity', () => {
  it('an agent whose join token names another CA refuses to send it: the server never sees a join', async () => {
    const s = await server();
    const forged = s.joinToken.replace(/^atoll_join_[0-9a-f]{64}/, `atoll_join_${'ab'.repeat(32)}`);
    expect(forged).not.toBe(s.joinToken);
    const a = agent(s, forged, 'mitm-victim');
    expect(await exitCode(a, 'the agent to give up')).toBe(2);
    expect(a.output()).toContain('not sending the token');
    expect(await eventsOf(s, 'node.join_refused')).toEqual([]);
    // The control: the same token sent to the server is refused and recorded, so the check above could have failed.
    const direct = await fetch(`${s.url}/v1/agents/join`, { method: 'POST', headers: { authorization: `Bearer ${forged}`, 'content-type': 'application/json' }, body: '{"node":"x"}' });
    expect(direct.status).toBe(401);
    expect(await eventsOf(s, 'node.join_refused')).toHaveLength(1);
  });

  it('joins with its own key and a CSR, connects with mutual TLS, and its certificate cannot speak for another node', async () => {
    const s = await server();
    const a = agent(s, s.joinToken, 'node-a');
    await waitForReadyNodes(s.client, 1);
    const credential = JSON.parse(readFileSync(join(a.dataDir, 'node-credential.json'), 'utf8')) as { certificate: string; ca: string; credential?: string };
    expect(credential.certificate).toContain('BEGIN CERTIFICATE');
    expect(credential.credential).toBeUndefined();
    expect(credential.ca).toBe(readFileSync(s.caFile, 'utf8'));
    expect(statSync(join(a.dataDir, 'node.key')).mode & 0o777).toBe(0o600);
    const key = (JSON.parse(readFileSync(join(a.dataDir, 'node.key'), 'utf8')) as { privateKeyPem: string }).privateKeyPem;
    const issued = await eventsOf(s, 'node.certificate_issued');
    expect(issued.map((e) => [e.node, e.data.via])).toEqual([['node-a', 'join']]);

    const wsUrl = `${s.url.replace('https', 'wss')}/v1/agents/connect`;
    // Without a client certificate (even with the admin token) the upgrade is refused.
    const refused = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(wsUrl, { ca: credential.ca, headers: { authorization: `Bearer ${s.adminToken}` } });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => reject(new Error('opened without a client certificate')));
      ws.on('error', () => undefined);
    });
    expect(refused).toBe(401);
    // With node-a's certificate, a hello for node-b is refused and recorded.
    const closed = await new Promise<number>((resolve) => {
      const ws = new WebSocket(wsUrl, { ca: credential.ca, cert: credential.certificate, key });
      ws.on('open', () => ws.send(JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, agentVersion: 'x', node: { name: 'node-b', provider: 'p', region: 'r', zone: '', site: '', kind: 'cloud', cpu: 1000, memory: 1e9, priceHour: 0, labels: {}, taints: [], rttMs: {} }, dataUrl: null, running: [], finished: [] })));
      ws.on('close', (code) => resolve(code));
      ws.on('error', () => undefined);
    });
    expect(closed).toBe(4403);
    const identityRefused = await waitFor(async () => {
      const events = await eventsOf(s, 'node.identity_refused');
      return events.length > 0 ? events : undefined;
    }, 10_000, 'the refusal event');
    expect(identityRefused[0]!.node).toBe('node-a');
    expect(String(identityRefused[0]!.data.reason)).toContain('node-b');
    expect((await s.client.listNodes()).items.map((n) => n.name)).toEqual(['node-a']);
  });

  it('refuses an expired token and a reused single-use token, with an event each', async () => {
    const s = await server();
    const expiring = await s.client.createJoinToken({ expiresIn: '1ms' });
    await new Promise((r) => setTimeout(r, 50));
    const late = agent(s, expiring.token, 'too-late');
    expect(await exitCode(late, 'the late agent to give up')).toBe(2);
    expect(late.output()).toMatch(/expired at/);

    const once = await s.client.createJoinToken({ singleUse: true });
    agent(s, once.token, 'first');
    await waitForReadyNodes(s.client, 1);
    const second = agent(s, once.token, 'second');
    expect(await exitCode(second, 'the second agent to give up')).toBe(2);
    expect(second.output()).toContain('already used by node first');
    const refusals = (await eventsOf(s, 'node.join_refused')).map((e) => e.data);
    expect(refusals).toEqual([
      expect.objectContaining({ claimedNode: 'too-late', tokenId: expiring.id }),
      expect.objectContaining({ claimedNode: 'second', tokenId: once.id }),
    ]);
    const listed = (await s.client.listJoinTokens()).items.find((t) => t.id === once.id);
    expect(listed).toMatchObject({ singleUse: true, usedBy: 'first' });
    expect(JSON.stringify(await s.client.listJoinTokens())).not.toContain(once.token);
  });

  it('a token scoped to a pool cannot claim another pool or labels it does not list', async () => {
    const s = await server();
    const scoped = await s.client.createJoinToken({ pool: 'edge', labels: { site: 'shop-1' } });
    const wrongPool = agent(s, scoped.token, 'cloud-box', { pool: 'cloud' });
    const extraLabel = agent(s, scoped.token, 'greedy-box', { pool: 'edge', site: 'shop-1', gpu: 'true' });
    const fine = agent(s, scoped.token, 'shop-box', { pool: 'edge', site: 'shop-1' });
    expect(await exitCode(wrongPool, 'the wrong-pool agent to give up')).toBe(2);
    expect(wrongPool.output()).toContain('expected label pool=edge, got pool=cloud');
    expect(await exitCode(extraLabel, 'the greedy agent to give up')).toBe(2);
    expect(extraLabel.output()).toContain('label gpu=true is not one the token allows');
    await waitForReadyNodes(s.client, 1);
    expect((await s.client.listNodes()).items.map((n) => n.name)).toEqual(['shop-box']);
    expect(fine.child.exitCode).toBeNull();
    // Restarted on its certificate alone (no token) claiming another pool: the hello is refused.
    await fine.kill('SIGTERM');
    const moved = agent(s, '', 'shop-box', { pool: 'cloud', site: 'shop-1' }, fine.dataDir);
    const refused = await waitFor(async () => {
      const events = await eventsOf(s, 'node.identity_refused');
      return events.length > 0 ? events : undefined;
    }, 20_000, 'the hello to be refused');
    expect(refused[0]!.node).toBe('shop-box');
    expect(String(refused[0]!.data.reason)).toContain('expected label pool=edge, got pool=cloud');
    expect((await s.client.getNode('shop-box')).labels).toMatchObject({ pool: 'edge', site: 'shop-1' });
    expect((await s.client.getNode('shop-box')).state).not.toBe('ready');
    await moved.kill('SIGTERM');
  });

  it('a revoked node is disconnected and cannot come back, not even with the old join token', async () => {
    const s = await server();
    const a = agent(s, s.joinToken, 'stolen-box');
    await waitForReadyNodes(s.client, 1);
    const revoked = await runCli(s, 'node', 'revoke', 'stolen-box', '-o', 'json');
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(JSON.parse(revoked.stdout)).toMatchObject({ node: 'stolen-box' });
    // The agent retries with its certificate (403) and its join token (refused: older than the revocation), then stops.
    expect(await exitCode(a, 'the revoked agent to stop')).toBe(2);
    expect(a.output()).toMatch(/was revoked at/);
    expect((await s.client.getNode('stolen-box')).state).not.toBe('ready');
    expect(await eventsOf(s, 'node.revoked')).toHaveLength(1);
    // Its certificate is refused at the door.
    const credential = JSON.parse(readFileSync(join(a.dataDir, 'node-credential.json'), 'utf8')) as { certificate: string; ca: string };
    const key = (JSON.parse(readFileSync(join(a.dataDir, 'node.key'), 'utf8')) as { privateKeyPem: string }).privateKeyPem;
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`${s.url.replace('https', 'wss')}/v1/agents/connect`, { ca: credential.ca, cert: credential.certificate, key });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => reject(new Error('a revoked certificate opened the socket')));
      ws.on('error', () => undefined);
    });
    expect(status).toBe(403);
    // A join token made after the revocation lets it back in (an admin decided so).
    const fresh = await s.client.createJoinToken({});
    agent(s, fresh.token, 'stolen-box', {}, tempDir('agent-rejoin'));
    await waitForReadyNodes(s.client, 1);
  });

  it('renews a short-lived certificate over mutual TLS and stays ready, across an agent restart too', async () => {
    // 8 s: renewed about every 5 s; a restart right after a renewal fits in what is left of it.
    const s = await server({ extraArgs: ['--node-cert-ttl', '8s'] });
    const a = agent(s, s.joinToken, 'renewer');
    await waitForReadyNodes(s.client, 1);
    const renewals = async (n: number) => waitFor(async () => {
      const events = (await eventsOf(s, 'node.certificate_issued')).filter((e) => e.data.via === 'renewal');
      return events.length >= n ? events : undefined;
    }, 40_000, `${n} renewals`);
    await renewals(2);
    expect((await s.client.getNode('renewer')).state).toBe('ready');
    const first = (await eventsOf(s, 'node.certificate_issued'))[0]!;
    // Restarted on its saved (renewed) certificate alone, after the first one expired.
    await a.kill('SIGTERM');
    expect(Date.now()).toBeGreaterThan(Number(first.data.notAfter));
    const again = agent(s, '', 'renewer', {}, a.dataDir);
    await waitFor(async () => ((await s.client.getNode('renewer')).state === 'ready' && again.child.exitCode === null ? true : undefined), 20_000, `the restarted agent to be ready:\n${again.output()}`);
    const before = (await renewals(1)).length;
    await renewals(before + 1);
    expect((await s.client.getNode('renewer')).state).toBe('ready');
  });

  it('the CLI refuses a server whose certificate is not from the CA it was given', async () => {
    const [one, two] = await Promise.all([server(), server()]);
    const wrong = await runCli({ url: one.url, adminToken: one.adminToken, caFile: two.caFile }, 'nodes');
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain("the server's TLS certificate is not trusted");
    const right = await runCli(one, 'nodes');
    expect(right.code, right.stderr).toBe(0);
  });

  it('--insecure serves plain HTTP, and an agent will only use it when told --insecure too', async () => {
    const s = await server({ insecure: true });
    expect(s.url.startsWith('http://')).toBe(true);
    expect(s.output()).toContain('INSECURE');
    const careful = startProcess(['agent', '--server', s.url, '--join-token', s.joinToken, '--name', 'careful', '--data-dir', tempDir('careful')]);
    procs.push(careful);
    expect(await exitCode(careful, 'the careful agent to refuse')).not.toBe(0);
    expect(careful.output()).toContain('pass --insecure');
    agent(s, s.joinToken, 'dev-box');
    await waitForReadyNodes(s.client, 1);
    const listed = await runCli(s, 'nodes', '-o', 'json');
    expect(listed.code, listed.stderr).toBe(0);
    expect((JSON.parse(listed.stdout) as { name: string }[]).map((n) => n.name)).toEqual(['dev-box']);
  });
});
