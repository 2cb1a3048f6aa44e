import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskExplanation } from '../../src/client/client.js';
import type { EventRecord, JobView, NodeRecord, TaskView } from '../../src/core/types.js';
import type { Explanation } from '../../src/scheduler/engine.js';
import {
  type AgentSpec,
  type Proc,
  type ServerProc,
  startAgent,
  startServer,
  waitFor,
  waitForJobEnd,
  waitForReadyNodes,
  runCli,
} from '../harness/processes.js';

// Placement rules end to end: a real control plane and six agents on loopback, each standing for
// a machine in another country or cloud. Residency, spread, taints and explanations are checked
// from what the API and the CLI report, the way a user would check them.


const FLEET: readonly AgentSpec[] = [
  { name: 'aws-ie', provider: 'aws', region: 'eu-west-1', zone: 'eu-west-1a', jurisdiction: 'IE', geo: { lat: 53.35, lon: -6.26 }, priceHour: 0.192 },
  { name: 'gcp-de', provider: 'gcp', region: 'europe-west3', zone: 'europe-west3-a', jurisdiction: 'DE', geo: { lat: 50.11, lon: 8.68 }, priceHour: 0.218 },
  { name: 'hetzner-de', provider: 'hetzner', region: 'eu-central', zone: 'fsn1-dc14', kind: 'onprem', jurisdiction: 'DE', geo: { lat: 50.48, lon: 12.37 }, priceHour: 0.061 },
  { name: 'aws-us', provider: 'aws', region: 'us-east-1', zone: 'us-east-1a', jurisdiction: 'US', geo: { lat: 38.95, lon: -77.45 }, priceHour: 0.192 },
  { name: 'azure-sg', provider: 'azure', region: 'southeastasia', zone: 'southeastasia-1', jurisdiction: 'SG', geo: { lat: 1.35, lon: 103.82 }, priceHour: 0.23 },
  // From a node.yaml that says nothing about taints: an edge box gets `edge` by default.
  {
    name: 'edge-paris',
    config: { provider: 'edge', region: 'fr-idf', site: 'paris-shop-11', kind: 'edge', jurisdiction: 'FR', geo: { lat: 48.86, lon: 2.38 }, cpu: 2, memory: '4Gi', priceHour: 0.012 },
  },
];
const EU_NODES = ['aws-ie', 'gcp-de', 'hetzner-de'];

describe('placement across providers and jurisdictions', () => {
  let server: ServerProc;
  const agents: Proc[] = [];
  let nodes: ReadonlyMap<string, NodeRecord>;
  let euJob: JobView;

  const cli = (...args: string[]) => runCli(server, ...args);

  const submit = (spec: Record<string, unknown>): Promise<JobView> => server.client.submitJob({ command: ['true'], ...spec });

  /** A pending task's reason once a scheduling round has found no node for it. */
  const waitingReason = (taskId: string) =>
    waitFor(async () => {
      const task = await server.client.getTask(taskId);
      return task.state === 'pending' && task.reason ? task.reason : undefined;
    }, 15_000, `a waiting reason for ${taskId}`);

  const jobEvents = async (jobId: string): Promise<EventRecord[]> => {
    const events: EventRecord[] = [];
    for (let after = 0; ; ) {
      const { items } = await server.client.listEvents({ job: jobId, after, limit: 1000 });
      if (items.length === 0) return events;
      events.push(...items);
      after = items.at(-1)!.seq;
    }
  };

  /** Where the API says a task on `node` runs: the node's location fields, as the node reported them. */
  const locationOf = (node: string) => {
    const { provider, region, zone, site, jurisdiction } = nodes.get(node)!;
    return { provider, region, zone, site, jurisdiction };
  };

  beforeAll(async () => {
    server = await startServer({ extraArgs: ['--heartbeat', '200ms'] });
    for (const spec of FLEET) agents.push(startAgent(server.url, server.joinToken, spec));
    await waitForReadyNodes(server.client, FLEET.length);
    nodes = new Map((await server.client.listNodes()).items.map((n) => [n.name, n]));
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.kill('SIGKILL')));
    await server?.kill('SIGKILL');
  });

  it('registers each node where the agent said it stands, the edge box tainted by default', () => {
    expect(nodes.get('aws-ie')).toMatchObject({ provider: 'aws', region: 'eu-west-1', zone: 'eu-west-1a', jurisdiction: 'IE', kind: 'cloud', taints: [] });
    expect(nodes.get('hetzner-de')).toMatchObject({ provider: 'hetzner', jurisdiction: 'DE', kind: 'onprem', taints: [] });
    expect(nodes.get('azure-sg')).toMatchObject({ jurisdiction: 'SG', lat: 1.35, lon: 103.82 });
    expect(nodes.get('edge-paris')).toMatchObject({ provider: 'edge', site: 'paris-shop-11', kind: 'edge', jurisdiction: 'FR', taints: [{ key: 'edge' }] });
  });

  it('keeps an EU-only job on the Irish and German nodes, as the task listing and `atoll tasks` show', async () => {
    euJob = await submit({ name: 'eu-only', tasks: 30, placement: { residency: ['EU'] } });
    expect((await waitForJobEnd(server.client, euJob.id, 30_000)).state).toBe('succeeded');

    const tasks = await server.client.allTasks(euJob.id);
    expect(tasks).toHaveLength(30);
    for (const task of tasks) {
      expect(task.state).toBe('succeeded');
      // The Paris box is in the EU too, but tainted: only tolerating jobs go there.
      expect(EU_NODES, `${task.id} ran on ${task.node}`).toContain(task.node);
      expect(['IE', 'DE']).toContain(task.location?.jurisdiction);
      expect(task.location).toEqual(locationOf(task.node!));
    }

    const listed = await cli('tasks', euJob.id, '-o', 'json');
    expect(listed.code, listed.stderr).toBe(0);
    const fromCli = JSON.parse(listed.stdout) as TaskView[];
    expect(fromCli).toHaveLength(30);
    const byId = new Map(tasks.map((t) => [t.id, t]));
    for (const task of fromCli) {
      expect(['IE', 'DE']).toContain(task.location?.jurisdiction);
      expect(task.location).toEqual(byId.get(task.id)?.location);
    }
  });

  it('spreads a job over providers: no provider runs more than maxSkew tasks beyond another', async () => {
    // 20 tasks of 2 s, all placed in one round while none has finished: the spread counts are
    // the job's running tasks, so each provider's share shows in where the tasks went. AWS has two
    // nodes; spreading by node would give it twice the share of the others.
    const job = await submit({ name: 'spread', tasks: 20, command: ['sleep', '2'], placement: { spread: { across: 'provider', maxSkew: 1 } } });
    expect((await waitForJobEnd(server.client, job.id, 30_000)).state).toBe('succeeded');

    const tasks = await server.client.allTasks(job.id);
    const perProvider = new Map<string, number>();
    for (const task of tasks) perProvider.set(task.location!.provider, (perProvider.get(task.location!.provider) ?? 0) + 1);
    // The edge provider is not a domain this job may use (untolerated taint), so it does not hold the others back.
    expect([...perProvider.keys()].sort()).toEqual(['aws', 'azure', 'gcp', 'hetzner']);
    const counts = [...perProvider.values()];
    expect(Math.max(...counts) - Math.min(...counts), JSON.stringify(Object.fromEntries(perProvider))).toBeLessThanOrEqual(1);

    // Each placement's explanation shows the rule held when it was made, whatever finished since.
    const placed = (await jobEvents(job.id)).filter((e) => e.type === 'task.placed');
    expect(placed).toHaveLength(20);
    for (const event of placed) {
      const spread = (event.data.explanation as Explanation).spread;
      expect(spread).toMatchObject({ across: 'provider', maxSkew: 1, openDomains: 4, domain: nodes.get(event.node!)!.provider });
      expect(spread!.domainCount + 1 - spread!.leastCount).toBeLessThanOrEqual(1);
    }
  });

  it('leaves a job no node may take pending, says why in the listing and in `atoll explain`, and cancels it', async () => {
    const job = await submit({ name: 'japan-only', tasks: 3, placement: { residency: ['JP'] } });
    const expected = '0/6 nodes fit: 6 jurisdiction not in [JP]';
    expect(await waitingReason(`${job.id}.0`)).toBe(expected);

    const tasks = await server.client.allTasks(job.id);
    expect(tasks.map((t) => [t.state, t.node, t.reason])).toEqual([
      ['pending', null, expected],
      ['pending', null, expected],
      ['pending', null, expected],
    ]);
    expect(tasks.every((t) => t.location === undefined)).toBe(true);

    const explained = await cli('explain', `${job.id}.1`);
    expect(explained.code, explained.stderr).toBe(0);
    expect(explained.stdout).toContain(`${job.id}.1 is waiting: ${expected}`);
    const unplaceable = (await jobEvents(job.id)).find((e) => e.type === 'task.unplaceable');
    expect(unplaceable?.data).toMatchObject({ message: expected, reasons: { jurisdiction_not_allowed: 6 } });

    const cancelled = await server.client.cancelJob(job.id);
    expect(cancelled.state).toBe('cancelled');
    expect(cancelled.counts.cancelled).toBe(3);
  });

  it('puts work on the tainted edge box only when the job tolerates edge', async () => {
    const refused = await submit({ name: 'paris-untolerated', placement: { residency: ['FR'] } });
    expect(await waitingReason(`${refused.id}.0`)).toBe('0/6 nodes fit: 5 jurisdiction not in [FR], 1 untolerated taint edge');
    const why = await cli('explain', `${refused.id}.0`);
    expect(why.stdout).toContain('untolerated taint edge');
    await server.client.cancelJob(refused.id);

    const job = await submit({ name: 'paris-shop', tasks: 4, placement: { residency: ['FR'] }, tolerations: [{ key: 'edge' }] });
    expect((await waitForJobEnd(server.client, job.id, 30_000)).state).toBe('succeeded');
    for (const task of await server.client.allTasks(job.id)) {
      expect(task.node).toBe('edge-paris');
      expect(task.location).toEqual({ provider: 'edge', region: 'fr-idf', zone: '', site: 'paris-shop-11', jurisdiction: 'FR' });
    }
  });

  it('explains a placement: the chosen node, its jurisdiction, the candidates\' scores and who was turned down', async () => {
    const [task] = await server.client.allTasks(euJob.id);
    const node = nodes.get(task!.node!)!;

    const printed = await cli('explain', task!.id);
    expect(printed.code, printed.stderr).toBe(0);
    expect(printed.stdout).toContain(`${task!.id} was placed on ${node.name} (${node.jurisdiction}, ${node.provider}, ${node.region})`);
    expect(printed.stdout).toContain('3 of 6 nodes could take it; turned down: 2 jurisdiction not in [EU], 1 untolerated taint edge');
    expect(printed.stdout).toContain('candidates (score = sum of weight x normalised score):');
    expect(printed.stdout).toMatch(new RegExp(`chosen\\s+\\d+\\.\\d\\s+${node.name} \\(`));
    expect(printed.stdout).toMatch(/runner-up\s+\d+\.\d\s+(aws-ie|gcp-de|hetzner-de) \(/);
    for (const plugin of ['latency', 'cost', 'load', 'affinity', 'locality']) expect(printed.stdout).toMatch(new RegExp(`\\b${plugin}\\s+\\d+ x `));
    expect(printed.stdout).toContain('aws-us: node is in US; the job allows only [EU] [residency]');
    expect(printed.stdout).toContain('azure-sg: node is in SG; the job allows only [EU] [residency]');
    expect(printed.stdout).toContain('edge-paris: node is tainted edge; add tolerations: [{key: edge}] to the job to run here [taint-toleration]');

    // The JSON form is the API's object, the same one the client gets.
    const json = await cli('explain', task!.id, '-o', 'json');
    expect(json.code, json.stderr).toBe(0);
    const fromCli = JSON.parse(json.stdout) as TaskExplanation;
    expect(fromCli).toEqual(await server.client.explainTask(task!.id));
    const e = fromCli.explanation!;
    expect(e.chosen.node).toBe(node.name);
    expect(e.candidates[0]).toEqual(e.chosen);
    expect(e.candidates.length).toBeGreaterThanOrEqual(2);
    for (const candidate of e.candidates) {
      expect(EU_NODES).toContain(candidate.node);
      expect(candidate.scores.map((s) => s.plugin)).toEqual(['latency', 'cost', 'load', 'affinity', 'locality']);
      for (const s of candidate.scores) {
        expect(s.normalized).toBeGreaterThanOrEqual(0);
        expect(s.normalized).toBeLessThanOrEqual(100);
        expect(s.weighted).toBeCloseTo(s.normalized * s.weight, 6);
      }
      expect(candidate.total).toBeCloseTo(candidate.scores.reduce((sum, s) => sum + s.weighted, 0), 6);
    }
    expect(e.candidates.map((c) => c.total)).toEqual([...e.candidates.map((c) => c.total)].sort((a, b) => b - a));
    expect(e).toMatchObject({ feasible: 3, nodes: 6, reasons: { jurisdiction_not_allowed: 2, untolerated_taint: 1 } });
    expect(e.rejectedSummary).toBe('2 jurisdiction not in [EU], 1 untolerated taint edge');
    expect(e.rejected.map((r) => [r.node, r.reason]).sort()).toEqual([
      ['aws-us', 'jurisdiction_not_allowed'],
      ['azure-sg', 'jurisdiction_not_allowed'],
      ['edge-paris', 'untolerated_taint'],
    ]);
  });

  it('refuses at submit a residency naming no known jurisdiction, with the field path', async () => {
    const before = (await server.client.listJobs()).total;
    const response = await fetch(`${server.url}/v1/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'nowhere', command: ['true'], placement: { residency: ['XX'] } }),
    });
    expect(response.status).toBe(400);
    const { error } = (await response.json()) as { error: { code: string; problems?: { path: string; message: string }[] } };
    expect(error.code).toBe('invalid_spec');
    expect(error.problems?.map((p) => p.path)).toEqual(['placement.residency[0]']);
    expect(error.problems?.[0]?.message).toContain('unknown jurisdiction "XX"');
    expect((await server.client.listJobs()).total).toBe(before);
  });
});
