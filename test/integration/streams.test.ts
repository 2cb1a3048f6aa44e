import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventRecord, LogChunk } from '../../src/core/types.js';
import { startAgent, startServer, waitForJobEnd, waitForReadyNodes, type Proc, type ServerProc } from '../harness/processes.js';

async function collect(url: string, token: string, headers: Record<string, string>, until: (event: string, data: string) => boolean): Promise<{ event: string; data: string; id?: string }[]> {
  const { readSse } = await import('../../src/client/sse-reader.js');
  const controller = new AbortController();
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', ...headers }, signal: controller.signal });
  expect(response.headers.get('content-type')).toContain('text/event-stream');
  const out: { event: string; data: string; id?: string }[] = [];
  for await (const message of readSse(response.body!)) {
    out.push({ event: message.event, data: message.data, ...(message.id === undefined ? {} : { id: message.id }) });
    if (until(message.event, message.data)) break;
  }
  controller.abort();
  return out;
}

describe('live streams', () => {
  let server: ServerProc;
  let agent: Proc;

  beforeAll(async () => {
    server = await startServer();
    agent = startAgent(server.url, server.joinToken, { name: 'streamer' });
    await waitForReadyNodes(server.client, 1);
  });

  afterAll(async () => {
    await agent?.kill('SIGKILL');
    await server?.kill('SIGKILL');
  });

  it('replays the event log from a point, marks when it caught up, then goes live', async () => {
    const first = await server.client.submitJob({ name: 'first', command: ['true'] });
    await waitForJobEnd(server.client, first.id);
    const { items } = await server.client.listEvents();
    const middle = items[Math.floor(items.length / 2)]!.seq;

    // Resume from Last-Event-ID, as a reconnecting EventSource does.
    const streamed = collect(`${server.url}/v1/events?follow=true`, server.adminToken, { 'last-event-id': String(middle) }, (event, data) =>
      event === 'job.finished' && (JSON.parse(data) as EventRecord).data.state === 'succeeded' && (JSON.parse(data) as EventRecord).jobId !== first.id);
    await new Promise((r) => setTimeout(r, 300));
    const second = await server.client.submitJob({ name: 'second', command: ['true'] });
    const messages = await streamed;

    const caughtUp = messages.findIndex((m) => m.event === 'caught-up');
    expect(caughtUp).toBeGreaterThan(0);
    const replayed = messages.slice(0, caughtUp).map((m) => JSON.parse(m.data) as EventRecord);
    expect(replayed.map((e) => e.seq)).toEqual(items.filter((e) => e.seq > middle).map((e) => e.seq));
    const live = messages.slice(caughtUp + 1).map((m) => JSON.parse(m.data) as EventRecord);
    expect(live.map((e) => e.type)).toEqual(expect.arrayContaining(['job.submitted', 'task.placed', 'attempt.finished', 'job.finished']));
    expect(live.every((e) => e.jobId === second.id)).toBe(true);
    const seqs = messages.filter((m) => m.event !== 'caught-up').map((m) => Number(m.id));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
  });

  it('follows a running task\'s output until it ends', async () => {
    const job = await server.client.submitJob({ name: 'chatty', command: ['sh', '-c', 'for i in 1 2 3 4; do echo line $i; sleep 0.2; done'] });
    const messages = await collect(`${server.url}/v1/tasks/${job.id}.0/logs?follow=true`, server.adminToken, {}, (event) => event === 'end');
    const text = messages.filter((m) => m.event === 'log').map((m) => (JSON.parse(m.data) as LogChunk).data).join('');
    expect(text).toBe('line 1\nline 2\nline 3\nline 4\n');
    expect(JSON.parse(messages.at(-1)!.data)).toEqual({ state: 'succeeded' });
  });

  it('answers JSON when follow=false even if the client accepts a stream', async () => {
    const job = await server.client.submitJob({ name: 'plain', command: ['echo', 'hi'] });
    await waitForJobEnd(server.client, job.id);
    const response = await fetch(`${server.url}/v1/tasks/${job.id}.0/logs?follow=false`, {
      headers: { authorization: `Bearer ${server.adminToken}`, accept: 'text/event-stream' },
    });
    expect(response.headers.get('content-type')).toContain('application/json');
    const body = (await response.json()) as { items: LogChunk[] };
    expect(body.items.map((c) => c.data).join('')).toBe('hi\n');
  });
});
