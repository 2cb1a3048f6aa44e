import { open, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

// File helpers the agent's durable stores share (the result journal, the partition store), and
// what serving and fetching partitions share about small files.

/**
 * Files up to this size are read or written whole, in memory, with synchronous calls: on the
 * event loop that costs a few microseconds per call, while each asynchronous call is a round trip
 * through the thread pool, which dominated serving and fetching thousands of small partitions.
 */
export const SMALL_FILE_BYTES = 64 * 1024;

/** fsync of a file or a directory (so a rename in it survives a power cut). */
export async function syncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes the first `length` bytes of `buffer` at `position` (null: at the file's current offset).
 * A write may be short (a signal, a nearly full disk); the rest must follow or the data is torn.
 */
export async function writeAll(handle: FileHandle, buffer: Uint8Array, length = buffer.length, position: number | null = null): Promise<void> {
  let offset = 0;
  while (offset < length) {
    const { bytesWritten } = await handle.write(buffer, offset, length - offset, position === null ? null : position + offset);
    offset += bytesWritten;
  }
}

/** The file's bytes, or null when there is no such file. */
export async function readIfExists(file: string): Promise<Buffer | null> {
  try {
    return await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** Writes `data` to `<file>.tmp` and fsyncs it, ready to be renamed over `file`; returns that path. Nothing is left on failure. */
export async function writeAside(file: string, data: Uint8Array, mode = 0o600): Promise<string> {
  const temp = `${file}.tmp`;
  const handle = await open(temp, 'w', mode);
  try {
    await writeAll(handle, data);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  return temp;
}

/** Replaces `file` with `data` so that a crash leaves the old or the new content, never a mix: aside, fsync, rename, fsync of the directory. */
export async function replaceFile(file: string, data: Uint8Array, mode = 0o600): Promise<void> {
  await rename(await writeAside(file, data, mode), file);
  await syncPath(dirname(file));
}
