import { open } from 'node:fs/promises';
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { BLOCK_BYTES, returnBlock, takeBlock } from './buffer-pool.js';

// Sends a stored object as a response body: reads of 1 MiB into two pooled buffers, one filling
// from the disk while the other goes out on the socket (double buffering). A buffer is read into
// again only once the socket has taken it all (its write callback), which is also the backpressure:
// a slow reader holds at most two buffers of this response in memory. No read stream: its 64 KiB
// chunks, fresh buffers and pipe plumbing cost the holder more CPU than the copy itself.

/**
 * Answers 200 with `headers` and exactly `bytes` bytes of `path` as the body. A file that cannot be
 * opened fails before anything is sent; one shorter than `bytes`, or a read error, destroys the
 * response: the reader sees a body cut short rather than a wrong one. Resolves once the response
 * is done or gone.
 */
export async function sendFile(res: ServerResponse, path: string, bytes: number, headers: OutgoingHttpHeaders): Promise<void> {
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
