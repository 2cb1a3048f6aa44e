import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DATA_NAME_PATTERN, partitionId } from '../core/data-spec.js';
import { AtollError } from '../core/errors.js';
import { NAME_PATTERN } from '../core/job-spec.js';
import { syncPath } from './file-io.js';
import { hashingMeter } from './hashing-meter.js';

// The agent's partitions, content-addressed: `objects/<sha256>` holds the bytes (partitions with
// equal content share one object) and `index.json` maps namespace/dataset/partition to its object.
// Bytes are hashed as they arrive, written aside, fsynced and renamed into place, and only then
// indexed, so a crash or an aborted upload never leaves a partition pointing at partial bytes.

export interface PartitionRef {
  readonly namespace: string;
  readonly dataset: string;
  readonly partition: string;
}

export interface StoredPartition {
  readonly sha256: string;
  readonly bytes: number;
  readonly residencyClass: string | null;
  readonly createdAt: number;
}

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
    private readonly index: Map<string, StoredPartition & PartitionRef>,
  ) {}

  static async open(dir: string): Promise<PartitionStore> {
    await mkdir(join(dir, 'objects'), { recursive: true, mode: 0o700 });
    await rm(join(dir, 'incoming'), { recursive: true, force: true });
    await mkdir(join(dir, 'incoming'), { recursive: true, mode: 0o700 });
    const text = await readFile(join(dir, 'index.json'), 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return '{"partitions":[]}';
      throw error;
    });
    const entries = (JSON.parse(text) as { partitions: (StoredPartition & PartitionRef)[] }).partitions;
    return new PartitionStore(dir, new Map(entries.map((e) => [partitionId(e), e])));
  }

  get(ref: PartitionRef): StoredPartition | undefined {
    return this.index.get(partitionId(ref));
  }

  list(): readonly (StoredPartition & PartitionRef)[] {
    return [...this.index.values()];
  }

  objectPath(sha256: string): string {
    return join(this.dir, 'objects', sha256);
  }

  /**
   * Stores the stream's bytes as the partition (replacing what it held). With `expectedSha256`, a
   * stream whose bytes hash otherwise is refused and nothing is kept: a tampered or cut transfer.
   */
  async put(ref: PartitionRef, source: Readable, options: { readonly maxBytes: number; readonly residencyClass: string | null; readonly expectedSha256?: string }): Promise<StoredPartition> {
    checkRef(ref);
    const incoming = join(this.dir, 'incoming', randomBytes(8).toString('hex'));
    const meter = hashingMeter(options.maxBytes, () => new AtollError('payload_too_large', `partition is larger than the ${options.maxBytes} bytes this node accepts`));
    try {
      await pipeline(source, meter.stream, createWriteStream(incoming, { mode: 0o600 }));
      const sha256 = meter.sha256();
      const bytes = meter.bytes();
      if (options.expectedSha256 !== undefined && sha256 !== options.expectedSha256) {
        throw new AtollError('conflict', `checksum mismatch: expected sha256 ${options.expectedSha256}, got ${sha256}; the bytes were altered or cut on the way, and were not kept`);
      }
      await syncPath(incoming);
      const entry: StoredPartition = { sha256, bytes, residencyClass: options.residencyClass, createdAt: Date.now() };
      // Object and index change in one serial step, so a remove cannot delete the object between
      // them, and the content this replaces goes too once nothing else uses it.
      await this.serial(async () => {
        const object = this.objectPath(sha256);
        if (await exists(object)) await rm(incoming);
        else await rename(incoming, object);
        const previous = this.index.get(partitionId(ref));
        await this.writeIndex((index) => index.set(partitionId(ref), { ...ref, ...entry }));
        if (previous !== undefined && previous.sha256 !== sha256) await this.dropIfUnused(previous.sha256);
      });
      return entry;
    } catch (error) {
      await rm(incoming, { force: true });
      throw error;
    }
  }

  /** Takes a file already on this node's disk in as the partition; the original stays where it is. */
  async register(ref: PartitionRef, path: string, options: { readonly maxBytes: number; readonly residencyClass: string | null }): Promise<StoredPartition> {
    const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
      throw new AtollError('invalid_request', `cannot read ${path}: ${error.code ?? error.message}`);
    });
    if (!info.isFile()) throw new AtollError('invalid_request', `${path} is not a regular file`);
    return this.put(ref, createReadStream(path), options);
  }

  /** Drops the partition; its object goes too once no other partition shares it. */
  remove(ref: PartitionRef): Promise<boolean> {
    return this.serial(async () => {
      const entry = this.index.get(partitionId(ref));
      if (entry === undefined) return false;
      await this.writeIndex((index) => index.delete(partitionId(ref)));
      await this.dropIfUnused(entry.sha256);
      return true;
    });
  }

  /** Runs object and index changes one at a time, in call order. */
  private serial<T>(step: () => Promise<T>): Promise<T> {
    const next = this.writing.then(step);
    // A failed step fails its caller; the next one still runs.
    this.writing = next.then(() => undefined, () => undefined);
    return next;
  }

  /**
   * Writes the index with `change` applied (aside, fsynced, renamed over the old one), and only
   * then makes the change in memory: a failed write leaves memory and disk agreeing.
   */
  private async writeIndex(change: (index: Map<string, StoredPartition & PartitionRef>) => void): Promise<void> {
    const next = new Map(this.index);
    change(next);
    const file = join(this.dir, 'index.json');
    const handle = await open(`${file}.tmp`, 'w', 0o600);
    try {
      await handle.writeFile(JSON.stringify({ partitions: [...next.values()] }));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(`${file}.tmp`, file);
    this.index.clear();
    for (const [key, value] of next) this.index.set(key, value);
  }

  private async dropIfUnused(sha256: string): Promise<void> {
    if (![...this.index.values()].some((e) => e.sha256 === sha256)) await rm(this.objectPath(sha256), { force: true });
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
