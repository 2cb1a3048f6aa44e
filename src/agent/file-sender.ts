import { closeSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { BLOCK_BYTES, returnBlock, takeBlock } from './buffer-pool.js';
import { SMALL_FILE_BYTES } from './file-io.js';

// Sends a stored object as a response body: reads of 1 MiB into two pooled buffers, one filling
// from the disk while the other goes out on the socket (double buffering). A buffer is read into
// again only once the socket has taken it all (its write callback), which is also the backpressure:
// a slow reader holds at most two buffers of this response in memory. No read stream: its 64 KiB
// chunks, fresh buffers and pipe plumbing cost the holder more CPU than the copy itself. A small
// object is read whole, synchronously, before the head goes out (see SMALL_FILE_BYTES).

/**
 * Answers 200 with `headers` and exactly `bytes` bytes of `path` as the body. A file that cannot be
 * opened (or a small one that is short) fails before anything is sent; past the head, a file
 * shorter than `bytes` or a read error destroys the response: the reader sees a body cut short
 * rather than a wrong one. Resolves once the response is done or gone.
 */
export async function sendFile(res: ServerResponse, path: string, bytes: number, headers: OutgoingHttpHeaders): Promise<void> {
  if (bytes <= SMALL_FILE_BYTES) {
    sendSmallFile(res, path, bytes, headers);
    return;
  }
  const handle = await open(path, 'r');
  res.writeHead(200, headers);
  if (bytes === 0) res.end();
  const buffers: Buffer[] = [];
  // Per buffer, the write that still holds it: settled when the socket took it or the response went away.
  const sending: (Promise<void> | undefined)[] = [undefined, undefined];
  const gone = new Promise<void>((resolve) => res.once('close', resolve));
  let position = 0;
  try {
    for (let turn = 0; position < bytes && !res.destroyed; turn = 1 - turn) {
      await sending[turn];
      if (res.destroyed) break;
      // The second buffer only for a file that needs it: a small object costs one.
      buffers[turn] ??= takeBlock();
      const buffer = buffers[turn]!;
      const want = Math.min(BLOCK_BYTES, bytes - position);
      const { bytesRead } = await handle.read(buffer, 0, want, position);
      if (bytesRead === 0) throw new Error(`${path} ended after ${position} of ${bytes} bytes`);
      position += bytesRead;
      const chunk = buffer.subarray(0, bytesRead);
      sending[turn] = Promise.race([
        new Promise<void>((resolve) => {
          if (position >= bytes) res.end(chunk, resolve);
          else res.write(chunk, () => resolve());
        }),
        gone,
      ]);
    }
    await Promise.all(sending);
  } catch {
    res.destroy();
    await Promise.all(sending);
  } finally {
    await handle.close();
    // Only now can neither the disk nor the socket still be using them.
    for (const buffer of buffers) returnBlock(buffer);
  }
}

/** A small object read whole before the head goes out: one shorter than `bytes` fails before anything is sent. */
function sendSmallFile(res: ServerResponse, path: string, bytes: number, headers: OutgoingHttpHeaders): void {
  const body = Buffer.allocUnsafe(bytes);
  const fd = openSync(path, 'r');
  let size = 0;
  try {
    while (size < bytes) {
      const n = readSync(fd, body, size, bytes - size, size);
      if (n === 0) break;
      size += n;
    }
  } finally {
    closeSync(fd);
  }
  if (size < bytes) throw new Error(`${path} holds ${size} of its ${bytes} bytes`);
  res.writeHead(200, headers);
  res.end(body);
}
