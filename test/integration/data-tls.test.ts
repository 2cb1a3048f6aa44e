import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeRecord } from '../../src/core/types.js';
import { type Proc, runCli, type ServerProc, startAgent, startServer, tempDir, waitFor, waitForReadyNodes } from '../harness/processes.js';

// Peer data transfers over TLS with real processes: every agent's data server presents a
// certificate from the data CA naming its node and its data address; it is swapped in place on
// renewal, reissued before hello when the agent comes back on another address, and readers and
// `atoll data put` check it names the holder they were sent to.

describe('data transfers over TLS', () => {
  let server: ServerProc;
  let holder: Proc & { dataDir: string };
  const procs: Proc[] = [];
  const work = tempDir('data-tls-files');
  const content = Buffer.from('site,temperature\nberlin,21.5\n'.repeat(2000));
  let dataCa: string;
  let clusterCa: string;

  const holderSpec = { name: 'holder', kind: 'edge' as const, labels: { pool: 'holders' } };
  const node = (name: string): Promise<NodeRecord> => server.client.getNode(name);

  /** The certificate a data server presents (read without judging it), and whether `ca` accepts it. */
  function presented(dataUrl: string, ca: string): Promise<{ cert: PeerCertificate; authorized: boolean; error: string | null }> {
    const url = new URL(dataUrl);
    return new Promise((resolve, reject) => {
      const socket = connect({ host: url.hostname, port: Number(url.port), ca, rejectUnauthorized: false, checkServerIdentity: () => undefined }, () => {
        resolve({ cert: socket.getPeerCertificate(), authorized: socket.authorized, error: socket.authorizationError === null ? null : String(socket.authorizationError) });
        socket.end();
      });
      socket.on('error', reject);
    });
  }

  async function readFromHolder(name: string): Promise<void> {
    const job = await server.client.submitJob({
      name, command: ['sh', '-c', 'sha256sum "$ATOLL_INPUT_DIR"/readings/berlin'], inputs: [{ dataset: 'readings', partitions: ['berlin'] }],
      placement: { require: [{ key: 'pool', operator: 'In', values: ['readers'] }] },
    });
    const done = await waitFor(async () => ((await server.client.getJob(job.id)).finishedAt !== null ? server.client.getJob(job.id) : undefined), 30_000, `job ${name}`);
    expect(done.state, done.reason ?? '').toBe('succeeded');
    const transfers = (await server.client.listEvents({ job: job.id, limit: 100 })).items.filter((e) => e.type === 'transfer.completed');
    expect(transfers.map((t) => t.data)).toEqual([expect.objectContaining({ partition: 'berlin', bytes: content.length, from: expect.objectContaining({ node: 'holder' }), to: expect.objectContaining({ node: 'reader' }) })]);
  }

  beforeAll(async () => {
    // Short-lived node certificates, so renewals (and data certificate swaps) come every few seconds.
    server = await startServer({ extraArgs: ['--heartbeat', '200ms', '--node-cert-ttl', '8s'] });
    holder = startAgent(server.url, server.joinToken, holderSpec);
    procs.push(holder, startAgent(server.url, server.joinToken, { name: 'reader', labels: { pool: 'readers' } }));
    await waitForReadyNodes(server.client, 2);
    dataCa = readFileSync(join(server.dataDir, 'data-ca.crt'), 'utf8');
    clusterCa = readFileSync(server.caFile, 'utf8');
  });

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill('SIGKILL')));
    await server?.kill('SIGKILL');
  });

  it('serves HTTPS with a data CA certificate naming the node and its data address only, which the cluster CA does not accept', async () => {
    const { dataUrl } = await node('holder');
    expect(dataUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const byData = await presented(dataUrl!, dataCa);
    expect(byData.authorized, byData.error ?? '').toBe(true);
    expect(byData.cert.subject.CN).toBe('holder');
    expect(byData.cert.subjectaltname).toBe('IP Address:127.0.0.1');
    // A client of the control plane trusts the cluster CA alone: a node's data certificate never passes for the control plane.
    const byCluster = await presented(dataUrl!, clusterCa);
    expect(byCluster.authorized).toBe(false);
    expect(dataCa).not.toBe(clusterCa);
  });

  it('takes an upload straight to the holder over TLS and serves it to a peer on another node', async () => {
    const file = join(work, 'berlin.csv');
    writeFileSync(file, content);
    const put = await runCli(server, 'data', 'put', file, '--dataset', 'readings', '--partition', 'berlin', '--node', 'holder');
    expect(put.code, put.stderr).toBe(0);
    await readFromHolder('read-1');
  });

  it('swaps in the renewed data certificate without a restart: new connections get the one just issued', async () => {
    const { dataUrl } = await node('holder');
    const before = (await presented(dataUrl!, dataCa)).cert.serialNumber;
    const credential = join(holder.dataDir, 'node-credential.json');
    // The credential file holds the data certificate of the latest renewal; wait for one after `before`.
    const renewed = await waitFor(() => {
      const pem = (JSON.parse(readFileSync(credential, 'utf8')) as { dataCertificate?: string }).dataCertificate;
      const serial = pem === undefined ? undefined : new X509Certificate(pem).serialNumber;
      return serial !== undefined && serial !== before ? serial : undefined;
    }, 20_000, 'a renewed data certificate');
    await waitFor(async () => ((await presented(dataUrl!, dataCa)).cert.serialNumber === renewed ? true : undefined), 5000, 'the data server to present the renewed certificate');
    expect((await node('holder')).state).toBe('ready');
  });

  it('comes back on another address with a certificate for it, asked for before hello, and peers read from it', async () => {
    await holder.kill('SIGTERM');
    const after = (await server.client.listEvents({ limit: 10_000 })).items.at(-1)!.seq;
    holder = startAgent(server.url, '', { ...holderSpec, extraArgs: ['--data-listen', '127.0.0.2:0'] }, holder.dataDir);
    procs.push(holder);
    const moved = await waitFor(async () => {
      const n = await node('holder');
      return n.state === 'ready' && n.dataUrl?.startsWith('https://127.0.0.2:') ? n : undefined;
    }, 20_000, `the holder to be ready on 127.0.0.2:\n${holder.output()}`);
    const shown = await presented(moved.dataUrl!, dataCa);
    expect(shown.authorized, shown.error ?? '').toBe(true);
    expect(shown.cert.subjectaltname).toBe('IP Address:127.0.0.2');
    // Renewed before the hello that made it ready again, not by a periodic renewal after it.
    const since = (await server.client.listEvents({ limit: 10_000 })).items.filter((e) => e.seq > after && e.node === 'holder');
    const issued = since.find((e) => e.type === 'node.certificate_issued')!;
    const connected = since.find((e) => e.type === 'node.state_changed' && e.data.reason === 'agent connected')!;
    expect(issued.data.via).toBe('renewal');
    expect(issued.seq).toBeLessThan(connected.seq);
    await readFromHolder('read-2');
  });
});
