import { execFileSync } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeRecord } from '../../src/core/types.js';
import { ATOLL_BIN, startAgent, startServer, waitFor, waitForJobEnd, waitForReadyNodes, type Proc, type ServerProc } from '../harness/processes.js';

// An agent measures its round trip to "eu-west-3" by timing TCP connects to a listener this test
// runs on loopback. Both nodes stand in Sydney, so by distance neither is near Paris: only the
// measurement can make the probing node the nearer one.
describe('round trips measured by agents', () => {
  let server: ServerProc;
  let probeTarget: Server;
  let probeConnections = 0;
  const sockets = new Set<Socket>();
  const agents: Proc[] = [];
  const SYDNEY = { lat: -33.87, lon: 151.21 };

  beforeAll(async () => {
    probeTarget = createServer((socket) => {
      probeConnections += 1;
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => sockets.delete(socket));
      socket.resume();
    });
    await new Promise<void>((resolve) => probeTarget.listen(0, '127.0.0.1', resolve));
    const { port } = probeTarget.address() as { port: number };
    server = await startServer({ extraArgs: ['--heartbeat', '200ms'] });
    agents.push(startAgent(server.url, server.joinToken, {
      name: 'prober', geo: SYDNEY, extraArgs: ['--probe', `eu-west-3=127.0.0.1:${port}`, '--probe-interval', '200ms'],
    }));
    agents.push(startAgent(server.url, server.joinToken, { name: 'plain', geo: SYDNEY }));
    await waitForReadyNodes(server.client, 2);
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.kill('SIGKILL')));
    await server?.kill('SIGKILL');
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => probeTarget?.close(resolve));
  });

  it('reports them to the control plane and places latency-sensitive work by them', async () => {
    const rtt = await waitFor(async () => (await server.client.getNode('prober')).rttMs['eu-west-3'], 20_000, 'a measured round trip to eu-west-3');
    expect(rtt).toBeGreaterThan(0);
    expect(rtt).toBeLessThan(2000);
    expect(probeConnections).toBeGreaterThanOrEqual(3);
    expect((await server.client.getNode('plain')).rttMs).toEqual({});

    const env = { ...process.env, ATOLL_SERVER: server.url, ATOLL_TOKEN: server.adminToken };
    const text = execFileSync(process.execPath, [ATOLL_BIN, 'node', 'prober'], { encoding: 'utf8', env });
    expect(text).toMatch(/^rtt: +eu-west-3 \d+(\.\d+)? ms$/m);
    const json = JSON.parse(execFileSync(process.execPath, [ATOLL_BIN, 'node', 'prober', '-o', 'json'], { encoding: 'utf8', env })) as NodeRecord;
    expect(json.rttMs['eu-west-3']).toBeGreaterThan(0);

    const job = await server.client.submitJob({
      name: 'near-paris',
      command: ['true'],
      placement: { optimize: 'latency', near: { users: ['eu-west-3'] } },
    });
    expect((await waitForJobEnd(server.client, job.id, 30_000)).state).toBe('succeeded');
    const { node, explanation } = await server.client.explainTask(`${job.id}.0`);
    expect(node).toBe('prober');
    const latency = explanation!.chosen.scores.find((s) => s.plugin === 'latency');
    expect(latency?.detail).toMatch(/^~\d+\.\d ms mean round trip to eu-west-3 \(measured\)$/);
    // The other node is ranked by its distance from Paris.
    const plain = explanation!.candidates.find((c) => c.node === 'plain');
    expect(plain?.scores.find((s) => s.plugin === 'latency')?.detail).toMatch(/\(estimated\)$/);
  });
});
