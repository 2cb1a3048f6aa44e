import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BlockWriter } from './block-writer.js';
import { BLOCK_BYTES } from './buffer-pool.js';
import { inlineHasher, workerHasher, type BlockHasher } from './hash-worker.js';

// Real files in a temp dir; both hashers.

const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
const tooLarge = () => new Error('too large');
const file = () => join(mkdtempSync(join(tmpdir(), 'atoll-block-writer-')), 'out');

/** `data` cut into chunks of the given sizes, repeated until it is used up. */
function chunks(data: Buffer, sizes: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0, i = 0; at < data.length; i += 1) {
    const size = sizes[i % sizes.length]!;
    out.push(data.subarray(at, at + size));
    at += size;
  }
  return out;
}

/** A hasher whose updates settle only when the test says so: the writer must wait for it. */
function heldHasher(): BlockHasher & { release(): void; readonly waiting: number } {
  const inner = inlineHasher();
  const held: (() => void)[] = [];
  return {
    writes: false,
    update(block, length) {
      inner.update(block, length);
      return new Promise<void>((resolve) => held.push(resolve));
    },
    digest: () => inner.digest(),
    dispose: () => undefined,
    release: () => held.splice(0).forEach((resolve) => resolve()),
    get waiting() {
      return held.length;
    },
  };
}

describe('BlockWriter', () => {
  it.each([
    ['inline', inlineHasher],
    ['worker', workerHasher],
  ])('writes and hashes chunks of any size across block boundaries (%s hasher)', async (_name, hasher) => {
    const data = randomBytes(5 * BLOCK_BYTES + 12_345);
    const path = file();
    const writer = await BlockWriter.create(path, { hasher: hasher(), limit: data.length, tooLarge });
    // Odd sizes, one larger than a block: chunks straddle blocks and fill them exactly or not.
    await writer.writeFrom(Readable.from(chunks(data, [1, 65_536, BLOCK_BYTES + 7, 4093, 3 * BLOCK_BYTES])));
    const result = await writer.finish();
    await writer.close();
    expect(result).toEqual({ bytes: data.length, sha256: sha(data) });
    expect(readFileSync(path).equals(data)).toBe(true);
  });

  it('writes an empty file for no bytes', async () => {
    const path = file();
    const writer = await BlockWriter.create(path, { hasher: inlineHasher(), limit: 10, tooLarge });
    expect(await writer.finish()).toEqual({ bytes: 0, sha256: sha(Buffer.alloc(0)) });
    await writer.close();
    expect(readFileSync(path)).toHaveLength(0);
  });

  it('refuses the first byte past the limit', async () => {
    const path = file();
    const writer = await BlockWriter.create(path, { hasher: inlineHasher(), limit: 100, tooLarge });
    expect(writer.write(Buffer.alloc(100))).toBeUndefined();
    expect(() => writer.write(Buffer.alloc(1))).toThrow('too large');
    await expect(writer.finish()).rejects.toThrow('too large');
    await writer.discard();
    expect(existsSync(path)).toBe(false);
  });

  it('asks the caller to wait while the disk or the hasher holds every block, and carries on after', async () => {
    const hasher = heldHasher();
    const data = randomBytes(6 * BLOCK_BYTES);
    const path = file();
    const writer = await BlockWriter.create(path, { hasher, limit: data.length, tooLarge });
    const wait = writer.write(data);
    expect(wait).toBeInstanceOf(Promise);
    let copied = false;
    void wait!.then(() => (copied = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Three blocks handed off and a fourth full one waiting for room: not everything was taken yet.
    expect(copied).toBe(false);
    expect(hasher.waiting).toBe(3);
    // From here the hasher answers as it goes: the rest is copied and everything written.
    const answering = setInterval(() => hasher.release(), 2);
    try {
      await wait;
      expect(await writer.finish()).toEqual({ bytes: data.length, sha256: sha(data) });
    } finally {
      clearInterval(answering);
    }
    await writer.close();
    expect(readFileSync(path).equals(data)).toBe(true);
  });

  it('discards mid-write: waits for writes under way, then leaves no file', async () => {
    const hasher = heldHasher();
    const path = file();
    const writer = await BlockWriter.create(path, { hasher, limit: 10 * BLOCK_BYTES, tooLarge });
    const wait = writer.write(randomBytes(5 * BLOCK_BYTES));
    const discarding = writer.discard();
    await expect(wait).rejects.toThrow(/discarded/);
    hasher.release();
    await discarding;
    expect(existsSync(path)).toBe(false);
    expect(() => writer.write(Buffer.alloc(1))).toThrow(/discarded/);
  });

  it('fails the transfer when the hasher fails', async () => {
    const path = file();
    const failing: BlockHasher = { writes: false, update: () => Promise.reject(new Error('hash worker died')), digest: () => Promise.resolve(''), dispose: () => undefined };
    const writer = await BlockWriter.create(path, { hasher: failing, limit: 10 * BLOCK_BYTES, tooLarge });
    await writer.writeFrom(Readable.from([randomBytes(BLOCK_BYTES)]));
    await expect(writer.finish()).rejects.toThrow('hash worker died');
    await writer.discard();
    expect(existsSync(path)).toBe(false);
  });
});
