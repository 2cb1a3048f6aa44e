import type { EventRecord } from '../../src/core/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../src/client/client.js';
import { startAgent, startServer, waitFor, waitForJobEnd, waitForReadyNodes, type Proc, type ServerProc } from '../harness/processes.js';

// A real control plane and four real agent processes on loopback.
describe('batch jobs across real agents', () => {
  let server: ServerProc;
  const agents: Proc[] = [];

  beforeAll(async () => {
    // Not the shortest heartbeat: a task is expected to run once, so a node must not be declared
    // lost because a loaded machine delayed a heartbeat by half a second.
    server = await startServer({ extraArgs: ['--heartbeat', '500ms'] });
    for (let i = 0; i < 4; i += 1) agents.push(startAgent(server.url, server.joinToken, { name: `worker-${i}`, cpu: '2', labels: { pool: i < 2 ? 'a' : 'b' } }));
    await waitForReadyNodes(server.client, 4);
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.kill('SIGKILL')));
    await server?.kill('SIGKILL');
  });

  it('runs a 200-task job across the four agents, with every task logged once', async () => {
    const job = await server.client.submitJob({
      name: 'two-hundred',
      tasks: 200,
      command: ['sh', '-c', 'echo "task $ATOLL_TASK_INDEX on $ATOLL_NODE"; echo "err $ATOLL_TASK_ID" >&2'],
      resources: { cpu: 0.1, memory: '32Mi' },
    });
    expect(job.taskCount).toBe(200);
    const done = await waitForJobEnd(server.client, job.id);
    expect(done.state).toBe('succeeded');
    expect(done.counts.succeeded).toBe(200);

    const tasks = await server.client.allTasks(job.id);
    expect(tasks.map((t) => t.index).sort((a, b) => a - b)).toEqual([...Array(200).keys()]);
    expect(new Set(tasks.map((t) => t.node))).toEqual(new Set(['worker-0', 'worker-1', 'worker-2', 'worker-3']));
    for (const task of tasks) expect(task).toMatchObject({ state: 'succeeded', attempts: 1, exitCode: 0 });

    for (const task of [tasks[0]!, tasks[117]!, tasks[199]!]) {
      const { items } = await server.client.getLogs(task.id);
      const stdout = items.filter((c) => c.stream === 'stdout').map((c) => c.data).join('');
      const stderr = items.filter((c) => c.stream === 'stderr').map((c) => c.data).join('');
      expect(stdout).toBe(`task ${task.index} on ${task.node}\n`);
      expect(stderr).toBe(`err ${task.id}\n`);
    }

    // The event log alone tells the story: one placement, one start and one finish per task.
    const events: EventRecord[] = [];
    for (let after = 0; ; ) {
      const { items } = await server.client.listEvents({ job: job.id, after, limit: 1000 });
      if (items.length === 0) break;
      events.push(...items);
      after = items.at(-1)!.seq;
    }
    const count = (type: string) => events.filter((e) => e.type === type).length;
    expect(count('task.placed')).toBe(200);
    expect(count('attempt.started')).toBe(200);
    expect(count('attempt.finished')).toBe(200);
    expect(count('job.finished')).toBe(1);
  });

  it('places tasks only on nodes that meet placement.require', async () => {
    const job = await server.client.submitJob({
      name: 'pool-b-only',
      tasks: 12,
      command: ['true'],
      placement: { require: [{ key: 'pool', operator: 'In', values: ['b'] }] },
    });
    const done = await waitForJobEnd(server.client, job.id);
    expect(done.state).toBe('succeeded');
    const nodes = new Set((await server.client.allTasks(job.id)).map((t) => t.node));
    expect([...nodes].every((n) => n === 'worker-2' || n === 'worker-3')).toBe(true);
  });

  it('keeps a task waiting, with its reason, when no node can ever fit it', async () => {
    const job = await server.client.submitJob({ name: 'too-big', command: ['true'], resources: { cpu: 64 } });
    const reason = await waitFor(async () => (await server.client.getTask(`${job.id}.0`)).reason ?? undefined, 10_000, 'a waiting reason');
    expect(reason).toBe('0/4 nodes fit: 4 insufficient cpu');
    expect((await server.client.getJob(job.id)).state).toBe('pending');
    const cancelled = await server.client.cancelJob(job.id);
    expect(cancelled.state).toBe('cancelled');
  });

  it('fails a task whose executable does not exist, and the agent stays up', async () => {
    const job = await server.client.submitJob({ name: 'no-such-binary', command: ['atoll-no-such-program-xyz', '--flag'] });
    const done = await waitForJobEnd(server.client, job.id);
    expect(done.state).toBe('failed');
    const task = await server.client.getTask(`${job.id}.0`);
    expect(task.state).toBe('failed');
    expect(task.reason).toContain('atoll-no-such-program-xyz');
    expect(task.reason).toMatch(/not found/);
    expect(done.reason).toContain('1 of 1 tasks did not succeed');
    // Every agent process is still alive and its node still ready; the same node runs the next job.
    expect(agents.every((a) => a.child.exitCode === null)).toBe(true);
    const follow = await server.client.submitJob({ name: 'after-failure', tasks: 8, command: ['true'] });
    expect((await waitForJobEnd(server.client, follow.id)).state).toBe('succeeded');
    expect((await server.client.listNodes({ state: 'ready' })).items).toHaveLength(4);
  });

  it('retries a failing task up to retry.attempts and reports the final reason', async () => {
    const job = await server.client.submitJob({ name: 'always-fails', command: ['sh', '-c', 'exit 3'], retry: { attempts: 2, backoff: '50ms' } });
    const done = await waitForJobEnd(server.client, job.id);
    expect(done.state).toBe('failed');
    const task = await server.client.getTask(`${job.id}.0`);
    expect(task.attempts).toBe(3);
    expect(task.history.map((a) => a.state)).toEqual(['failed', 'failed', 'failed']);
    expect(task.reason).toBe('exit code 3 (after 3 attempts)');
  });

  it('cancels a running job and stops its processes', async () => {
    const job = await server.client.submitJob({ name: 'sleepers', tasks: 4, command: ['sleep', '300'], killGrace: '200ms' });
    await waitFor(async () => ((await server.client.getJob(job.id)).counts.running === 4 ? true : undefined), 15_000, 'four running tasks');
    const cancelled = await server.client.cancelJob(job.id);
    expect(cancelled.state).toBe('cancelled');
    expect(cancelled.counts.cancelled).toBe(4);
    await waitFor(async () => {
      const { items } = await server.client.listNodes();
      return items.every((n) => n.usage.runningAttempts === 0) ? true : undefined;
    }, 10_000, 'agents to report no running attempts');
    await expect(server.client.cancelJob(job.id)).rejects.toMatchObject({ status: 409 });
  });

  it('answers 404 with the kind and id for unknown objects', async () => {
    const error = await server.client.getJob('nope-123').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 404, code: 'not_found' });
    expect((error as ApiError).message).toContain('job "nope-123"');
  });
});
