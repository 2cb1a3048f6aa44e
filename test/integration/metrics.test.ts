import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Proc, runCli, type ServerProc, startAgent, startServer, tempDir, waitFor, waitForJobEnd, waitForReadyNodes } from '../harness/processes.js';
import { Scrape } from '../harness/prometheus-text.js';

// /metrics of a real control plane with real agents on two providers: after jobs ran (one of
// them reading data held on the other provider) and one agent left, the page is read with a
// real text-format parser and checked against what the API says happened.

describe('/metrics', () => {
  let server: ServerProc;
  const agents: Proc[] = [];
  const inputBytes = Buffer.alloc(200_000, 'metrics,');

  const scrape = async (): Promise<Scrape> => {
    const response = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${server.adminToken}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return new Scrape(await response.text());
  };

  beforeAll(async () => {
    server = await startServer({ extraArgs: ['--heartbeat', '200ms'] });
    for (const name of ['aws-a', 'aws-b']) agents.push(startAgent(server.url, server.joinToken, { name, provider: 'aws', region: 'eu-central-1', labels: { pool: 'aws' } }));
    for (const name of ['hz-a', 'hz-b']) agents.push(startAgent(server.url, server.joinToken, { name, provider: 'hetzner', region: 'fsn1', labels: { pool: 'hetzner' } }));
    await waitForReadyNodes(server.client, 4);

    // A task on aws reads a partition held on hetzner: one cross-provider transfer.
    const file = join(tempDir('metrics-data'), 'part.csv');
    writeFileSync(file, inputBytes);
    const put = await runCli(server, 'data', 'put', file, '--dataset', 'readings', '--partition', 'p1', '--node', 'hz-a');
    expect(put.code, put.stderr).toBe(0);
    const batch = await server.client.submitJob({ name: 'batch', tasks: 6, command: ['true'], resources: { cpu: 0.1, memory: '32Mi' } });
    const reader = await server.client.submitJob({
      name: 'reader', command: ['true'], inputs: [{ dataset: 'readings', partitions: ['p1'] }],
      placement: { require: [{ key: 'pool', operator: 'In', values: ['aws'] }] },
    });
    for (const job of [batch, reader]) expect((await waitForJobEnd(server.client, job.id)).state).toBe('succeeded');

    // Three tasks that nothing can run stay pending; one agent shuts down and its node is left.
    const stuck = await server.client.submitJob({ name: 'stuck', tasks: 3, command: ['true'], placement: { require: [{ key: 'pool', operator: 'In', values: ['nowhere'] }] } });
    await waitFor(async () => (await server.client.getTask(`${stuck.id}.0`)).reason ?? undefined, 10_000, 'the stuck job to wait with a reason');
    await agents[3]!.kill('SIGTERM');
    await waitFor(async () => ((await server.client.getNode('hz-b')).state === 'left' ? true : undefined), 10_000, 'hz-b to be left');
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.kill('SIGKILL')));
    await server?.kill('SIGKILL');
  });

  it('refuses a scrape without the admin token', async () => {
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${server.joinToken}` } })).status).toBe(401);
  });

  it('counts nodes by state and provider as the fleet stands', async () => {
    const page = await scrape();
    const fleet = new Map<string, number>();
    for (const node of (await server.client.listNodes()).items) fleet.set(`${node.state}/${node.provider}`, (fleet.get(`${node.state}/${node.provider}`) ?? 0) + 1);
    const reported = new Map(page.samples('atoll_nodes').filter(([, value]) => value > 0).map(([labels, value]) => [`${labels.state}/${labels.provider}`, value]));
    expect(reported).toEqual(fleet);
    expect(reported).toEqual(new Map([['ready/aws', 2], ['ready/hetzner', 1], ['left/hetzner', 1]]));
    expect(page.value('atoll_nodes', { state: 'down', provider: 'aws' })).toBe(0);
  });

  it('counts the tasks of unfinished jobs by state', async () => {
    const page = await scrape();
    expect(page.value('atoll_tasks', { state: 'pending' })).toBe(3);
    for (const state of ['assigned', 'running', 'succeeded', 'failed', 'cancelled']) expect(page.value('atoll_tasks', { state }), state).toBe(0);
  });

  it('counts placements, with a latency for each, scheduling rounds and heartbeats', async () => {
    const page = await scrape();
    const placements = page.value('atoll_placements_total')!;
    expect(placements).toBeGreaterThanOrEqual(7);
    const latency = page.histogram('atoll_placement_latency_seconds');
    expect(latency.count).toBe(placements);
    expect(latency.buckets.get('+Inf')).toBe(placements);
    expect(latency.buckets.get('3600')).toBe(placements);
    expect(page.value('atoll_scheduler_rounds_total', { outcome: 'ok' })).toBeGreaterThan(0);
    expect(page.value('atoll_scheduler_rounds_total', { outcome: 'failed' })).toBe(0);
    const rounds = page.histogram('atoll_scheduler_round_duration_seconds');
    expect(rounds.count).toBe(page.value('atoll_scheduler_rounds_total', { outcome: 'ok' }));
    expect(rounds.buckets.get('+Inf')).toBe(rounds.count);
    expect(rounds.sum).toBeGreaterThan(0);
    expect(page.value('atoll_heartbeats_total')).toBeGreaterThan(0);
  });

  it('counts the bytes moved by route kind', async () => {
    const page = await scrape();
    expect(page.value('atoll_transfer_bytes_total', { route: 'cross-provider' })).toBe(inputBytes.length);
    expect(page.value('atoll_transfers_total', { route: 'cross-provider' })).toBe(1);
    for (const route of ['same-site', 'cross-site', 'cross-region']) expect(page.value('atoll_transfer_bytes_total', { route }), route).toBe(0);
  });

  it('counts spend by namespace, provider and kind as the ledger has it, and serves the process metrics', async () => {
    const page = await scrape();
    expect(page.family('atoll_spend_dollars_total').type).toBe('COUNTER');
    const byProvider = await server.client.spend({ by: 'provider' });
    expect(byProvider.total.transfer).toBeGreaterThan(0);
    for (const row of byProvider.rows) {
      for (const kind of ['compute', 'transfer'] as const) {
        if (row[kind] > 0) expect(page.value('atoll_spend_dollars_total', { namespace: 'default', provider: row.key, kind }), `${row.key} ${kind}`).toBeCloseTo(row[kind], 9);
      }
    }
    expect(page.value('process_resident_memory_bytes')).toBeGreaterThan(0);
  });
});
