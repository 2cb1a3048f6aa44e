// 1 MiB buffers reused across transfers, so moving a large partition allocates nothing per chunk
// and leaves the garbage collector idle. Each lives in its own SharedArrayBuffer: the hash worker
// reads a block where it lies instead of getting a copy.

/** The size of every pooled buffer: large enough that one disk write or socket write per MiB suffices. */
export const BLOCK_BYTES = 1 << 20;
/**
 * The most one write to a file takes from a block. Measured on this machine, 1 GiB written from
 * blocks another thread had just filled: in 1 MiB writes the kernel's copy took 2.8 s, in 128 or
 * 256 KiB writes 0.3-0.4 s (the cliff lies between 256 and 512 KiB).
 */
export const WRITE_PIECE_BYTES = 128 * 1024;
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
