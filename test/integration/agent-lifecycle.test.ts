import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, startAgent, startServer, tempDir, waitFor, waitForJobEnd, waitForReadyNodes, type Proc } from '../harness/processes.js';

describe('agent lifecycle', () => {
  const procs: Proc[] = [];
  afterEach(async () => {
    await Promise.all(procs.splice(0).map((p) => p.kill('SIGKILL')));
  });

  it('joins once the server is up when started before it, and reuses its credential on restart', async () => {
    // First start creates the tokens; stop it so the agent comes up with no server to talk to.
    const dataDir = tempDir('late-server');
    const port = await freePort();
    const first = await startServer({ dataDir, port });
    await first.kill('SIGTERM');
    const joinToken = readFileSync(join(dataDir, 'join.token'), 'utf8').trim();

    const agentDir = tempDir('early-agent');
    const agent = startAgent(`https://127.0.0.1:${port}`, joinToken, { name: 'early-bird' }, agentDir);
    procs.push(agent);
    await new Promise((r) => setTimeout(r, 1500));
    expect(agent.child.exitCode).toBeNull();
    expect(existsSync(join(agentDir, 'node-credential.json'))).toBe(false);

    const server = await startServer({ dataDir, port });
    procs.push(server);
    await waitForReadyNodes(server.client, 1);
    const credentialFile = join(agentDir, 'node-credential.json');
    expect(statSync(credentialFile).mode & 0o777).toBe(0o600);
    const credential = readFileSync(credentialFile, 'utf8');

    // Restart the agent without the join token: it must come back on its saved credential.
    await agent.kill('SIGTERM');
    await waitFor(async () => ((await server.client.getNode('early-bird')).state !== 'ready' ? true : undefined), 10_000, 'node to leave ready');
    const again = startProcess2(server.url, agentDir);
    procs.push(again);
    await waitForReadyNodes(server.client, 1);
    expect(readFileSync(credentialFile, 'utf8')).toBe(credential);
    const job = await server.client.submitJob({ name: 'after-restart', tasks: 3, command: ['true'] });
    expect((await waitForJobEnd(server.client, job.id)).state).toBe('succeeded');
  });

  it('finishes a job after the control plane is killed with SIGKILL and restarted, counting each task once', async () => {
    const dataDir = tempDir('crash');
    const port = await freePort();
    let server = await startServer({ dataDir, port, extraArgs: ['--heartbeat', '200ms'] });
    procs.push(server);
    for (const name of ['crash-a', 'crash-b']) procs.push(startAgent(server.url, server.joinToken, { name, cpu: '2' }));
    await waitForReadyNodes(server.client, 2);
    const job = await server.client.submitJob({ name: 'survivor', tasks: 30, command: ['sh', '-c', 'sleep 0.3; echo done $ATOLL_TASK_INDEX'], resources: { cpu: 0.25 } });
    await waitFor(async () => ((await server.client.getJob(job.id)).counts.succeeded >= 5 ? true : undefined), 20_000, 'some tasks to finish');

    await server.kill('SIGKILL');
    server = await startServer({ dataDir, port, extraArgs: ['--heartbeat', '200ms'] });
    procs.push(server);
    const done = await waitForJobEnd(server.client, job.id, 60_000);
    expect(done.state).toBe('succeeded');
    expect(done.counts.succeeded).toBe(30);
    const tasks = await server.client.allTasks(job.id);
    expect(tasks.every((t) => t.state === 'succeeded')).toBe(true);
    const events = (await server.client.listEvents({ job: job.id, limit: 10_000 })).items;
    const succeededPerTask = new Map<string, number>();
    for (const e of events) {
      if (e.type === 'attempt.finished' && e.data.outcome === 'succeeded') succeededPerTask.set(e.taskId!, (succeededPerTask.get(e.taskId!) ?? 0) + 1);
    }
    expect(succeededPerTask.size).toBe(30);
    expect([...succeededPerTask.values()].every((n) => n === 1)).toBe(true);
  });
});

function startProcess2(serverUrl: string, agentDir: string): Proc {
  // No --join-token: only the saved credential can get this agent in.
  return startAgent(serverUrl, '', { name: 'early-bird' }, agentDir);
}

describe('output across a control-plane outage', () => {
  it('keeps what a task printed while the control plane was down', async () => {
    const dataDir = tempDir('outage');
    const port = await freePort();
    let server = await startServer({ dataDir, port });
    const agent = startAgent(server.url, server.joinToken, { name: 'steady' });
    try {
      await waitForReadyNodes(server.client, 1);
      const job = await server.client.submitJob({ name: 'outage', command: ['sh', '-c', 'echo before; sleep 1.5; echo during; sleep 1.5; echo after'] });
      await waitFor(async () => ((await server.client.getLogs(`${job.id}.0`)).items.length > 0 ? true : undefined), 10_000, 'the first line');
      await server.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 1000));
      server = await startServer({ dataDir, port });
      const done = await waitForJobEnd(server.client, job.id, 30_000);
      expect(done.state).toBe('succeeded');
      const task = await server.client.getTask(`${job.id}.0`);
      expect(task.attempts).toBe(1);
      const text = (await server.client.getLogs(task.id)).items.map((c) => c.data).join('');
      expect(text).toBe('before\nduring\nafter\n');
    } finally {
      await agent.kill('SIGKILL');
      await server.kill('SIGKILL');
    }
  });
});

describe('an agent killed with SIGKILL', () => {
  it('stops the tasks it left behind when it restarts, and the work runs once more elsewhere in time', async () => {
    const server = await startServer({ extraArgs: ['--heartbeat', '200ms'] });
    const agentDir = tempDir('killed-agent');
    const marks = join(tempDir('marks'), 'marks.log');
    // Unsandboxed: the task writes marks to a host file and the test watches its host pid (a
    // sandboxed task would die with the killed agent at once, through bwrap's --die-with-parent).
    let agent = startAgent(server.url, server.joinToken, { name: 'phoenix', cpu: '1', extraArgs: ['--unsandboxed'] }, agentDir);
    try {
      await waitForReadyNodes(server.client, 1);
      const job = await server.client.submitJob({
        name: 'once-at-a-time',
        // Long enough that the restarted agent stops it first even on a loaded machine (at 2 s, a
        // slow restart under a parallel browser test let it finish).
        command: ['sh', '-c', `echo "start $ATOLL_ATTEMPT_ID $$" >> ${marks}; sleep 8; echo "end $ATOLL_ATTEMPT_ID" >> ${marks}`],
        resources: { cpu: 1 },
      });
      await waitFor(() => (existsSync(marks) && readFileSync(marks, 'utf8').includes('start') ? true : undefined), 10_000, 'the task to start');
      const firstPid = Number(readFileSync(marks, 'utf8').trim().split(' ')[2]);
      await agent.kill('SIGKILL');
      agent = startAgent(server.url, '', { name: 'phoenix', cpu: '1', extraArgs: ['--unsandboxed'] }, agentDir);
      const done = await waitForJobEnd(server.client, job.id, 30_000);
      expect(done.state).toBe('succeeded');
      const lines = readFileSync(marks, 'utf8').trim().split('\n');
      // The first attempt was stopped before it could finish; only its replacement ended.
      expect(lines.filter((l) => l.startsWith('end'))).toEqual([`end ${job.id}.0.2`]);
      expect(lines.filter((l) => l.startsWith('start')).map((l) => l.split(' ')[1])).toEqual([`${job.id}.0.1`, `${job.id}.0.2`]);
      expect(existsSync(`/proc/${firstPid}`) && !readFileSync(`/proc/${firstPid}/stat`, 'utf8').includes(') Z')).toBe(false);
      expect(agent.output()).toContain('left running by a previous agent process');
    } finally {
      await agent.kill('SIGKILL');
      await server.kill('SIGKILL');
    }
  });
});
