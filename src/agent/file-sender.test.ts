import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, get, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BLOCK_BYTES } from './buffer-pool.js';
import { sendFile } from './file-sender.js';

// A real file sent by a real node:http server on loopback, read back by a real client.

let server: Server | undefined;
let sent: Promise<void>[];

/** Serves `path` claiming `bytes` bytes, whatever the file really holds; a failure before the head is answered 500. */
async function serving(path: string, bytes: number): Promise<string> {
  sent = [];
  server = createServer((_req, res) => {
    const sending = sendFile(res, path, bytes, { 'content-type': 'application/octet-stream', 'content-length': String(bytes) });
    sent.push(sending);
    sending.catch(() => res.writeHead(500, { 'content-length': '0' }).end());
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`;
}

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

/** The body as received, whether the response completed, and its headers. */
function fetchBody(url: string, options: { readonly slowMs?: number; readonly stopAfter?: number } = {}): Promise<{ status: number; body: Buffer; complete: boolean; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
        if (options.stopAfter !== undefined && size >= options.stopAfter) res.destroy();
        else if (options.slowMs !== undefined) {
          res.pause();
          setTimeout(() => res.resume(), options.slowMs);
        }
      });
      const done = () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), complete: res.complete, headers: res.headers });
      res.on('end', done);
      res.on('close', done);
      res.on('error', () => undefined);
    }).on('error', reject);
  });
}

const file = (data: Buffer) => {
  const path = join(mkdtempSync(join(tmpdir(), 'atoll-file-sender-')), 'object');
  writeFileSync(path, data);
  return path;
};

describe('sendFile', () => {
  it.each([0, 1, 4096, BLOCK_BYTES, 3 * BLOCK_BYTES + 5])('sends a file of %i bytes whole, with the headers given', async (size) => {
    const data = randomBytes(size);
    const url = await serving(file(data), size);
    const got = await fetchBody(url);
    expect(got.complete).toBe(true);
    expect(got.headers).toMatchObject({ 'content-length': String(size), 'content-type': 'application/octet-stream' });
    expect(got.body.equals(data)).toBe(true);
    await Promise.all(sent);
  });

  it('keeps pace with a slow reader and still sends every byte', async () => {
    const data = randomBytes(4 * BLOCK_BYTES);
    const url = await serving(file(data), data.length);
    const got = await fetchBody(url, { slowMs: 1 });
    expect(got.body.equals(data)).toBe(true);
  });

  it('cuts the response short when a large file is shorter than claimed', async () => {
    const data = randomBytes(BLOCK_BYTES + 100);
    const url = await serving(file(data), data.length + 500);
    const got = await fetchBody(url);
    expect(got.complete).toBe(false);
    expect(got.body.equals(data)).toBe(true);
    await Promise.all(sent);
  });

  it('fails a small file shorter than claimed before sending anything', async () => {
    const url = await serving(file(Buffer.from('short')), 100);
    expect(await fetchBody(url)).toMatchObject({ status: 500, complete: true });
    await expect(sent[0]).rejects.toThrow('holds 5 of its 100 bytes');
  });

  it.each([1000, BLOCK_BYTES + 1])('sends no more than claimed of a longer file (%i bytes claimed)', async (claimed) => {
    const data = randomBytes(2 * BLOCK_BYTES);
    const url = await serving(file(data), claimed);
    const got = await fetchBody(url);
    expect(got.complete).toBe(true);
    expect(got.body.equals(data.subarray(0, claimed))).toBe(true);
  });

  it('finishes when the reader hangs up mid-body', async () => {
    const data = randomBytes(64 * BLOCK_BYTES);
    const url = await serving(file(data), data.length);
    const got = await fetchBody(url, { stopAfter: BLOCK_BYTES });
    expect(got.complete).toBe(false);
    // Resolves (buffers back in the pool, file closed) rather than waiting for a socket that is gone.
    await Promise.all(sent);
  });

  it('fails before sending anything when the file is missing', async () => {
    const url = await serving('/nonexistent/object', 10);
    // The server could still answer with an error status: no head had gone out.
    expect(await fetchBody(url)).toMatchObject({ status: 500, complete: true });
    await expect(sent[0]).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
