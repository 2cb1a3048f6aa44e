import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PartitionRecord } from '../../src/core/data-spec.js';
import { importPrivateKey, signDataToken, type DataTokenClaims } from '../../src/protocol/data-token.js';
import { type Proc, runCli, type ServerProc, startAgent, startServer, tempDir, waitFor, waitForJobEnd, waitForReadyNodes } from '../harness/processes.js';

// A shop's edge box behind NAT: its agent dials out and listens for nobody (--no-data-server), so
// every transfer to and from it is relayed through its control-plane connection. Uploads reach
// its store, tasks elsewhere read its data, and it still refuses EU data to a US reader itself.

describe('data relayed through the control plane', () => {
  let server: ServerProc;
  const agents: (Proc & { dataDir: string })[] = [];
  const work = tempDir('relay-files');
  const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
  // Larger than the relay's 4 MiB window and not a multiple of its 256 KiB frames.
  const readings = Buffer.from(Array.from({ length: 200_000 }, (_, i) => `lyon,${i},${(i * 7919) % 1000}\n`).join(''));

  beforeAll(async () => {
    server = await startServer({ extraArgs: ['--heartbeat', '200ms'] });
    agents.push(startAgent(server.url, server.joinToken, { name: 'edge-lyon', kind: 'edge', jurisdiction: 'FR', region: 'fr-ara', site: 'lyon-shop-2', labels: { pool: 'edge' }, extraArgs: ['--no-data-server'] }));
    agents.push(startAgent(server.url, server.joinToken, { name: 'aws-eu-central-1a', provider: 'aws', region: 'eu-central-1', jurisdiction: 'DE', labels: { pool: 'cloud-eu' } }));
    agents.push(startAgent(server.url, server.joinToken, { name: 'aws-us-east-1a', provider: 'aws', region: 'us-east-1', jurisdiction: 'US', labels: { pool: 'us' } }));
    await waitForReadyNodes(server.client, 3);
    await server.client.applyPolicy('gdpr', { residencyClasses: { 'eu-personal': ['EU'] } });
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.kill('SIGKILL')));
    await server?.kill('SIGKILL');
  });

  const token = (claims: Partial<DataTokenClaims>): string => {
    const keys = importPrivateKey(readFileSync(join(server.dataDir, 'data-signing.key'), 'utf8'));
    return signDataToken({
      op: 'read', namespace: 'default', dataset: 'shop', partition: 'lyon', node: 'edge-lyon', for: 'aws-eu-central-1a',
      forJurisdiction: 'DE', sha256: sha256(readings), exp: Date.now() + 60_000, ...claims,
    }, keys.privateKey);
  };
  const stdoutOf = async (taskId: string) => (await server.client.getLogs(taskId)).items.filter((c) => c.stream === 'stdout').map((c) => c.data).join('');
  const relayUrl = (partition = 'lyon') => `${server.url}/v1/data/relay/default/shop/${partition}`;

  it('has no data address for the node behind NAT', async () => {
    expect((await server.client.getNode('edge-lyon')).dataUrl).toBeNull();
  });

  it('uploads to the node through the relay: the bytes reach its store and the catalog', async () => {
    const file = join(work, 'lyon.csv');
    writeFileSync(file, readings);
    const put = await runCli(server, 'data', 'put', file, '--dataset', 'shop', '--partition', 'lyon', '--node', 'edge-lyon', '--class', 'eu-personal', '-o', 'json');
    expect(put.code, put.stderr).toBe(0);
    expect(JSON.parse(put.stdout) as PartitionRecord).toMatchObject({ node: 'edge-lyon', bytes: readings.length, sha256: sha256(readings), residencyClass: 'eu-personal', createdBy: 'upload' });
    expect(readFileSync(join(agents[0]!.dataDir, 'data', 'objects', sha256(readings))).equals(readings)).toBe(true);
  });

  it('serves a reader in the class through the relay, with the checksum header', async () => {
    const response = await fetch(relayUrl(), { headers: { authorization: `Bearer ${token({})}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-atoll-sha256')).toBe(sha256(readings));
    expect(Buffer.from(await response.arrayBuffer()).equals(readings)).toBe(true);
  });

  it('has the holder itself refuse EU data to a US reader, with the policy in the event', async () => {
    const response = await fetch(relayUrl(), { headers: { authorization: `Bearer ${token({ for: 'aws-us-east-1a', forJurisdiction: 'US' })}` } });
    expect(response.status).toBe(403);
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain('may only be read in');
    const refused = await waitFor(async () => (await server.client.listEvents({ limit: 10_000 })).items.find((e) => e.type === 'transfer.refused'), 10_000, 'a transfer.refused event');
    expect(refused.data).toMatchObject({ partition: 'lyon', for: 'aws-us-east-1a', forJurisdiction: 'US', policy: 'gdpr' });
  });

  it.each<{ name: string; headers: () => Record<string, string>; method?: string; partition?: string; status: number; message: string }>([
    { name: 'no token', headers: () => ({}), status: 401, message: 'missing data token' },
    { name: 'a token for another partition', headers: () => ({ authorization: `Bearer ${token({ partition: 'paris' })}` }), status: 403, message: 'the token is for default/shop/paris' },
    { name: 'a read token on PUT', method: 'PUT', headers: () => ({ authorization: `Bearer ${token({})}`, 'content-type': 'application/octet-stream' }), status: 403, message: 'a read token does not allow a write' },
    { name: 'a partition the node does not hold', partition: 'nowhere', headers: () => ({ authorization: `Bearer ${token({ partition: 'nowhere' })}` }), status: 404, message: 'not on this node' },
    { name: 'a node that is not connected', headers: () => ({ authorization: `Bearer ${token({ node: 'edge-gone' })}` }), status: 503, message: 'node edge-gone is not connected' },
  ])('answers $status to $name', async ({ headers, method, partition, status, message }) => {
    const response = await fetch(relayUrl(partition), { method: method ?? 'GET', headers: headers(), ...(method === 'PUT' ? { body: 'x' } : {}) });
    expect(response.status).toBe(status);
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain(message);
  });

  it('runs a task elsewhere on the relayed data: fetched through the control plane, checked and in the ledger', async () => {
    const job = await server.client.submitJob({
      name: 'read-lyon', command: ['sh', '-c', 'sha256sum "$ATOLL_INPUT_DIR/shop/lyon" | cut -d" " -f1'],
      inputs: [{ dataset: 'shop', partitions: ['lyon'] }],
      placement: { require: [{ key: 'pool', operator: 'In', values: ['cloud-eu'] }] },
    });
    const done = await waitForJobEnd(server.client, job.id, 30_000);
    expect(done.state, done.reason ?? '').toBe('succeeded');
    expect(await stdoutOf(`${job.id}.0`)).toBe(`${sha256(readings)}\n`);
    expect(await server.client.jobTransfers(job.id)).toMatchObject({ transfers: 1, bytes: readings.length });
  });

  it('keeps a task\'s outputs on the node behind NAT, for a reader elsewhere to fetch through the relay', async () => {
    const map = await server.client.submitJob({
      name: 'lyon-map', stages: [
        { name: 'map', command: ['sh', '-c', 'wc -l < "$ATOLL_INPUT_DIR/shop/lyon" > "$ATOLL_OUTPUT_DIR/count"'], inputs: [{ dataset: 'shop', partitions: ['lyon'] }], output: { dataset: 'counts' }, tolerations: [{ key: 'edge' }], placement: { require: [{ key: 'pool', operator: 'In', values: ['edge'] }] } },
        { name: 'reduce', dependsOn: ['map'], command: ['sh', '-c', 'cat "$ATOLL_INPUT_DIR"/counts/*'], inputs: [{ dataset: 'counts' }], placement: { require: [{ key: 'pool', operator: 'In', values: ['cloud-eu'] }] } },
      ],
    });
    const done = await waitForJobEnd(server.client, map.id, 30_000);
    expect(done.state, done.reason ?? '').toBe('succeeded');
    const counts = await server.client.getDataset('counts');
    expect(counts.items).toEqual([expect.objectContaining({ node: 'edge-lyon', residencyClass: 'eu-personal' })]);
    expect(existsSync(join(agents[0]!.dataDir, 'data', 'objects', counts.items[0]!.sha256))).toBe(true);
    expect((await stdoutOf(`${map.id}.1`)).trim()).toBe('200000');
  });
});
