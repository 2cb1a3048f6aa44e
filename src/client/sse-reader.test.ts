import { describe, expect, it } from 'vitest';
import { readSse, type SseMessage } from './sse-reader.js';

function streamOf(chunks: readonly (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(typeof chunk === 'string' ? encoder.encode(chunk) : chunk);
      controller.close();
    },
  });
}

async function collect(chunks: readonly (string | Uint8Array)[]): Promise<SseMessage[]> {
  const out: SseMessage[] = [];
  for await (const message of readSse(streamOf(chunks))) out.push(message);
  return out;
}

/** Every way of cutting `text` into two chunks, plus one byte per chunk. */
function splits(text: string): string[][] {
  const out: string[][] = [[text]];
  for (let i = 1; i < text.length; i += 1) out.push([text.slice(0, i), text.slice(i)]);
  out.push([...text]);
  return out;
}

const msg = (data: string, event = 'message', id: string | undefined = undefined): SseMessage => ({ event, data, id });

describe('readSse', () => {
  it.each<{ name: string; body: string; expected: SseMessage[] }>([
    { name: 'one message', body: 'data: hello\n\n', expected: [msg('hello')] },
    { name: 'named event with id', body: 'event: job.finished\nid: 42\ndata: {"a":1}\n\n', expected: [msg('{"a":1}', 'job.finished', '42')] },
    { name: 'multi-line data joined with newlines', body: 'data: line one\ndata: line two\ndata:\n\n', expected: [msg('line one\nline two\n')] },
    { name: 'no space after the colon', body: 'data:x\n\n', expected: [msg('x')] },
    { name: 'only one leading space is removed', body: 'data:  two spaces\n\n', expected: [msg(' two spaces')] },
    { name: 'colon inside the value', body: 'data: a: b\n\n', expected: [msg('a: b')] },
    { name: 'field without a colon is an empty value', body: 'data\n\n', expected: [msg('')] },
    { name: 'comments are ignored', body: ': keepalive\ndata: a\n: another\n\n', expected: [msg('a')] },
    { name: 'a comment-only block yields nothing', body: ': ping\n\n: ping\n\n', expected: [] },
    { name: 'event without data yields nothing', body: 'event: x\n\ndata: y\n\n', expected: [msg('y')] },
    { name: 'unknown fields are ignored', body: 'retry: 1000\nfoo: bar\ndata: z\n\n', expected: [msg('z')] },
    { name: 'CRLF line endings', body: 'event: e\r\nid: 7\r\ndata: a\r\ndata: b\r\n\r\n', expected: [msg('a\nb', 'e', '7')] },
    { name: 'extra blank lines between messages', body: 'data: 1\n\n\n\ndata: 2\n\n', expected: [msg('1'), msg('2')] },
    { name: 'the event type resets between messages', body: 'event: special\ndata: a\n\ndata: b\n\n', expected: [msg('a', 'special'), msg('b')] },
    { name: 'each message carries its own id', body: 'id: 1\ndata: a\n\nid: 2\ndata: b\n\n', expected: [msg('a', 'message', '1'), msg('b', 'message', '2')] },
    { name: 'an unterminated last message is dropped', body: 'data: done\n\ndata: partial\n', expected: [msg('done')] },
    { name: 'empty body', body: '', expected: [] },
  ])('$name', async ({ body, expected }) => {
    expect(await collect([body])).toEqual(expected);
  });

  it.each([
    'event: a\ndata: one\ndata: two\n\n: c\ndata: three\n\n',
    'event: a\r\ndata: one\r\ndata: two\r\n\r\n: c\r\ndata: three\r\n\r\n',
  ])('gives the same messages however the body is split: %j', async (body) => {
    const expected = [msg('one\ntwo', 'a'), msg('three')];
    for (const chunks of splits(body)) expect(await collect(chunks), JSON.stringify(chunks)).toEqual(expected);
  });

  it('decodes a multi-byte character split across chunks', async () => {
    const bytes = new TextEncoder().encode('data: Zürich 🌍\n\n');
    const expected = [msg('Zürich 🌍')];
    for (let i = 1; i < bytes.length; i += 1) {
      expect(await collect([bytes.slice(0, i), bytes.slice(i)])).toEqual(expected);
    }
  });

  it('yields messages as they arrive, before the stream ends', async () => {
    const encoder = new TextEncoder();
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
    const reader = readSse(body);
    controller.enqueue(encoder.encode('data: first\n\ndata: sec'));
    expect(await reader.next()).toEqual({ done: false, value: msg('first') });
    controller.enqueue(encoder.encode('ond\n\n'));
    expect(await reader.next()).toEqual({ done: false, value: msg('second') });
    controller.close();
    expect(await reader.next()).toEqual({ done: true, value: undefined });
  });
});
