import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { DATA_NAME_PATTERN } from '../core/data-spec.js';
import { AtollError } from '../core/errors.js';
import { NAME_PATTERN } from '../core/job-spec.js';
import { BlockWriter } from './block-writer.js';
import { hasherFor } from './hash-worker.js';
import { PartitionIndex, type IndexEntry, type PartitionIndexOptions, type PartitionRef, type StoredPartition } from './partition-index.js';

export type { PartitionRef, StoredPartition } from './partition-index.js';

// The agent's partitions, content-addressed: `objects/<sha256>` holds the bytes (partitions with
// equal content share one object) and the index (partition-index.ts: a snapshot and a journal)
// maps namespace/dataset/partition to its object. Bytes are hashed as they arrive, written aside,
// fsynced and renamed into place, and only then indexed, so a crash or an aborted upload never
// leaves a partition pointing at partial bytes. An object a crash left unindexed is swept on open.

/** Refuses a ref whose parts could not be a catalog name (and so could never escape the store). */
export function checkRef(ref: PartitionRef): void {
  const bad = !NAME_PATTERN.test(ref.namespace) ? 'namespace' : !isDataName(ref.dataset) ? 'dataset' : !isDataName(ref.partition) ? 'partition' : undefined;
  if (bad !== undefined) throw new AtollError('invalid_request', `${bad} ${JSON.stringify(ref[bad])} is not a valid name`);
}

function isDataName(value: string): boolean {
  return DATA_NAME_PATTERN.test(value) && value !== '.' && value !== '..';
}

export class PartitionStore {
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly dir: string,
    private readonly index: PartitionIndex,
  ) {}

  static async open(dir: string, options: PartitionIndexOptions = {}): Promise<PartitionStore> {
    await mkdir(join(dir, 'objects'), { recursive: true, mode: 0o700 });
    await rm(join(dir, 'incoming'), { recursive: true, force: true });
    await mkdir(join(dir, 'incoming'), { recursive: true, mode: 0o700 });
    const index = await PartitionIndex.open(dir, options);
    // A crash after an object's rename and before its index line leaves the object unreferenced.
    for (const name of await readdir(join(dir, 'objects'))) {
      if (!index.usesObject(name)) await rm(join(dir, 'objects', name), { force: true, recursive: true });
    }
    return new PartitionStore(dir, index);
  }

  get(ref: PartitionRef): StoredPartition | undefined {
    return this.index.get(ref);
  }

  list(): readonly IndexEntry[] {
    return [...this.index.values()];
  }

  objectPath(sha256: string): string {
    return join(this.dir, 'objects', sha256);
  }

  /**
   * Stores the stream's bytes as the partition (replacing what it held). With `expectedSha256`, a
   * stream whose bytes hash otherwise is refused and nothing is kept: a tampered or cut transfer.
   * `sizeHint`, the size when known up front, lets a large one be hashed off the event loop.
   */
  async put(ref: PartitionRef, source: Readable, options: { readonly maxBytes: number; readonly residencyClass: string | null; readonly expectedSha256?: string; readonly sizeHint?: number }): Promise<StoredPartition> {
    checkRef(ref);
    const incoming = join(this.dir, 'incoming', randomBytes(8).toString('hex'));
    const writer = await BlockWriter.create(incoming, {
      hasher: hasherFor(options.sizeHint ?? 0),
      limit: options.maxBytes,
      tooLarge: () => new AtollError('payload_too_large', `partition is larger than the ${options.maxBytes} bytes this node accepts`),
    });
    let written = false;
    try {
      await writer.writeFrom(source);
      const { sha256, bytes } = await writer.finish();
      if (options.expectedSha256 !== undefined && sha256 !== options.expectedSha256) {
        throw new AtollError('conflict', `checksum mismatch: expected sha256 ${options.expectedSha256}, got ${sha256}; the bytes were altered or cut on the way, and were not kept`);
      }
      await writer.sync();
      await writer.close();
      written = true;
      const entry: StoredPartition = { sha256, bytes, residencyClass: options.residencyClass, createdAt: Date.now() };
      // Object and index change in one serial step, so a remove cannot delete the object between
      // them, and the content this replaces goes too once nothing else uses it.
      await this.serial(async () => {
        const object = this.objectPath(sha256);
        if (await exists(object)) await rm(incoming);
        else await rename(incoming, object);
        const previous = this.index.get(ref);
        await this.index.put({ ...ref, ...entry });
        if (previous !== undefined && previous.sha256 !== sha256) await this.dropIfUnused(previous.sha256);
      });
      return entry;
    } catch (error) {
      if (written) await rm(incoming, { force: true });
      else await writer.discard();
      throw error;
    }
  }

  /** Takes a file already on this node's disk in as the partition; the original stays where it is. */
  async register(ref: PartitionRef, path: string, options: { readonly maxBytes: number; readonly residencyClass: string | null }): Promise<StoredPartition> {
    const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
      throw new AtollError('invalid_request', `cannot read ${path}: ${error.code ?? error.message}`);
    });
    if (!info.isFile()) throw new AtollError('invalid_request', `${path} is not a regular file`);
    return this.put(ref, createReadStream(path), { ...options, sizeHint: info.size });
  }

  /** Drops the partition; its object goes too once no other partition shares it. */
  remove(ref: PartitionRef): Promise<boolean> {
    return this.serial(async () => {
      const entry = this.index.get(ref);
      if (entry === undefined) return false;
      await this.index.remove(ref);
      await this.dropIfUnused(entry.sha256);
      return true;
    });
  }

  /** Closes the index journal; the store is not used afterwards. */
  async close(): Promise<void> {
    await this.writing;
    await this.index.close();
  }

  /** Runs object and index changes one at a time, in call order. */
  private serial<T>(step: () => Promise<T>): Promise<T> {
    const next = this.writing.then(step);
    // A failed step fails its caller; the next one still runs.
    this.writing = next.then(() => undefined, () => undefined);
    return next;
  }

  private async dropIfUnused(sha256: string): Promise<void> {
    if (!this.index.usesObject(sha256)) await rm(this.objectPath(sha256), { force: true });
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return false;
      throw error;
    },
  );
}
