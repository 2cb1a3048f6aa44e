// 1 MiB buffers reused across transfers, so moving a large partition allocates nothing per chunk
// and leaves the garbage collector idle. Each lives in its own SharedArrayBuffer: the hash worker
// reads a block where it lies instead of getting a copy.

/** The size of every pooled buffer: large enough that one disk write or socket write per MiB suffices. */
export const BLOCK_BYTES = 1 << 20;
/** Free buffers kept for reuse; more than this many go back to the garbage collector. */
const MAX_FREE = 32;

const free: Buffer[] = [];

/** A buffer of BLOCK_BYTES, from the pool when one is free. Its contents are whatever was there. */
export function takeBlock(): Buffer {
  return free.pop() ?? Buffer.from(new SharedArrayBuffer(BLOCK_BYTES));
}

/** Hands a buffer from takeBlock back; the caller must not touch it again. */
export function returnBlock(block: Buffer): void {
  if (free.length < MAX_FREE) free.push(block);
}
