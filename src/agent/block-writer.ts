import { open, rm, type FileHandle } from 'node:fs/promises';
import { BLOCK_BYTES, returnBlock, takeBlock, WRITE_PIECE_BYTES } from './buffer-pool.js';
import { writeAll } from './file-io.js';
import type { BlockHasher } from './hash-worker.js';

// Received bytes go to disk from pooled 1 MiB buffers in sequential writes (of WRITE_PIECE_BYTES),
// each block hashed as it is handed off: one hash update per MiB instead of one per socket read,
// and no Node stream between the socket and the file. A chunk is copied into the block being filled; a
// full block goes to the hasher, and to the disk (writes in order, one at a time) unless the
// hasher writes it itself (the worker's does), and returns to the pool when both are done with it.

/** Blocks handed off and not yet back: enough to keep the disk and the hasher busy while the next fills. */
const MAX_IN_FLIGHT = 3;

export interface BlockWriterOptions {
  readonly hasher: BlockHasher;
  /** The most bytes accepted; past it a write fails with `tooLarge()`. */
  readonly limit: number;
  readonly tooLarge: () => Error;
  readonly mode?: number;
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** Writes a new file from chunks, hashing them on the way; see `write`, `finish`, `discard`. */
export class BlockWriter {
  private block: Buffer | null = null;
  private fill = 0;
  private received = 0;
  private position = 0;
  /** Disk writes run one after another, in block order. */
  private writes: Promise<void> = Promise.resolve();
  /** Each handed-off block's disk write and hash, settled once the block is back in the pool. */
  private readonly inFlight = new Set<Promise<void>>();
  private waiter: Waiter | undefined;
  private failure: { readonly error: unknown } | undefined;
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    private readonly options: BlockWriterOptions,
  ) {}

  /** Creates (or truncates) `path`. */
  static async create(path: string, options: BlockWriterOptions): Promise<BlockWriter> {
    const handle = await open(path, 'w', options.mode ?? 0o600);
    return new BlockWriter(path, handle, options);
  }

  /** Bytes accepted so far. */
  get bytes(): number {
    return this.received;
  }

  /**
   * Takes `chunk` in. Returns undefined when all of it was copied; a promise when the writer is
   * full, which resolves once all of it is copied: until then the caller must leave `chunk` as it
   * is and send nothing more. Throws `tooLarge()` past the limit and an earlier disk error.
   */
  write(chunk: Uint8Array): Promise<void> | undefined {
    this.accept(chunk.length);
    return this.copy(chunk, 0);
  }

  /**
   * The free rest of the block being filled, for a reader to put bytes in directly (no copy), or
   * null while every block is out (`ready` says when). The same space until `commit`.
   */
  reserve(): Buffer | null {
    if (this.failure !== undefined) return null;
    if (this.block === null) {
      if (this.inFlight.size >= MAX_IN_FLIGHT) return null;
      this.block = takeBlock();
      this.fill = 0;
    }
    return this.block.subarray(this.fill);
  }

  /** `n` bytes were put at the start of what `reserve` returned. Throws as `write` does. */
  commit(n: number): void {
    this.accept(n);
    this.fill += n;
    if (this.fill === BLOCK_BYTES) this.handOff();
  }

  /** Settles once `reserve` can give space again; rejects if the writer failed. */
  ready(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure.error);
    if (this.block !== null || this.inFlight.size < MAX_IN_FLIGHT) return Promise.resolve();
    return new Promise<void>((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  /** Like `write` for every chunk of `source` (strings as UTF-8), waiting whenever the writer is full. */
  async writeFrom(source: AsyncIterable<Uint8Array | string>): Promise<void> {
    for await (const chunk of source) {
      const full = this.write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      if (full !== undefined) await full;
    }
  }

  /** Writes what is left, waits for the disk and the hash, and returns the size and the sha256. The file stays open for `sync`. */
  async finish(): Promise<{ readonly bytes: number; readonly sha256: string }> {
    this.throwIfFailed();
    if (this.block !== null) this.handOff();
    await this.settled();
    this.throwIfFailed();
    this.closed = true;
    return { bytes: this.received, sha256: await this.options.hasher.digest() };
  }

  /** fsync of the file, for a store that must not lose it. */
  async sync(): Promise<void> {
    await this.handle.sync();
  }

  /** Closes the file, keeping it. */
  async close(): Promise<void> {
    this.closed = true;
    await this.handle.close();
  }

  /** Gives up: waits for writes under way, closes and deletes the file. Safe after an error. */
  async discard(): Promise<void> {
    this.failure ??= { error: new Error(`${this.path} was discarded`) };
    this.waiter?.reject(this.failure.error);
    this.waiter = undefined;
    if (this.block !== null) returnBlock(this.block);
    this.block = null;
    await this.settled();
    this.options.hasher.dispose();
    await this.handle.close().catch(() => undefined);
    await rm(this.path, { force: true });
  }

  /** Counts `n` more bytes in, failing past the limit. */
  private accept(n: number): void {
    this.throwIfFailed();
    if (this.closed) throw new Error(`${this.path} is already finished`);
    this.received += n;
    if (this.received > this.options.limit) {
      const error = this.options.tooLarge();
      this.failure = { error };
      throw error;
    }
  }

  private copy(chunk: Uint8Array, from: number): Promise<void> | undefined {
    while (from < chunk.length) {
      const space = this.reserve();
      if (space === null) return this.ready().then(() => this.copy(chunk, from));
      const n = Math.min(chunk.length - from, space.length);
      space.set(n === chunk.length ? chunk : chunk.subarray(from, from + n));
      this.fill += n;
      from += n;
      if (this.fill === BLOCK_BYTES) this.handOff();
    }
    return undefined;
  }

  private handOff(): void {
    const block = this.block!;
    const length = this.fill;
    const position = this.position;
    this.block = null;
    this.fill = 0;
    this.position += length;
    const hasher = this.options.hasher;
    let hashed: Promise<void> | undefined;
    try {
      hashed = hasher.update(block, length, hasher.writes ? { fd: this.handle.fd, position } : undefined);
    } catch (error) {
      hashed = Promise.reject(error);
    }
    let written: Promise<void> | undefined;
    if (!hasher.writes) {
      written = this.writes.then(async () => {
        for (let at = 0; at < length && this.failure === undefined; at += WRITE_PIECE_BYTES) {
          await writeAll(this.handle, block.subarray(at, Math.min(at + WRITE_PIECE_BYTES, length)), undefined, position + at);
        }
      });
      this.writes = written.catch(() => undefined);
    }
    const done: Promise<void> = Promise.allSettled([hashed, written]).then((outcomes) => {
      // Back to the pool only when neither the disk nor the hasher can still be reading it.
      returnBlock(block);
      this.inFlight.delete(done);
      const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
      if (failed !== undefined) this.failure ??= { error: failed.reason };
      const waiter = this.waiter;
      this.waiter = undefined;
      if (waiter === undefined) return;
      if (this.failure !== undefined) waiter.reject(this.failure.error);
      else waiter.resolve();
    });
    this.inFlight.add(done);
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure.error;
  }

  private async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
  }
}
