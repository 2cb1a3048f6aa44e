import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { EventRecord, NodeRecord, TaskView } from '../../src/core/types.js';
import {
  type Proc,
  type ServerProc,
  startAgent,
  startServer,
  tempDir,
  waitFor,
  waitForJobEnd,
  waitForReadyNodes,
  runCli,
} from '../harness/processes.js';

// Node lifecycle end to end: an operator cordons, drains and uncordons nodes through the CLI and
// the API, and an agent stopped with SIGTERM leaves the cluster. Each test gets its own control
// plane and agents on loopback, with short heartbeats so failures would show within seconds. One
// test scripts the agent side of the protocol, to hold open the moment between `leaving` and the close.

const SERVER_ARGS = ['--heartbeat', '200ms', '--unreachable-after', '600ms', '--lost-after', '300ms'];

describe('node lifecycle', () => {
  const agents: Proc[] = [];
  const servers: ServerProc[] = [];

  afterEach(async () => {
    // SIGTERM first, so agents stop the sleeps they run instead of leaving them orphaned.
    await Promise.all(agents.splice(0).map((a) => Promise.race([a.kill('SIGTERM'), new Promise((r) => setTimeout(r, 8000))]).then(() => a.kill('SIGKILL'))));
    await Promise.all(servers.splice(0).map((s) => s.kill('SIGKILL')));
  });

  /** A control plane and one agent per name (4 CPUs each), all ready. */
  const fleet = async (...names: string[]): Promise<ServerProc> => {
    const server = await startServer({ extraArgs: SERVER_ARGS });
    servers.push(server);
    // Unsandboxed: the tasks write marks to a host file and the test watches their host pids.
    for (const name of names) agents.push(startAgent(server.url, server.joinToken, { name, cpu: '4', extraArgs: ['--unsandboxed'] }));
    await waitForReadyNodes(server.client, names.length);
    return server;
  };


  const cliNodes = async (server: ServerProc): Promise<Map<string, NodeRecord>> => {
    const listed = await runCli(server, 'nodes', '-o', 'json');
    expect(listed.code, listed.stderr).toBe(0);
    return new Map((JSON.parse(listed.stdout) as NodeRecord[]).map((n) => [n.name, n]));
  };

  const events = async (server: ServerProc, after = 0): Promise<EventRecord[]> => {
    const out: EventRecord[] = [];
    for (;;) {
      const { items } = await server.client.listEvents({ after, limit: 1000 });
      if (items.length === 0) return out;
      out.push(...items);
      after = items.at(-1)!.seq;
    }
  };

  const lastSeq = async (server: ServerProc): Promise<number> => (await events(server)).at(-1)?.seq ?? 0;

  /** Waits until every task of the job is running on `node`, and returns them. */
  const allRunningOn = (server: ServerProc, jobId: string, node: string, count: number): Promise<TaskView[]> =>
    waitFor(async () => {
      const tasks = await server.client.allTasks(jobId);
      return tasks.length === count && tasks.every((t) => t.state === 'running' && t.node === node) ? tasks : undefined;
    }, 20_000, `${count} tasks of ${jobId} running on ${node}`);

  /**
   * A task that notes its attempt, node and pid in `marks`, then sleeps: the pid lets the test
   * see that a node which gave the work up really stopped it.
   */
  const markingSleep = (marks: string, seconds: number): string[] => ['sh', '-c', `echo "$ATOLL_ATTEMPT_ID $ATOLL_NODE $$" >> ${marks}; exec sleep ${seconds}`];

  const readMarks = (marks: string): { attempt: string; node: string; pid: number }[] =>
    existsSync(marks)
      ? readFileSync(marks, 'utf8').trim().split('\n').filter(Boolean).map((line) => {
          const [attempt, node, pid] = line.split(' ');
          return { attempt: attempt!, node: node!, pid: Number(pid) };
        })
      : [];

  const alive = (pid: number): boolean => existsSync(`/proc/${pid}`) && !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));

  it('drains a node through the CLI: its running tasks move to another node, it stays cordoned until uncordoned', async () => {
    const server = await fleet('lc-a', 'lc-b');
    const marks = join(tempDir('drain-marks'), 'marks.log');

    // Keep lc-b out of placement so the whole job lands on lc-a.
    const cordoned = await server.client.cordonNode('lc-b');
    expect(cordoned).toMatchObject({ name: 'lc-b', state: 'cordoned', cordoned: true, drainDeadline: null });
    const job = await server.client.submitJob({ name: 'drain-me', tasks: 4, command: markingSleep(marks, 30), resources: { cpu: 0.5 } });
    await allRunningOn(server, job.id, 'lc-a', 4);
    const onA = await waitFor(() => (readMarks(marks).length === 4 ? readMarks(marks) : undefined), 10_000, 'the four tasks to start on lc-a');
    expect(onA.every((m) => m.node === 'lc-a' && alive(m.pid))).toBe(true);
    expect((await server.client.uncordonNode('lc-b')).state).toBe('ready');

    const before = await lastSeq(server);
    const drained = await runCli(server, 'node', 'drain', 'lc-a', '--deadline', '0s', '-o', 'json');
    expect(drained.code, drained.stderr).toBe(0);
    expect(JSON.parse(drained.stdout)).toMatchObject({ name: 'lc-a', cordoned: true });

    // The work runs again on lc-b, as a new attempt that cost the tasks nothing.
    const onB = await allRunningOn(server, job.id, 'lc-b', 4);
    for (const task of onB) expect(task).toMatchObject({ attempts: 2, losses: 0, failures: 0 });
    const nodes = await cliNodes(server);
    expect(nodes.get('lc-a')).toMatchObject({ state: 'cordoned', cordoned: true, drainDeadline: null });
    expect(nodes.get('lc-b')).toMatchObject({ state: 'ready', cordoned: false, drainDeadline: null });

    // lc-a stopped what it ran; lc-b runs the replacements.
    await waitFor(() => (onA.every((m) => !alive(m.pid)) ? true : undefined), 10_000, 'the drained sleeps on lc-a to stop');
    const onBMarks = await waitFor(() => (readMarks(marks).length === 8 ? readMarks(marks).slice(4) : undefined), 10_000, 'the four tasks to start on lc-b');
    expect(onBMarks.every((m) => m.node === 'lc-b' && alive(m.pid))).toBe(true);

    // The event log tells the story: drain started, each attempt moved (not lost with its node), replaced on lc-b, drain done.
    const log = await events(server, before);
    expect(log.filter((e) => e.type === 'node.drain_started').map((e) => e.node)).toEqual(['lc-a']);
    expect(log.filter((e) => e.type === 'node.drained').map((e) => e.node)).toEqual(['lc-a']);
    const lost = log.filter((e) => e.type === 'attempt.lost');
    expect(lost.map((e) => [e.taskId, e.node, e.data.cause]).sort()).toEqual(onB.map((t) => [t.id, 'lc-a', 'moved']).sort());
    const placed = log.filter((e) => e.type === 'task.placed');
    expect(placed.map((e) => e.node)).toEqual(['lc-b', 'lc-b', 'lc-b', 'lc-b']);
    expect((await server.client.getTask(onB[0]!.id)).history.map((a) => [a.node, a.state])).toEqual([['lc-a', 'lost'], ['lc-b', 'running']]);

    // Uncordon brings lc-a back: ready, and it takes new work again.
    const uncordoned = await runCli(server, 'node', 'uncordon', 'lc-a', '-o', 'json');
    expect(uncordoned.code, uncordoned.stderr).toBe(0);
    expect(JSON.parse(uncordoned.stdout)).toMatchObject({ name: 'lc-a', state: 'ready', cordoned: false, drainDeadline: null });
    expect((await cliNodes(server)).get('lc-a')).toMatchObject({ state: 'ready', cordoned: false });
    await server.client.cordonNode('lc-b');
    const after = await server.client.submitJob({ name: 'after-uncordon', tasks: 3, command: ['true'] });
    expect((await waitForJobEnd(server.client, after.id, 20_000)).state).toBe('succeeded');
    expect((await server.client.allTasks(after.id)).map((t) => t.node)).toEqual(['lc-a', 'lc-a', 'lc-a']);

    // The moved tasks were never disturbed by any of this.
    expect((await server.client.allTasks(job.id)).map((t) => [t.state, t.node, t.attempts])).toEqual(onB.map(() => ['running', 'lc-b', 2]));
    await server.client.cancelJob(job.id);
  });

  it('lets running tasks finish within a long drain deadline, then leaves the node cordoned', async () => {
    const server = await fleet('lc-a', 'lc-b');
    await server.client.cordonNode('lc-b');
    const job = await server.client.submitJob({ name: 'short', tasks: 3, command: ['sleep', '2'], resources: { cpu: 0.5 } });
    await allRunningOn(server, job.id, 'lc-a', 3);
    await server.client.uncordonNode('lc-b');

    const before = await lastSeq(server);
    const asked = Date.now();
    const draining = await server.client.drainNode('lc-a', { deadline: '1m' });
    expect(draining).toMatchObject({ name: 'lc-a', state: 'draining', cordoned: true });
    expect(draining.drainDeadline).toBeGreaterThanOrEqual(asked + 60_000 - 1000);
    expect(draining.drainDeadline).toBeLessThanOrEqual(Date.now() + 60_000 + 1000);

    // While lc-a drains it takes no new work: another job goes to lc-b only.
    const other = await server.client.submitJob({ name: 'during-drain', tasks: 3, command: ['true'] });
    expect((await waitForJobEnd(server.client, other.id, 20_000)).state).toBe('succeeded');
    expect((await server.client.allTasks(other.id)).map((t) => t.node)).toEqual(['lc-b', 'lc-b', 'lc-b']);
    expect((await server.client.getNode('lc-a')).state).toBe('draining');

    // The short tasks end where they ran, once each, untouched by the drain.
    const done = await waitForJobEnd(server.client, job.id, 20_000);
    expect(done.state).toBe('succeeded');
    for (const task of await server.client.allTasks(job.id)) expect(task).toMatchObject({ state: 'succeeded', node: 'lc-a', attempts: 1, losses: 0 });

    // With nothing left on it, the drain is complete: lc-a stays out of placement.
    const node = await waitFor(async () => {
      const n = await server.client.getNode('lc-a');
      return n.state === 'cordoned' ? n : undefined;
    }, 10_000, 'lc-a to finish draining');
    expect(node).toMatchObject({ cordoned: true, drainDeadline: null });
    const log = await events(server, before);
    expect(log.filter((e) => e.type === 'attempt.lost')).toEqual([]);
    expect(log.filter((e) => e.node === 'lc-a' && e.type.startsWith('node.')).map((e) => e.type === 'node.state_changed' ? `${e.type}:${String(e.data.to)}` : e.type)).toEqual([
      'node.drain_started',
      'node.state_changed:draining',
      'node.drained',
      'node.state_changed:cordoned',
    ]);
    expect((await cliNodes(server)).get('lc-a')).toMatchObject({ state: 'cordoned' });
  });

  /**
   * Three 30 s tasks running on lc-a, then lc-a's agent stopped with SIGTERM. lc-a is the cheaper
   * node, so the scheduler would pick it again whenever it is still open for placement.
   */
  const leaveWithWork = async () => {
    const server = await startServer({ extraArgs: SERVER_ARGS });
    servers.push(server);
    // Unsandboxed: the tasks write marks to a host file and the test watches their host pids.
    const agentA = startAgent(server.url, server.joinToken, { name: 'lc-a', cpu: '4', priceHour: 0.01, extraArgs: ['--unsandboxed'] });
    agents.push(agentA, startAgent(server.url, server.joinToken, { name: 'lc-b', cpu: '4', priceHour: 2, extraArgs: ['--unsandboxed'] }));
    await waitForReadyNodes(server.client, 2);
    const marks = join(tempDir('leave-marks'), 'marks.log');
    await server.client.cordonNode('lc-b');
    const job = await server.client.submitJob({ name: 'leaver', tasks: 3, command: markingSleep(marks, 30), resources: { cpu: 0.5 } });
    await allRunningOn(server, job.id, 'lc-a', 3);
    const onA = await waitFor(() => (readMarks(marks).length === 3 ? readMarks(marks) : undefined), 10_000, 'the tasks to start on lc-a');
    await server.client.uncordonNode('lc-b');

    const before = await lastSeq(server);
    const exit = await agentA.kill('SIGTERM');
    return { server, job, onA, before, exit };
  };

  it('marks an agent stopped with SIGTERM as left at once and runs its tasks elsewhere without counting a node loss', async () => {
    const { server, job, onA, before, exit } = await leaveWithWork();
    expect(exit).toBe(0);
    // The agent stopped its processes on the way out.
    await waitFor(() => (onA.every((m) => !alive(m.pid)) ? true : undefined), 10_000, 'the sleeps on lc-a to stop');

    const left = await waitFor(async () => {
      const n = await server.client.getNode('lc-a');
      return n.state === 'left' ? n : undefined;
    }, 10_000, 'lc-a to be left');
    expect(left).toMatchObject({ cordoned: false, drainDeadline: null });

    const onB = await allRunningOn(server, job.id, 'lc-b', 3);
    for (const task of onB) expect(task).toMatchObject({ losses: 0, failures: 0 });

    const log = await events(server, before);
    // Straight from ready to left: the departure was never taken for a failure (no unreachable, no down).
    expect(log.filter((e) => e.node === 'lc-a' && e.type === 'node.state_changed').map((e) => [e.data.from, e.data.to])).toEqual([['ready', 'left']]);
    expect(log.filter((e) => e.type === 'attempt.lost' && e.data.cause !== 'moved')).toEqual([]);
    for (const task of onB) {
      const history = (await server.client.getTask(task.id)).history;
      expect(history[0]).toMatchObject({ node: 'lc-a', state: expect.stringMatching(/^(cancelled|lost)$/) });
      expect(history.at(-1)).toMatchObject({ node: 'lc-b', state: 'running' });
    }
    expect((await cliNodes(server)).get('lc-a')).toMatchObject({ state: 'left' });
    await server.client.cancelJob(job.id);
  });

  it('hears the attempts a SIGTERM-stopped agent cancelled reported as cancelled before it leaves', async () => {
    const { server, job, before } = await leaveWithWork();
    await waitFor(async () => ((await server.client.getNode('lc-a')).state === 'left' ? true : undefined), 10_000, 'lc-a to be left');
    const onB = await allRunningOn(server, job.id, 'lc-b', 3);
    // Agent.stop() says the stopped attempts "are reported as cancelled" and waits for their
    // acknowledgement; the control plane should hear each one, not declare them unreported.
    const reported = (await events(server, before)).filter((e) => e.type === 'attempt.finished' && e.node === 'lc-a');
    expect(reported.map((e) => [e.taskId, e.data.outcome]).sort(), 'attempts on lc-a reported by the leaving agent').toEqual(onB.map((t) => [t.id, 'cancelled']).sort());
    for (const task of onB) {
      expect((await server.client.getTask(task.id)).history.map((a) => [a.node, a.state])).toEqual([['lc-a', 'cancelled'], ['lc-b', 'running']]);
    }
    await server.client.cancelJob(job.id);
  });

  it('gives no new work to a node whose agent said it is leaving, while that agent still stops its tasks', async () => {
    // A scripted agent speaking the protocol, so the window between `leaving` and the close is
    // held open as long as a real agent's may be (tasks get killGrace to stop; results wait for acks).
    const server = await startServer({ extraArgs: SERVER_ARGS });
    servers.push(server);
    agents.push(startAgent(server.url, server.joinToken, { name: 'lc-b', cpu: '4', priceHour: 2 }));
    const joined = await fetch(`${server.url}/v1/agents/join`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.joinToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ node: 'lc-leaver' }),
    });
    expect(joined.status).toBe(201);
    const { credential } = (await joined.json()) as { credential: string };
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/v1/agents/connect`, { headers: { authorization: `Bearer ${credential}` } });
    const send = (message: Record<string, unknown>) => ws.send(JSON.stringify(message));
    const assigned: { attemptId: string; epoch: number; taskId: string }[] = [];
    let leaving = false;
    const assignedAfterLeaving: string[] = [];
    let beat: NodeJS.Timeout | undefined;
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString()) as { type: string; heartbeatMs?: number; attempts?: { attemptId: string; epoch: number; taskId: string }[] };
      if (message.type === 'welcome') {
        const heartbeat = () => send({ type: 'heartbeat', usage: { runningAttempts: assigned.length, cpuMillis: 0, memoryBytes: 0, loadAvg1: 0 } });
        heartbeat();
        beat = setInterval(heartbeat, message.heartbeatMs);
      } else if (message.type === 'attempts.run') {
        for (const a of message.attempts ?? []) {
          if (leaving) assignedAfterLeaving.push(a.attemptId);
          else assigned.push(a);
        }
        if (!leaving) send({ type: 'attempts.started', attempts: (message.attempts ?? []).map((a) => ({ attemptId: a.attemptId, epoch: a.epoch, startedAt: Date.now() })) });
      }
    });
    try {
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      send({
        type: 'hello', protocol: 1, agentVersion: 'scripted', running: [], finished: [],
        node: { name: 'lc-leaver', provider: 'local', region: 'test', zone: '', site: '', kind: 'cloud', jurisdiction: 'DE', cpu: 4000, memory: 8 * 2 ** 30, priceHour: 0.01, labels: {}, rttMs: {} },
      });
      await waitForReadyNodes(server.client, 2);
      await server.client.cordonNode('lc-b');
      const job = await server.client.submitJob({ name: 'leaving', tasks: 3, command: ['sleep', '30'], resources: { cpu: 0.5 } });
      await allRunningOn(server, job.id, 'lc-leaver', 3);
      await server.client.uncordonNode('lc-b');

      // What Agent.stop() does: say it is leaving, then report each attempt it stopped as cancelled.
      leaving = true;
      send({ type: 'leaving' });
      const now = Date.now();
      send({ type: 'attempts.results', results: assigned.map((a) => ({ attemptId: a.attemptId, epoch: a.epoch, outcome: 'cancelled', exitCode: null, reason: 'agent is shutting down', startedAt: now - 100, finishedAt: now })) });
      // A real agent may stay connected this long (a task using its kill grace, results awaiting acks).
      await new Promise((r) => setTimeout(r, 1500));
      clearInterval(beat);
      ws.close(1000, 'agent stopping');
      await waitFor(async () => ((await server.client.getNode('lc-leaver')).state === 'left' ? true : undefined), 10_000, 'lc-leaver to be left');
      const onB = await allRunningOn(server, job.id, 'lc-b', 3);
      expect(onB.every((t) => t.losses === 0)).toBe(true);
      expect(assignedAfterLeaving, 'attempts the control plane sent to the leaving node').toEqual([]);
      const placed = (await events(server)).filter((e) => e.type === 'task.placed' && e.jobId === job.id).map((e) => e.node);
      expect(placed).toEqual(['lc-leaver', 'lc-leaver', 'lc-leaver', 'lc-b', 'lc-b', 'lc-b']);
      await server.client.cancelJob(job.id);
    } finally {
      clearInterval(beat);
      ws.close();
    }
  });

  it('refuses a bad drain with the field named and an unknown node with 404, changing nothing', async () => {
    const server = await fleet('lc-a');
    const before = await lastSeq(server);
    const post = async (path: string, body?: unknown) => {
      const response = await fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${server.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: response.status, error: ((await response.json()) as { error: { code: string; message: string; problems?: { path: string; message: string }[] } }).error };
    };

    const soon = await post('/v1/nodes/lc-a/drain', { deadline: 'soon' });
    expect(soon.status).toBe(400);
    expect(soon.error.code).toBe('invalid_request');
    expect(soon.error.problems?.map((p) => p.path)).toEqual(['deadline']);
    expect(soon.error.message).toContain('deadline');

    const unknownField = await post('/v1/nodes/lc-a/drain', { deadline: '1m', force: true });
    expect(unknownField.status).toBe(400);
    expect(unknownField.error.problems).toEqual([{ path: 'force', message: expect.stringContaining('unknown field') }]);

    for (const action of ['drain', 'cordon', 'uncordon']) {
      const missing = await post(`/v1/nodes/no-such-node/${action}`, action === 'drain' ? { deadline: '0s' } : undefined);
      expect(missing.status, action).toBe(404);
      expect(missing.error.code).toBe('not_found');
      expect(missing.error.message).toContain('no-such-node');
    }

    const fromCli = await runCli(server, 'node', 'drain', 'lc-a', '--deadline', 'soon');
    expect(fromCli.code).not.toBe(0);
    expect(fromCli.stderr).toContain('deadline');

    expect(await server.client.getNode('lc-a')).toMatchObject({ state: 'ready', cordoned: false, drainDeadline: null });
    expect((await events(server, before)).filter((e) => e.type.startsWith('node.'))).toEqual([]);
    // Still placeable.
    const job = await server.client.submitJob({ name: 'still-ready', tasks: 2, command: ['true'] });
    expect((await waitForJobEnd(server.client, job.id, 20_000)).state).toBe('succeeded');
  });
});
