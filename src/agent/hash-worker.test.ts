import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BLOCK_BYTES, returnBlock, takeBlock } from './buffer-pool.js';
import { hasherFor, inlineHasher, terminateHashWorker, workerHasher, WORKER_HASH_MIN_BYTES, type BlockHasher } from './hash-worker.js';

// The shared hash worker is a real worker thread.

const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** Feeds `data` through pooled blocks, as the block writer does, waiting for each update. */
async function hashInBlocks(hasher: BlockHasher, data: Buffer): Promise<string> {
  const block = takeBlock();
  try {
    for (let at = 0; at < data.length; at += BLOCK_BYTES) {
      const length = Math.min(BLOCK_BYTES, data.length - at);
      data.copy(block, 0, at, at + length);
      await hasher.update(block, length);
    }
  } finally {
    returnBlock(block);
  }
  return hasher.digest();
}

describe('hash worker', () => {
  it('hashes like createHash, from shared blocks and from plain buffers', async () => {
    const data = randomBytes(3 * BLOCK_BYTES + 99);
    expect(await hashInBlocks(workerHasher(), data)).toBe(sha(data));
    const plain = workerHasher();
    await plain.update(data.subarray(0, 1000), 1000);
    await plain.update(Buffer.from(data.subarray(1000)), data.length - 1000);
    expect(await plain.digest()).toBe(sha(data));
    expect(await workerHasher().digest()).toBe(sha(Buffer.alloc(0)));
  });

  it('keeps concurrent hashes apart', async () => {
    const inputs = [randomBytes(2 * BLOCK_BYTES), randomBytes(BLOCK_BYTES + 1), randomBytes(10)];
    const digests = await Promise.all(inputs.map((data) => hashInBlocks(workerHasher(), data)));
    expect(digests).toEqual(inputs.map(sha));
  });

  it('fails the hashes in progress when the worker dies, and starts a new one for the next', async () => {
    const hasher = workerHasher();
    const block = takeBlock();
    await hasher.update(block, 10);
    await terminateHashWorker();
    await expect(hasher.update(block, 10)).rejects.toThrow(/hash worker exited/);
    await expect(hasher.digest()).rejects.toThrow(/hash worker exited/);
    returnBlock(block);
    const data = randomBytes(1000);
    expect(await hashInBlocks(workerHasher(), data)).toBe(sha(data));
  });

  it('writes each block where it is told, while hashing it on the other thread', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'atoll-hash-worker-')), 'out');
    const fd = openSync(path, 'w');
    const data = randomBytes(2 * BLOCK_BYTES + 5);
    const hasher = workerHasher();
    expect(hasher.writes).toBe(true);
    const block = takeBlock();
    try {
      for (let at = 0; at < data.length; at += BLOCK_BYTES) {
        const length = Math.min(BLOCK_BYTES, data.length - at);
        data.copy(block, 0, at, at + length);
        await hasher.update(block, length, { fd, position: at });
      }
      expect(await hasher.digest()).toBe(sha(data));
    } finally {
      returnBlock(block);
      closeSync(fd);
    }
    expect(readFileSync(path).equals(data)).toBe(true);
  });

  it('fails the update when the write fails', async () => {
    const hasher = workerHasher();
    // A descriptor open for reading only: the write is refused.
    const path = join(mkdtempSync(join(tmpdir(), 'atoll-hash-worker-')), 'read-only');
    closeSync(openSync(path, 'w'));
    const fd = openSync(path, 'r');
    try {
      await expect(hasher.update(Buffer.from('x'), 1, { fd, position: 0 })).rejects.toThrow(/write failed on a block: EBADF/);
    } finally {
      closeSync(fd);
      hasher.dispose();
    }
  });

  it('refuses a hash given up', async () => {
    const hasher = workerHasher();
    hasher.dispose();
    hasher.dispose();
    await expect(hasher.digest()).rejects.toThrow(/already finished or given up/);
  });

  it('hashes small partitions inline and large ones on the worker', async () => {
    const data = randomBytes(5000);
    const small = hasherFor(WORKER_HASH_MIN_BYTES - 1);
    // The inline hasher is done when update returns; the worker's answers later.
    expect(small.update(data, data.length)).toBeUndefined();
    expect(await small.digest()).toBe(sha(data));
    const large = hasherFor(WORKER_HASH_MIN_BYTES);
    const pending = large.update(data, data.length);
    expect(pending).toBeInstanceOf(Promise);
    await pending;
    expect(await large.digest()).toBe(sha(data));
    expect(inlineHasher().update(data, 0)).toBeUndefined();
  });
});
