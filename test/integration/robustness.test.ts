import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSse } from '../../src/client/sse-reader.js';
import { startAgent, startServer, waitFor, waitForJobEnd, waitForReadyNodes, type Proc, type ServerProc } from '../harness/processes.js';

// Inputs and faults found in review that once crashed the control plane or looped forever.
describe('robustness', () => {
  let server: ServerProc;
  let agent: Proc;

  beforeAll(async () => {
    // 500 ms, not 200: on a loaded machine, taking in ~10 MB of assignments (now over TLS) could
    // keep the agent silent past 3 beats and lose the node mid-test (as batch-jobs found).
    server = await startServer({ extraArgs: ['--heartbeat', '500ms'] });
    agent = startAgent(server.url, server.joinToken, { name: 'sturdy', cpu: '4' });
    await waitForReadyNodes(server.client, 1);
  });

  afterAll(async () => {
    await agent?.kill('SIGKILL');
    await server?.kill('SIGKILL');
  });

  it('survives a peer that resets the connection during a refused WebSocket upgrade', async () => {
    for (let i = 0; i < 20; i += 1) {
      await new Promise<void>((resolve) => {
        const socket = connect(server.port, '127.0.0.1', () => {
          socket.write(
            'GET /v1/agents/connect HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
              'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer nope\r\n\r\n',
          );
          socket.resetAndDestroy();
          resolve();
        });
        socket.on('error', () => resolve());
      });
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(server.child.exitCode).toBeNull();
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('fails a task whose failure reason is huge, once, instead of looping', async () => {
    const program = `/no/such/${'x/'.repeat(1500)}program`;
    const job = await server.client.submitJob({ name: 'long-reason', command: [program] });
    const done = await waitForJobEnd(server.client, job.id, 20_000);
    expect(done.state).toBe('failed');
    const task = await server.client.getTask(`${job.id}.0`);
    expect(task.attempts).toBe(1);
    expect(task.reason!.length).toBeLessThanOrEqual(2000);
    expect(task.reason).toContain('[truncated]');
    expect(agent.child.exitCode).toBeNull();
  });

  it('delivers many large assignments to one node in several messages', async () => {
    // 80 tasks of about 120 KB each, all placed in one round: 9.6 MB for one node, over the
    // agent's 8 MiB message limit unless the control plane splits the run.
    const env = Object.fromEntries(['A', 'B', 'C', 'D'].map((k) => [k, 'x'.repeat(30_000)]));
    const job = await server.client.submitJob({ name: 'big-env', tasks: 80, command: ['sh', '-c', 'test ${#D} -eq 30000'], env, resources: { cpu: 0.05 } });
    const done = await waitForJobEnd(server.client, job.id, 30_000);
    expect(done.state).toBe('succeeded');
    const tasks = await server.client.allTasks(job.id);
    expect(tasks.every((t) => t.attempts === 1)).toBe(true);
  });

  it('refuses a spec whose command and env exceed what one attempt may carry', async () => {
    const error = await server.client.submitJob({ name: 'too-big', command: ['true'], env: { A: 'x'.repeat(30_000), B: 'x'.repeat(30_000), C: 'x'.repeat(30_000), D: 'x'.repeat(30_000), E: 'x'.repeat(30_000) } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 400, problems: [{ path: 'env', message: expect.stringMatching(/at most 131072/) }] });
  });

  it('does not let a queue of unplaceable tasks starve the jobs behind it', async () => {
    const stuck = await server.client.submitJob({ name: 'needs-gpu', tasks: 2500, command: ['true'], placement: { require: [{ key: 'gpu', operator: 'Exists' }] } });
    const behind = await server.client.submitJob({ name: 'behind', tasks: 3, command: ['true'] });
    expect((await waitForJobEnd(server.client, behind.id, 20_000)).state).toBe('succeeded');
    expect((await server.client.getJob(stuck.id)).state).toBe('pending');
    expect((await server.client.getTask(`${stuck.id}.2499`)).state).toBe('pending');
    await server.client.cancelJob(stuck.id);
  });

  it('drops a silent agent connection and takes the agent back when it wakes', async () => {
    agent.child.kill('SIGSTOP');
    try {
      await waitFor(async () => ((await server.client.getNode('sturdy')).state === 'unreachable' ? true : undefined), 10_000, 'the node to turn unreachable');
    } finally {
      agent.child.kill('SIGCONT');
    }
    await waitFor(async () => ((await server.client.getNode('sturdy')).state === 'ready' ? true : undefined), 15_000, 'the node to be ready again');
    const job = await server.client.submitJob({ name: 'after-wake', command: ['true'] });
    expect((await waitForJobEnd(server.client, job.id)).state).toBe('succeeded');
  });
});

describe('shutdown', () => {
  it('stops promptly on SIGTERM while a client follows the event stream', async () => {
    const server = await startServer();
    const controller = new AbortController();
    const response = await fetch(`${server.url}/v1/events?follow=true`, { headers: { authorization: `Bearer ${server.adminToken}` }, signal: controller.signal });
    const reading = (async () => {
      for await (const _ of readSse(response.body!)) {
        // Drain until the server ends the stream.
      }
    })().catch((error: unknown) => error);
    const started = Date.now();
    expect(await server.kill('SIGTERM')).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
    controller.abort();
    await reading;
  });
});
