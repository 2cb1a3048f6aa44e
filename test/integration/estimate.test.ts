import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../src/client/client.js';
import type { JobEstimate } from '../../src/core/estimate.js';
import { type Proc, runCli, type ServerProc, startAgent, startServer, tempDir, waitForJobEnd, waitForReadyNodes } from '../harness/processes.js';

// `atoll run --estimate` on a fleet where cheap and near disagree: users in New York, a cheap
// server in Germany, a dear one in New York and one in between in Iowa. Each objective places the
// work elsewhere, the estimate's cost follows the price book, and the real run lands where the
// estimate said when nothing changed in between.

const NEW_YORK = { lat: 40.71, lon: -74.0 };

describe('estimates', () => {
  let server: ServerProc;
  const agents: Proc[] = [];
  const work = tempDir('estimate');
  const job = (optimize?: 'latency' | 'cost' | 'balanced') => ({
    name: 'web', tasks: 3, command: ['sleep', '0.2'], resources: { cpu: 1, memory: '256Mi' },
    placement: { near: { users: [NEW_YORK] }, expectedDuration: '1h', ...(optimize === undefined ? {} : { optimize }) },
  });

  beforeAll(async () => {
    const book = join(work, 'book.json');
    writeFileSync(book, JSON.stringify({
      compute: [{ match: { provider: 'hetzner' }, perNodeHour: 0.5 }, { match: { provider: 'gcp' }, perNodeHour: 0.6 }, { match: { provider: 'aws' }, perNodeHour: 2 }],
      transfer: { default: { sameZone: 0, crossZone: 0.01, crossRegion: 0.02, internet: 0.09, edgeUplink: 0.05 } },
    }));
    server = await startServer({ extraArgs: ['--heartbeat', '500ms', '--pricing', book] });
    agents.push(startAgent(server.url, server.joinToken, { name: 'hetzner-fsn', provider: 'hetzner', region: 'eu-central', zone: 'fsn1', jurisdiction: 'DE', geo: { lat: 50.48, lon: 12.37 }, cpu: '4', memory: '8Gi' }));
    agents.push(startAgent(server.url, server.joinToken, { name: 'gcp-iowa', provider: 'gcp', region: 'us-central1', zone: 'us-central1-a', jurisdiction: 'US', geo: { lat: 41.26, lon: -95.86 }, cpu: '4', memory: '8Gi' }));
    agents.push(startAgent(server.url, server.joinToken, { name: 'aws-nyc', provider: 'aws', region: 'us-east-1', zone: 'us-east-1a', jurisdiction: 'US', geo: NEW_YORK, cpu: '4', memory: '8Gi' }));
    await waitForReadyNodes(server.client, 3);
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.kill('SIGKILL')));
    await server?.kill('SIGKILL');
  });

  it('places the work differently for each objective, the job\'s own first, and prices it from the book', async () => {
    const estimate = await server.client.estimateJob(job());
    expect(estimate).toMatchObject({ name: 'web', objective: 'balanced', tasks: 3, later: [] });
    const where = Object.fromEntries(estimate.options.map((o) => [o.objective, o.nodes.map((n) => n.node)]));
    expect(estimate.options.map((o) => o.objective)).toEqual(['balanced', 'latency', 'cost']);
    expect(where.latency).toEqual(['aws-nyc']);
    expect(where.cost![0]).toBe('hetzner-fsn');
    expect(where.balanced).toEqual(['gcp-iowa']);
    // A task takes a quarter of a node (1 of 4 cpus) for its expected hour.
    const latency = estimate.options.find((o) => o.objective === 'latency')!;
    expect(latency.cost.compute).toBeCloseTo(3 * 2 * 0.25, 9);
    const balanced = estimate.options.find((o) => o.objective === 'balanced')!;
    expect(balanced.cost.compute).toBeCloseTo(3 * 0.6 * 0.25, 9);
    const cheapest = estimate.options.find((o) => o.objective === 'cost')!;
    expect(cheapest.cost.total).toBeLessThan(balanced.cost.total);
    expect(balanced.cost.total).toBeLessThan(latency.cost.total);
    // Nothing was run or stored.
    expect((await server.client.listJobs()).total).toBe(0);
  });

  it.each(['balanced', 'latency', 'cost'] as const)('runs a %s job where its estimate said, when nothing changed in between', async (optimize) => {
    const estimate = await server.client.estimateJob(job(optimize));
    const expected = estimate.options[0]!;
    expect(expected.objective).toBe(optimize);
    const submitted = await server.client.submitJob(job(optimize));
    expect((await waitForJobEnd(server.client, submitted.id, 30_000)).state).toBe('succeeded');
    const tasks = await server.client.allTasks(submitted.id);
    expect(tasks.map((t) => [t.index, t.node])).toEqual(expected.tasks.map((t) => [t.index, t.node]));
  });

  it('leaves stages that start later out of the estimate, saying why', async () => {
    const estimate = await server.client.estimateJob({
      name: 'two-step', stages: [
        { name: 'make', command: ['true'], output: { dataset: 'made' } },
        { name: 'use', dependsOn: ['make'], forEach: { dataset: 'made' }, command: ['true'] },
      ],
    });
    expect(estimate.tasks).toBe(1);
    expect(estimate.later).toEqual([{ stage: 'use', reason: expect.stringContaining('starts after make') }]);
  });

  it('refuses a bad spec with the path, and prints the objectives side by side from `atoll run --estimate`', async () => {
    const bad = await server.client.estimateJob({ name: 'bad', command: ['true'], placement: { optimize: 'speed' } }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(ApiError);
    expect((bad as ApiError).problems.map((p) => p.path)).toContain('placement.optimize');
    const file = join(work, 'web.json');
    writeFileSync(file, JSON.stringify(job('cost')));
    const before = (await server.client.listJobs()).total;
    const shown = await runCli(server, 'run', file, '--estimate');
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/OBJECTIVE +PLACED +WAITING +COST/);
    expect(shown.stdout).toMatch(/cost \(the job's\) +3 +0 +\$0\.\d{4}/);
    expect(shown.stdout).toContain('latency');
    const json = await runCli(server, 'run', file, '--estimate', '-o', 'json');
    expect((JSON.parse(json.stdout) as JobEstimate).options).toHaveLength(3);
    expect((await server.client.listJobs()).total).toBe(before);
  });
});
