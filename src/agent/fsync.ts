import { open } from 'node:fs/promises';

/** fsync of a file or a directory (so a rename in it survives a power cut). */
export async function syncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
