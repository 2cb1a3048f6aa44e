import { EventEmitter } from 'node:events';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { openSse } from './sse.js';

/** Just enough of Fastify's request and reply for openSse: a raw response that never drains. */
function fakes() {
  const written: string[] = [];
  const raw = {
    writableLength: 0,
    ended: false,
    writeHead: () => raw,
    write(chunk: string) {
      written.push(chunk);
      raw.writableLength += Buffer.byteLength(chunk);
      return false;
    },
    end() {
      raw.ended = true;
    },
  };
  const warnings: unknown[] = [];
  const request = { raw: new EventEmitter(), log: { warn: (...args: unknown[]) => warnings.push(args) } } as unknown as FastifyRequest;
  const reply = { hijack: () => undefined, raw } as unknown as FastifyReply;
  return { request, reply, raw, written, warnings };
}

describe('openSse', () => {
  it('writes events with ids in the text/event-stream format', () => {
    const { request, reply, written } = fakes();
    const stream = openSse(request, reply);
    stream.send('job.finished', { ok: true }, 42);
    expect(written.at(-1)).toBe('id: 42\nevent: job.finished\ndata: {"ok":true}\n\n');
    stream.end();
  });

  it('ends the stream of a client that stops reading instead of buffering without bound', () => {
    const { request, reply, raw, warnings } = fakes();
    const stream = openSse(request, reply);
    let closedBy = 0;
    stream.onClose(() => (closedBy += 1));
    const big = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 200 && !stream.closed; i += 1) stream.send('log', { data: big }, i);
    expect(stream.closed).toBe(true);
    expect(raw.ended).toBe(true);
    expect(raw.writableLength).toBeLessThan(9 * 1024 * 1024);
    expect(closedBy).toBe(1);
    expect(warnings).toHaveLength(1);
    const before = raw.writableLength;
    stream.send('log', { data: big }, 999);
    expect(raw.writableLength).toBe(before);
  });

  it('runs close handlers once when the client goes away', () => {
    const { request, reply } = fakes();
    const stream = openSse(request, reply);
    let closed = 0;
    stream.onClose(() => (closed += 1));
    request.raw.emit('close');
    request.raw.emit('close');
    expect(closed).toBe(1);
    expect(stream.closed).toBe(true);
  });
});
