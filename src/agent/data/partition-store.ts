import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open as openFile, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { DATA_NAME_PATTERN, partitionId } from '../../core/data-spec.js';
import { AtollError } from '../../core/errors.js';

// The agent's partitions, content-addressed: `objects/<sha256>` holds the bytes (partitions with
// equal content share one object) and `index.json` maps namespace/dataset/partition to an object.
//
// Bytes are hashed and counted as they stream into `incoming/`, fsynced, and only then renamed
// into `objects/` and indexed, so a crash, an abort or a checksum mismatch never leaves a partition
// pointing at partial bytes. Index writes are whole-file: temp, fsync, rename, fsync of the dir.
// Committing an object, rewriting the index and deleting an unused object run one at a time, so a
// `remove` can never delete an object that a concurrent `put` of equal content has just claimed.
//
// The layout and the index format are those of src/agent/partition-store.ts, so either can open a
// directory the other wrote.

export interface PartitionRef {
  readonly namespace: string;
  readonly dataset: string;
  readonly partition: string;
}

export interface PartitionEntry {
  readonly sha256: string;
  readonly bytes: number;
  readonly residencyClass: string | null;
  /** Epoch ms. */
  readonly createdAt: number;
}

export type ListedPartition = PartitionRef & PartitionEntry;

export interface PutOptions {
  /** When given, bytes that hash otherwise are refused (`conflict`) and nothing is kept. */
  readonly expectedSha256?: string;
  /** More bytes than this are refused (`payload_too_large`) and nothing is kept. */
  readonly maxBytes: number;
  readonly residencyClass: string | null;
}

export interface OpenedPartition {
  /** The object's bytes; the file stays readable even if the partition is removed meanwhile. */
  readonly stream: Readable;
  readonly bytes: number;
  readonly sha256: string;
}

export interface PartitionStoreOptions {
  readonly now?: () => number;
}

export const INDEX_FILE = 'index.json';
const OBJECTS = 'objects';
const INCOMING = 'incoming';
const SHA256_PATTERN = /^[0-9a-f]{64}$/;
// Mirrors the catalog's namespace rule in core/data-spec.ts.
const NAMESPACE_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

const indexSchema = z.object({
  version: z.literal(1).optional(),
  partitions: z.array(
    z.object({
      namespace: z.string(),
      dataset: z.string(),
      partition: z.string(),
      sha256: z.string().regex(SHA256_PATTERN),
      bytes: z.number().int().min(0),
      residencyClass: z.string().nullable(),
      createdAt: z.number(),
    }),
  ),
});

/** Throws `invalid_request` unless every part of the ref is a catalog name (which can never escape the store's directory). */
export function checkPartitionRef(ref: PartitionRef): void {
  const problem = (part: keyof PartitionRef, rule: string): AtollError =>
    new AtollError('invalid_request', `${part} ${JSON.stringify(String(ref[part]).slice(0, 300))} is not a valid name: ${rule}`, {
      problems: [{ path: part, message: rule }],
    });
  if (typeof ref.namespace !== 'string' || !NAMESPACE_PATTERN.test(ref.namespace)) {
    throw problem('namespace', 'use lowercase letters, digits and dashes (at most 63), like "default"');
  }
  for (const part of ['dataset', 'partition'] as const) {
    const value = ref[part];
    if (typeof value !== 'string' || !DATA_NAME_PATTERN.test(value) || value === '.' || value === '..') {
      throw problem(part, 'use letters, digits, dots, dashes and underscores (at most 200, not starting with a dot)');
    }
  }
}

export class PartitionStore {
  /** The store's directory. */
  readonly dir: string;
  private index: ReadonlyMap<string, ListedPartition>;
  private readonly now: () => number;
  /** The tail of the queue of commits and removals; see the file comment. */
  private serial: Promise<void> = Promise.resolve();

  private constructor(dir: string, index: ReadonlyMap<string, ListedPartition>, now: () => number) {
    this.dir = dir;
    this.index = index;
    this.now = now;
  }

  /**
   * Opens (or creates) the store in `dir` and loads its index. Leftovers of a crash are cleared:
   * half-received files, a half-written index, and objects no partition points at.
   */
  static async open(dir: string, options: PartitionStoreOptions = {}): Promise<PartitionStore> {
    await mkdir(join(dir, OBJECTS), { recursive: true, mode: 0o700 });
    await rm(join(dir, INCOMING), { recursive: true, force: true });
    await mkdir(join(dir, INCOMING), { mode: 0o700 });
    const file = join(dir, INDEX_FILE);
    await rm(`${file}.tmp`, { force: true });
    const index = new Map<string, ListedPartition>();
    const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return null;
      throw error;
    });
    if (text !== null) {
      let parsed: z.infer<typeof indexSchema>;
      try {
        parsed = indexSchema.parse(JSON.parse(text));
      } catch (error) {
        throw new AtollError(
          'internal',
          `partition index ${file} is corrupt; restore it from a backup, or move it aside to start with an empty store (the control plane will then see this node's partitions as missing)`,
          { cause: error },
        );
      }
      for (const entry of parsed.partitions) index.set(partitionId(entry), entry);
    }
    // An object renamed into place just before a crash, whose index write never happened.
    const used = new Set([...index.values()].map((entry) => entry.sha256));
    for (const name of await readdir(join(dir, OBJECTS))) {
      if (SHA256_PATTERN.test(name) && !used.has(name)) await rm(join(dir, OBJECTS, name), { force: true });
    }
    return new PartitionStore(dir, index, options.now ?? Date.now);
  }

  get(ref: PartitionRef): PartitionEntry | undefined {
    const entry = this.index.get(partitionId(ref));
    return entry === undefined ? undefined : toEntry(entry);
  }

  list(): readonly ListedPartition[] {
    return [...this.index.values()];
  }

  /** Where an object's bytes are; for a copy (or reflink) into a task's input dir. */
  objectPath(sha256: string): string {
    if (!SHA256_PATTERN.test(sha256)) throw new AtollError('invalid_request', `${JSON.stringify(sha256)} is not a sha256 of 64 lowercase hex digits`);
    return join(this.dir, OBJECTS, sha256);
  }

  /**
   * Streams `source` in as the partition, replacing what it held. Nothing is kept when the source
   * fails, runs over `maxBytes` or does not hash to `expectedSha256`.
   */
  async put(ref: PartitionRef, source: Readable, options: PutOptions): Promise<PartitionEntry> {
    checkPartitionRef(ref);
    if (options.expectedSha256 !== undefined && !SHA256_PATTERN.test(options.expectedSha256)) {
      throw new AtollError('invalid_request', `expected sha256 ${JSON.stringify(options.expectedSha256)} is not 64 lowercase hex digits`);
    }
    const incoming = join(this.dir, INCOMING, `${randomBytes(12).toString('hex')}.tmp`);
    const hash = createHash('sha256');
    let bytes = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        bytes += chunk.length;
        if (bytes > options.maxBytes) {
          done(new AtollError('payload_too_large', `partition ${partitionId(ref)} is larger than the ${options.maxBytes} bytes this node accepts; split it into smaller partitions`));
          return;
        }
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(source, meter, createWriteStream(incoming, { flags: 'wx', mode: 0o600 }));
      const sha256 = hash.digest('hex');
      if (options.expectedSha256 !== undefined && sha256 !== options.expectedSha256) {
        throw new AtollError(
          'conflict',
          `checksum mismatch: expected ${options.expectedSha256}, got ${sha256} for ${partitionId(ref)} (${bytes} bytes); the bytes were altered or cut on the way and were not kept`,
        );
      }
      await syncFile(incoming);
      const entry: ListedPartition = { ...pickRef(ref), sha256, bytes, residencyClass: options.residencyClass, createdAt: this.now() };
      await this.serialized(() => this.commit(entry, incoming));
      return toEntry(entry);
    } finally {
      await rm(incoming, { force: true });
    }
  }

  /** Copies a file already on this node's disk in as the partition; the original stays where it is. */
  async register(ref: PartitionRef, filePath: string, options: PutOptions): Promise<PartitionEntry> {
    checkPartitionRef(ref);
    const info = await stat(filePath).catch((error: NodeJS.ErrnoException) => {
      throw new AtollError('invalid_request', `cannot read ${filePath}: ${error.code ?? error.message}`, { cause: error });
    });
    if (!info.isFile()) throw new AtollError('invalid_request', `${filePath} is not a regular file`);
    if (info.size > options.maxBytes) {
      throw new AtollError('payload_too_large', `${filePath} has ${info.size} bytes, more than the ${options.maxBytes} this node accepts; split it into smaller files`);
    }
    return this.put(ref, createReadStream(filePath), options);
  }

  /** The partition's bytes, or `not_found`. */
  async open(ref: PartitionRef): Promise<OpenedPartition> {
    const entry = this.index.get(partitionId(ref));
    if (entry === undefined) throw new AtollError('not_found', `partition ${partitionId(ref)} is not on this node`);
    // Opened now rather than lazily, so a removal right after cannot pull the file away.
    const handle = await openFile(this.objectPath(entry.sha256), 'r').catch((error: NodeJS.ErrnoException) => {
      throw new AtollError('internal', `the object of ${partitionId(ref)} is missing from ${this.dir} (${error.code ?? error.message}); the store was changed by hand: re-upload the partition`, { cause: error });
    });
    try {
      const { size } = await handle.stat();
      if (size !== entry.bytes) {
        throw new AtollError('internal', `the object of ${partitionId(ref)} has ${size} bytes where ${entry.bytes} were stored; the store was changed by hand: re-upload the partition`);
      }
    } catch (error) {
      await handle.close();
      throw error;
    }
    return { stream: handle.createReadStream(), bytes: entry.bytes, sha256: entry.sha256 };
  }

  /** Drops the partition; its object goes too unless another partition shares it. False if it was not here. */
  remove(ref: PartitionRef): Promise<boolean> {
    return this.serialized(async () => {
      const id = partitionId(ref);
      const old = this.index.get(id);
      if (old === undefined) return false;
      const next = new Map(this.index);
      next.delete(id);
      await this.writeIndex(next);
      await this.dropIfUnused(old.sha256);
      return true;
    });
  }

  private async commit(entry: ListedPartition, incoming: string): Promise<void> {
    const object = this.objectPath(entry.sha256);
    const created = !(await exists(object));
    if (created) {
      await rename(incoming, object);
      await syncDir(join(this.dir, OBJECTS));
    }
    const id = partitionId(entry);
    const old = this.index.get(id);
    const next = new Map(this.index);
    next.set(id, entry);
    try {
      await this.writeIndex(next);
    } catch (error) {
      if (created) await this.dropIfUnused(entry.sha256);
      throw error;
    }
    if (old !== undefined && old.sha256 !== entry.sha256) await this.dropIfUnused(old.sha256);
  }

  /** Writes `next` durably, then makes it the index in memory: on failure, memory still matches disk. */
  private async writeIndex(next: ReadonlyMap<string, ListedPartition>): Promise<void> {
    const file = join(this.dir, INDEX_FILE);
    const temp = `${file}.tmp`;
    const handle = await openFile(temp, 'w', 0o600);
    try {
      await handle.writeFile(JSON.stringify({ version: 1, partitions: [...next.values()] }));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
    await syncDir(this.dir);
    this.index = next;
  }

  private async dropIfUnused(sha256: string): Promise<void> {
    for (const entry of this.index.values()) if (entry.sha256 === sha256) return;
    await rm(this.objectPath(sha256), { force: true });
  }

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const result = this.serial.then(work);
    // A failure fails its caller only; the next operation still runs.
    this.serial = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

function pickRef(ref: PartitionRef): PartitionRef {
  return { namespace: ref.namespace, dataset: ref.dataset, partition: ref.partition };
}

function toEntry(entry: PartitionEntry): PartitionEntry {
  return { sha256: entry.sha256, bytes: entry.bytes, residencyClass: entry.residencyClass, createdAt: entry.createdAt };
}

async function syncFile(path: string): Promise<void> {
  const handle = await openFile(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await openFile(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
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
