import { readdirSync, readlinkSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { EventRecord, TaskView } from '../../src/core/types.js';
import { type AgentSpec, type Proc, type ServerProc, startAgent, startServer, waitFor, waitForJobEnd, waitForReadyNodes } from '../harness/processes.js';

// Losing a whole region, then every compliant node: EU-only work moves to the next EU location,
// waits (saying why) when no EU node is left rather than touching the US node that stays up, and
// resumes when an EU node returns. Real control plane and agents on loopback; agents are killed
// with SIGKILL, as a region outage would take them.

const SERVER_ARGS = ['--heartbeat', '200ms', '--unreachable-after', '600ms', '--lost-after', '300ms'];

const HETZNER_1: AgentSpec = { name: 'hetzner-fsn-1', provider: 'hetzner', region: 'eu-central', zone: 'fsn1-dc14', jurisdiction: 'DE', geo: { lat: 50.48, lon: 12.37 }, priceHour: 0.05 };
const HETZNER_2: AgentSpec = { ...HETZNER_1, name: 'hetzner-fsn-2', zone: 'fsn1-dc15' };
const AWS_IE: AgentSpec = { name: 'aws-ie', provider: 'aws', region: 'eu-west-1', zone: 'eu-west-1a', jurisdiction: 'IE', geo: { lat: 53.35, lon: -6.26 }, priceHour: 0.19 };
// The cheapest node, so nothing but residency keeps EU work off it.
const AWS_US: AgentSpec = { name: 'aws-us', provider: 'aws', region: 'us-east-1', zone: 'us-east-1a', jurisdiction: 'US', geo: { lat: 38.95, lon: -77.45 }, priceHour: 0.01 };
const EU_NODES = [HETZNER_1.name, HETZNER_2.name, AWS_IE.name];
const TASKS = 6;

describe('region and provider outages', () => {
  let server: ServerProc;
  const agents: (Proc & { dataDir: string })[] = [];

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.kill('SIGKILL')));
    await server?.kill('SIGKILL');
    // Tasks of agents killed with SIGKILL outlive them (as on a real box, until it powers off): stop them by pid.
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      try {
        const cwd = readlinkSync(`/proc/${pid}/cwd`);
        if (agents.some((a) => cwd.startsWith(`${a.dataDir}/`))) process.kill(Number(pid), 'SIGKILL');
      } catch {
        // Gone already, or not ours to read.
      }
    }
  });

  const allEvents = async (): Promise<EventRecord[]> => {
    const out: EventRecord[] = [];
    for (let after = 0; ; ) {
      const { items } = await server.client.listEvents({ after, limit: 1000 });
      if (items.length === 0) return out;
      out.push(...items);
      after = items.at(-1)!.seq;
    }
  };

  /** Every placement of the job's tasks so far, as task and node, from the event log. */
  const placements = async (jobId: string): Promise<[string, string][]> =>
    (await allEvents()).filter((e) => e.type === 'task.placed' && e.jobId === jobId).map((e) => [e.taskId!, e.node!]);

  const tasksWhen = (jobId: string, what: string, check: (tasks: TaskView[]) => boolean): Promise<TaskView[]> =>
    waitFor(async () => {
      const tasks = await server.client.allTasks(jobId);
      return tasks.length === TASKS && check(tasks) ? tasks : undefined;
    }, 20_000, what);

  it('moves EU-only work to the other EU region, waits when no EU node is left, resumes when one returns, never touching the US', async () => {
    server = await startServer({ extraArgs: SERVER_ARGS });
    const hetzner = [startAgent(server.url, server.joinToken, HETZNER_1), startAgent(server.url, server.joinToken, HETZNER_2)];
    agents.push(...hetzner, startAgent(server.url, server.joinToken, AWS_US));
    await waitForReadyNodes(server.client, 3);

    // Long enough to still run through each outage below; the second job allows only one node loss.
    const job = await server.client.submitJob({ name: 'eu-records', tasks: TASKS, command: ['sleep', '5'], resources: { cpu: 0.5 }, placement: { residency: ['EU'] } });
    const fragile = await server.client.submitJob({ name: 'eu-fragile', tasks: 2, command: ['sleep', '10'], resources: { cpu: 0.5 }, placement: { residency: ['EU'] }, retry: { nodeLosses: 1 } });
    await tasksWhen(job.id, 'the job to run in Falkenstein', (ts) => ts.every((t) => t.state === 'running' && t.node?.startsWith('hetzner-')));
    await waitFor(async () => ((await server.client.allTasks(fragile.id)).every((t) => t.state === 'running') ? true : undefined), 20_000, 'the fragile job to run');

    // Another EU region joins; then the whole hetzner eu-central region goes dark.
    const ie = startAgent(server.url, server.joinToken, AWS_IE);
    agents.push(ie);
    await waitForReadyNodes(server.client, 4);
    await Promise.all(hetzner.map((a) => a.kill('SIGKILL')));

    const moved = await tasksWhen(job.id, 'the job to move to Ireland', (ts) => ts.every((t) => t.state === 'running' && t.node === 'aws-ie'));
    for (const task of moved) {
      expect(task).toMatchObject({ attempts: 2, losses: 1, failures: 0, location: { provider: 'aws', region: 'eu-west-1', jurisdiction: 'IE' } });
    }
    expect((await server.client.getNode(HETZNER_1.name)).state).toBe('down');
    expect((await server.client.getNode(HETZNER_2.name)).state).toBe('down');
    await waitFor(async () => ((await server.client.allTasks(fragile.id)).every((t) => t.state === 'running' && t.node === 'aws-ie') ? true : undefined), 20_000, 'the fragile job to move to Ireland');

    // The last EU node goes too: the work waits and says why; the US node is up and could take it, but may not.
    await ie.kill('SIGKILL');
    const waiting = await tasksWhen(job.id, 'the job to wait for an EU node', (ts) => ts.every((t) => t.state === 'pending' && (t.reason ?? '').includes('jurisdiction not in [EU]')));
    const why = '0/4 nodes fit: 3 node down, 1 jurisdiction not in [EU]';
    for (const task of waiting) expect(task).toMatchObject({ node: null, losses: 2, reason: why });
    expect((await server.client.explainTask(waiting[0]!.id)).waiting).toBe(why);
    expect((await server.client.getNode(AWS_US.name)).state).toBe('ready');

    // A task may lose its node only retry.nodeLosses times: the fragile job lost two and stops, saying so.
    const failed = await waitForJobEnd(server.client, fragile.id, 20_000);
    expect(failed.state).toBe('failed');
    for (const task of await server.client.allTasks(fragile.id)) {
      expect(task).toMatchObject({ state: 'failed', losses: 2 });
      expect(task.reason).toContain('retry.nodeLosses allows 1');
    }

    // The US node is usable all along: work without residency runs there at once.
    const anywhere = await server.client.submitJob({ name: 'anywhere', tasks: 2, command: ['true'] });
    expect((await waitForJobEnd(server.client, anywhere.id, 20_000)).state).toBe('succeeded');
    expect((await server.client.allTasks(anywhere.id)).map((t) => t.node)).toEqual([AWS_US.name, AWS_US.name]);
    // ...while the EU work keeps waiting.
    expect((await server.client.allTasks(job.id)).every((t) => t.state === 'pending' && t.node === null)).toBe(true);

    // Ireland comes back on its saved credential: the work resumes there and finishes.
    agents.push(startAgent(server.url, '', AWS_IE, ie.dataDir));
    const done = await waitForJobEnd(server.client, job.id, 30_000);
    expect(done.state).toBe('succeeded');
    expect(done.counts.succeeded).toBe(TASKS);
    for (const task of await server.client.allTasks(job.id)) {
      expect(task).toMatchObject({ state: 'succeeded', node: 'aws-ie', losses: 2, failures: 0 });
      const history = (await server.client.getTask(task.id)).history;
      expect(history.map((a) => a.node)).toEqual([expect.stringMatching(/^hetzner-fsn-[12]$/), 'aws-ie', 'aws-ie']);
      expect(history.map((a) => a.state)).toEqual(['lost', 'lost', 'succeeded']);
    }

    // Residency held throughout: every placement of the EU jobs, at every stage, was on an EU node.
    for (const jobId of [job.id, fragile.id]) {
      const placed = await placements(jobId);
      expect(placed.length).toBeGreaterThan(0);
      for (const [taskId, node] of placed) expect(EU_NODES, `${taskId} placed on ${node}`).toContain(node);
    }
    expect((await placements(job.id)).length).toBe(TASKS * 3);
    const onUs = (await allEvents()).filter((e) => e.node === AWS_US.name && e.jobId !== null && e.jobId !== anywhere.id);
    expect(onUs).toEqual([]);
  });
});
