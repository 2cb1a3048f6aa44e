import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BlockWriter } from './block-writer.js';
import { inlineHasher, type BlockHasher } from './hash-worker.js';
import type { BodySink } from './http-get.js';
import { plainHttpGet } from './plain-http-get.js';

// What the lean client refuses, against a raw TCP server on loopback that answers with exactly the
// bytes a test gives it (the shared behaviour of both clients is in http-get.test.ts).

let server: Server | undefined;
let requests: string[];

/** Listens; every connection gets `answer` written in the pieces given, then what `after` does. */
async function answering(pieces: readonly (string | Buffer)[], after: (socket: Socket) => void = (socket) => socket.end()): Promise<URL> {
  requests = [];
  server = createServer((socket) => {
    socket.once('data', async (data) => {
      requests.push(data.toString('latin1'));
      for (const piece of pieces) {
        socket.write(piece);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      after(socket);
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  return new URL(`http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/v1/data/default/readings/berlin?x=1`);
}

afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

const never = new AbortController().signal;
const collect = (): BodySink & { text: () => string } => {
  const chunks: Buffer[] = [];
  return { write: (chunk) => void chunks.push(Buffer.from(chunk)), text: () => Buffer.concat(chunks).toString() };
};

describe('plainHttpGet', () => {
  it('sends one request with its headers and reads a head and body that come in pieces', async () => {
    const url = await answering(['HTT', 'P/1.1 200 OK\r\nContent-Le', 'ngth: 11\r\nX-Other: y\r\n', '\r\nhello', ' world']);
    const response = await plainHttpGet(url, { authorization: 'Bearer t' }, never);
    const sink = collect();
    expect(await response.readBody(sink)).toBe(11);
    response.close();
    expect(sink.text()).toBe('hello world');
    expect(requests[0]).toBe(`GET /v1/data/default/readings/berlin?x=1 HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\nauthorization: Bearer t\r\n\r\n`);
  });

  it.each([
    ['as fast as it can', 0],
    ['through pauses while every block is out', 2],
  ])('reads a body straight into the memory of a sink that offers it, %s', async (_how, slowMs) => {
    const body = randomBytes(6 * 1024 * 1024 + 3);
    const url = await answering([Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`), body.subarray(0, 1000)]), body.subarray(1000), Buffer.from('trailing junk')]);
    const path = join(mkdtempSync(join(tmpdir(), 'atoll-plain-get-')), 'out');
    const inline = inlineHasher();
    // With slowMs, each block's hash settles later, so the writer fills up and the socket must wait.
    const hasher: BlockHasher = { ...inline, update: (block, length) => (inline.update(block, length), slowMs > 0 ? new Promise((resolve) => setTimeout(resolve, slowMs)) : undefined) };
    const writer = await BlockWriter.create(path, { hasher, limit: body.length, tooLarge: () => new Error('too large') });
    let copied = 0;
    let inPlace = 0;
    const sink: BodySink = {
      write: (chunk) => ((copied += chunk.length), writer.write(chunk)),
      reserve: () => writer.reserve(),
      commit: (n) => ((inPlace += n), writer.commit(n)),
      ready: () => writer.ready(),
    };
    const response = await plainHttpGet(url, {}, never);
    expect(await response.readBody(sink)).toBe(body.length);
    response.close();
    expect(await writer.finish()).toEqual({ bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') });
    await writer.close();
    expect(readFileSync(path).equals(body)).toBe(true);
    expect(copied + inPlace).toBe(body.length);
    // Only what came with the head, and the first read after each pause, is copied.
    expect(inPlace).toBeGreaterThan(body.length / 2);
  });

  it('stops at the Content-Length even if more comes', async () => {
    const url = await answering(['HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello and more']);
    const response = await plainHttpGet(url, {}, never);
    const sink = collect();
    expect(await response.readBody(sink)).toBe(5);
    expect(sink.text()).toBe('hello');
  });

  it('refuses a chunked body', async () => {
    const url = await answering(['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n']);
    const response = await plainHttpGet(url, {}, never);
    await expect(response.readBody(collect())).rejects.toMatchObject({ code: 'unavailable', message: expect.stringContaining('chunked') });
    response.close();
  });

  it('refuses a body without a Content-Length, but reads an error text to the connection end', async () => {
    const url = await answering(['HTTP/1.1 200 OK\r\n\r\nno length']);
    const response = await plainHttpGet(url, {}, never);
    await expect(response.readBody(collect())).rejects.toMatchObject({ message: expect.stringContaining('no Content-Length') });
    response.close();
    const refusal = await plainHttpGet(url, {}, never);
    expect(await refusal.readText(4096)).toBe('no length');
  });

  it.each([
    ['not HTTP', 'SSH-2.0-OpenSSH\r\n\r\n', /did not answer with HTTP/],
    ['two lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello', /invalid Content-Length/],
    ['a length that is no number', 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', /invalid Content-Length/],
    ['a header line without a colon', 'HTTP/1.1 200 OK\r\nbroken\r\n\r\n', /malformed header/],
    ['a head that never ends', `HTTP/1.1 200 OK\r\n${'X-Pad: y\r\n'.repeat(2000)}`, /head longer than/],
  ])('refuses a response with %s', async (_what, answer, message) => {
    const url = await answering([answer], () => undefined);
    await expect(plainHttpGet(url, {}, never)).rejects.toMatchObject({ code: 'unavailable', message: expect.stringMatching(message) });
  });

  it('says when the holder hangs up before answering', async () => {
    const url = await answering([]);
    await expect(plainHttpGet(url, {}, never)).rejects.toMatchObject({ message: expect.stringContaining('closed the connection before it answered') });
  });

  it('fails a body cut short after the head came with part of it', async () => {
    const url = await answering(['HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this']);
    const response = await plainHttpGet(url, {}, never);
    await expect(response.readBody(collect())).rejects.toMatchObject({ message: expect.stringMatching(/ended after 9 of 100 bytes/) });
  });

  it('refuses https and header values that would split the request', async () => {
    await expect(plainHttpGet(new URL('https://127.0.0.1/x'), {}, never)).rejects.toMatchObject({ code: 'invalid_request' });
    const url = await answering(['HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n']);
    await expect(plainHttpGet(url, { authorization: 'Bearer t\r\nX-Evil: 1' }, never)).rejects.toMatchObject({ code: 'invalid_request' });
    expect(requests).toEqual([]);
  });

  it('stops before connecting when the signal has already aborted', async () => {
    const url = await answering(['HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n']);
    const halt = new AbortController();
    halt.abort(new Error('cancelled'));
    await expect(plainHttpGet(url, {}, halt.signal)).rejects.toThrow('cancelled');
  });
});
