import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../src/client/client.js';
import type { PriceBook } from '../../src/core/price-book.js';
import type { SpendReport } from '../../src/core/spend.js';
import type { JobView } from '../../src/core/types.js';
import { type Proc, runCli, type ServerProc, startAgent, startServer, tempDir, waitForJobEnd, waitForReadyNodes } from '../harness/processes.js';

// Spend on a real run: a price book with round figures, a cloud node and an edge box, jobs that
// run, fail and read data across the edge uplink; what each costs must be its run time times its
// share of the node's price, plus its transfers at the book's price, to the rounding.

const BOOK: PriceBook = {
  currency: 'USD',
  asOf: 'test figures',
  compute: [
    // 4 vCPU at $9/vCPU-h: $36/h for the node, a cent a second.
    { match: { provider: 'aws', region: 'eu-central-1' }, perVcpuHour: 9, source: 'test: a cent a second' },
    { match: { kind: 'edge' }, perNodeHour: 0.5 },
  ],
  transfer: { default: { sameZone: 0, crossZone: 1, crossRegion: 2, internet: 3, edgeUplink: 4 }, providers: {} },
};

describe('spend', () => {
  let server: ServerProc;
  const agents: Proc[] = [];
  const work = tempDir('spend');

  beforeAll(async () => {
    const file = join(work, 'pricing.json');
    writeFileSync(file, JSON.stringify(BOOK));
    server = await startServer({ extraArgs: ['--heartbeat', '200ms', '--pricing', file] });
    agents.push(startAgent(server.url, server.joinToken, { name: 'aws-fra', provider: 'aws', region: 'eu-central-1', zone: 'eu-central-1a', cpu: '4', memory: '8Gi', priceHour: 0.01, labels: { pool: 'cloud' } }));
    agents.push(startAgent(server.url, server.joinToken, { name: 'edge-lyon', provider: 'edge', region: 'fr-ara', site: 'lyon-2', kind: 'edge', jurisdiction: 'FR', cpu: '2', memory: '4Gi', labels: { pool: 'edge' } }));
    await waitForReadyNodes(server.client, 2);
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.kill('SIGKILL')));
    await server?.kill('SIGKILL');
  });

  /** Price times share times run time, from the attempts the API reports. */
  const expectedCompute = async (job: JobView, nodeHour: number, share: number): Promise<number> => {
    let sum = 0;
    for (let i = 0; i < job.taskCount; i++) {
      for (const attempt of (await server.client.getTask(`${job.id}.${i}`)).history) {
        if (attempt.startedAt !== null && attempt.finishedAt !== null) sum += nodeHour * share * ((attempt.finishedAt - attempt.startedAt) / 3_600_000);
      }
    }
    return sum;
  };

  it('prices nodes from the book, not from what they declare', async () => {
    expect((await server.client.getNode('aws-fra')).price).toEqual({ hour: 36, from: 'book', source: 'test: a cent a second' });
    expect((await server.client.getNode('edge-lyon')).price).toMatchObject({ hour: 0.5, from: 'book' });
    const shown = await runCli(server, 'node', 'aws-fra');
    expect(shown.stdout).toContain('$36.0000/h from the price book (test: a cent a second)');
  });

  it('charges a job its run time times its share of the node\'s price', async () => {
    const submitted = await server.client.submitJob({
      name: 'paid', tasks: 2, command: ['sleep', '0.5'], resources: { cpu: 1, memory: '1Gi' },
      placement: { require: [{ key: 'pool', operator: 'In', values: ['cloud'] }] },
    });
    const done = await waitForJobEnd(server.client, submitted.id, 30_000);
    expect(done.state).toBe('succeeded');
    const job = await server.client.getJob(submitted.id);
    // 1 of 4 cpus (and 1 of 8 GiB): a quarter of $36/h.
    const expected = await expectedCompute(job, 36, 0.25);
    expect(expected).toBeGreaterThan(0.0025);
    expect(job.cost!.compute).toBeCloseTo(expected, 9);
    expect(job.cost).toMatchObject({ transfer: 0, waste: 0, running: 0 });
    const shown = await runCli(server, 'job', submitted.id);
    expect(shown.stdout).toMatch(/cost: +\$0\.\d{4} \(\$0\.\d{4} compute \+ \$0\.0000 transfer\)/);
  });

  it('counts what failed attempts cost as waste', async () => {
    const submitted = await server.client.submitJob({
      name: 'broken', command: ['sh', '-c', 'sleep 0.3; exit 3'], resources: { cpu: 2, memory: '1Gi' }, retry: { attempts: 1, backoff: '100ms' },
      placement: { require: [{ key: 'pool', operator: 'In', values: ['cloud'] }] },
    });
    const done = await waitForJobEnd(server.client, submitted.id, 30_000);
    expect(done.state).toBe('failed');
    const job = await server.client.getJob(submitted.id);
    const expected = await expectedCompute(job, 36, 0.5);
    expect((await server.client.getTask(`${job.id}.0`)).history).toHaveLength(2);
    expect(job.cost!.compute).toBeCloseTo(expected, 9);
    expect(job.cost!.waste).toBeCloseTo(expected, 9);
  });

  it('charges a transfer out of an edge site at the uplink price, in the ledger and the job', async () => {
    const file = join(work, 'readings.csv');
    const bytes = Buffer.alloc(5_000_000, 'lyon,1\n');
    writeFileSync(file, bytes);
    expect((await runCli(server, 'data', 'put', file, '--dataset', 'readings', '--partition', 'lyon', '--node', 'edge-lyon')).code).toBe(0);
    const submitted = await server.client.submitJob({
      name: 'reader', command: ['sh', '-c', 'wc -c "$ATOLL_INPUT_DIR/readings/lyon"'], inputs: [{ dataset: 'readings', partitions: ['lyon'] }],
      placement: { require: [{ key: 'pool', operator: 'In', values: ['cloud'] }] },
    });
    expect((await waitForJobEnd(server.client, submitted.id, 30_000)).state).toBe('succeeded');
    const job = await server.client.getJob(submitted.id);
    // 5 MB at $4/GB out of the shop.
    expect(job.cost!.transfer).toBeCloseTo(0.02, 9);
    expect(job.cost!.transferBytes).toBe(bytes.length);
    const events = (await server.client.listEvents({ job: submitted.id, limit: 1000 })).items.filter((e) => e.type === 'transfer.completed');
    expect(events.map((e) => e.data)).toEqual([expect.objectContaining({ priceClass: 'edgeUplink', bytes: bytes.length, dollars: expect.closeTo(0.02, 9) })]);
  });

  it('sums spend by provider, namespace and job, through the API and the CLI', async () => {
    const byProvider = await server.client.spend({ by: 'provider' });
    const aws = byProvider.rows.find((r) => r.key === 'aws')!;
    const edge = byProvider.rows.find((r) => r.key === 'edge')!;
    // Compute ran on the cloud node; the transfer is billed to the edge box that sent it.
    expect(aws.transfer).toBe(0);
    expect(edge).toMatchObject({ compute: 0, transferBytes: 5_000_000 });
    expect(edge.transfer).toBeCloseTo(0.02, 9);
    expect(byProvider.total.total).toBeCloseTo(aws.total + edge.total, 9);
    const byJob = await server.client.spend({ by: 'job' });
    const jobs = await server.client.listJobs();
    for (const listed of jobs.items) {
      const job = await server.client.getJob(listed.id);
      expect(byJob.rows.find((r) => r.key === job.id)?.total ?? 0).toBeCloseTo(job.cost!.total, 9);
    }
    expect((await server.client.spend({ namespace: 'nobody' })).rows).toEqual([]);
    const cli = await runCli(server, 'spend', '--by', 'namespace', '--since', '1h', '-o', 'json');
    expect(cli.code, cli.stderr).toBe(0);
    const report = JSON.parse(cli.stdout) as SpendReport;
    expect(report.rows.map((r) => r.key)).toEqual(['default']);
    expect(report.rows[0]!.total).toBeCloseTo(byProvider.total.total, 9);
    const table = await runCli(server, 'spend', '--by', 'provider');
    expect(table.stdout).toContain('PROVIDER');
    expect(table.stdout).toMatch(/aws +\$0\.\d{4}/);
    // Over time: per UTC day, each group's charges of the day (all of them today here).
    const today = new Date().toISOString().slice(0, 10);
    const daily = await server.client.spend({ by: 'provider', per: 'day' });
    expect(daily.per).toBe('day');
    expect(daily.rows.map((r) => [r.day, r.key])).toEqual(expect.arrayContaining([[today, 'aws'], [today, 'edge']]));
    expect(daily.total.total).toBeCloseTo(byProvider.total.total, 9);
    expect((await server.client.spend({ by: 'day' })).rows.map((r) => r.key)).toEqual([today]);
    const perTable = await runCli(server, 'spend', '--by', 'provider', '--per', 'day');
    expect(perTable.stdout).toMatch(new RegExp(`DAY +PROVIDER[\\s\\S]*${today} +aws`));
    await expect(server.client.spend({ by: 'day', per: 'day' })).rejects.toMatchObject({ status: 400, message: expect.stringContaining('per') });
    const bad = await server.client.spend({ by: 'planet' }).catch((e: unknown) => e);
    expect(bad).toMatchObject({ status: 400 });
    expect((bad as ApiError).message).toContain('by');
  });

  it('warns at 80% of a namespace\'s monthly budget and refuses new jobs at 100%, naming the budget', async () => {
    const job = { name: 'team-work', namespace: 'team', command: ['sleep', '0.3'], resources: { cpu: 4, memory: '1Gi' }, placement: { require: [{ key: 'pool', operator: 'In', values: ['cloud'] }] } };
    const first = await server.client.submitJob(job);
    expect(first.warnings).toBeUndefined();
    await waitForJobEnd(server.client, first.id, 30_000);
    const spent = (await server.client.getJob(first.id)).cost!.total;
    expect(spent).toBeGreaterThan(0);
    // The budget the first job used 90% of.
    await server.client.applyPolicy('team-budget', { namespaces: ['team'], budget: { monthly: spent / 0.9 } });
    const second = await server.client.submitJob(job);
    expect(second.warnings).toEqual([expect.stringContaining('namespace team has spent')]);
    expect(second.warnings![0]).toContain('(90%, policy team-budget)');
    await waitForJobEnd(server.client, second.id, 30_000);
    const refused = await server.client.submitJob(job).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({ status: 403, code: 'forbidden' });
    expect((refused as ApiError).message).toMatch(/monthly budget \(\d+%, policy team-budget\).*new jobs are refused until \d{4}-\d\d-01T00:00:00.000Z or until the budget is raised/);
    expect((await server.client.listJobs({ namespace: 'team' })).total).toBe(2);
    // Other namespaces are not held back.
    expect((await server.client.submitJob({ ...job, namespace: 'default' })).warnings).toBeUndefined();
    const events = (await server.client.listEvents({ limit: 10_000 })).items.filter((e) => e.type.startsWith('budget.'));
    expect(events.map((e) => [e.type, e.data.namespace, e.data.policy])).toEqual([['budget.warning', 'team', 'team-budget'], ['budget.exceeded', 'team', 'team-budget']]);
    const cli = await runCli(server, 'spend', '--namespace', 'team');
    expect(cli.stdout).toMatch(/team +\d{4}-\d\d +\$0\.\d{4} +\$0\.\d{4} +\d+% +exceeded +team-budget/);
    expect(cli.stdout).toContain('exceeded: namespace team has spent');
    expect((await server.client.listBudgets()).items).toEqual([expect.objectContaining({ namespace: 'team', state: 'exceeded', policy: 'team-budget' })]);
  });

  it('holds a job accepted over a budget that queues, and runs it once the budget is raised', async () => {
    const job = { name: 'queued', namespace: 'team', command: ['true'], placement: { require: [{ key: 'pool', operator: 'In', values: ['cloud'] }] } };
    const spent = (await server.client.listBudgets()).items.find((b) => b.namespace === 'team')!.spent;
    await server.client.applyPolicy('team-budget', { namespaces: ['team'], budget: { monthly: spent / 2, whenExceeded: 'queue' } });
    const held = await server.client.submitJob(job);
    expect(held.heldBy).toBe('team-budget');
    expect(held.warnings).toEqual([expect.stringContaining('the job is accepted but held until')]);
    await new Promise((resolve) => setTimeout(resolve, 600));
    const task = await server.client.getTask(`${held.id}.0`);
    expect(task.state).toBe('pending');
    expect(task.reason).toContain('held: namespace team has spent');
    expect((await runCli(server, 'job', held.id)).stdout).toContain('held:       by budget policy team-budget');
    // Still over budget, though new jobs would now be refused: the held job stays held.
    await server.client.applyPolicy('team-budget', { namespaces: ['team'], budget: { monthly: spent / 2, whenExceeded: 'refuse' } });
    expect((await server.client.getJob(held.id)).heldBy).toBe('team-budget');
    await server.client.applyPolicy('team-budget', { namespaces: ['team'], budget: { monthly: spent * 10, whenExceeded: 'queue' } });
    const done = await waitForJobEnd(server.client, held.id, 30_000);
    expect(done).toMatchObject({ state: 'succeeded', heldBy: null });
    const events = (await server.client.listEvents({ job: held.id, limit: 1000 })).items.map((e) => e.type);
    expect(events.filter((t) => t.startsWith('job.'))).toEqual(['job.submitted', 'job.held', 'job.released', 'job.started', 'job.finished']);
  });

  it('refuses a bad price book naming the field and changes nothing; a good one reprices nodes at once', async () => {
    const bad = await server.client.setPriceBook({ ...BOOK, compute: [{ match: { provider: 'aws' }, perNodeHour: -1 }] }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(ApiError);
    expect((bad as ApiError).problems.map((p) => p.path)).toContain('compute[0].perNodeHour');
    expect((await server.client.getNode('aws-fra')).price.hour).toBe(36);
    const file = join(work, 'cheaper.yaml');
    writeFileSync(file, JSON.stringify({ ...BOOK, compute: [{ match: { provider: 'aws' }, perNodeHour: 1.5 }] }));
    const applied = await runCli(server, 'pricing', 'apply', file);
    expect(applied.code, applied.stderr).toBe(0);
    expect((await server.client.getNode('aws-fra')).price).toEqual({ hour: 1.5, from: 'book', source: null });
    expect((await server.client.getPriceBook()).book.compute).toHaveLength(1);
    const events = (await server.client.listEvents({ limit: 10_000 })).items.filter((e) => e.type === 'pricing.updated');
    expect(events.length).toBeGreaterThanOrEqual(2);
  });
});
