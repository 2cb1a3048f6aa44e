import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { partitionId } from '../core/data-spec.js';
import { AtollError } from '../core/errors.js';
import { readIfExists, replaceFile, syncPath, writeAll } from './file-io.js';

// Which object each partition of the store points at, kept durably as a snapshot plus a journal:
// `index.json` holds every entry as of the last compaction, and `index.journal` one JSON line per
// change since (`{"put":entry}` or `{"remove":ref}`), appended and fsynced before the change is
// made in memory. A put costs one short append instead of a rewrite of the whole index, which made
// registering 10,000 partitions take 100 s. Replay is idempotent (a put sets, a remove deletes), so
// a crash between writing a new snapshot and emptying the journal loses nothing. A crash mid-append
// leaves a torn last line: dropped on open (that change was never acknowledged) and cut off.

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

export type IndexEntry = StoredPartition & PartitionRef;

export const SNAPSHOT_FILE = 'index.json';
export const JOURNAL_FILE = 'index.journal';
/** Fewest journal lines before a compaction, so a small store is not rewritten on every change. */
export const DEFAULT_COMPACT_AFTER_LINES = 1000;

const refSchema = z.object({ namespace: z.string(), dataset: z.string(), partition: z.string() });
const entrySchema = refSchema.extend({
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().nonnegative(),
  residencyClass: z.string().nullable(),
  createdAt: z.number(),
});
const snapshotSchema = z.object({ partitions: z.array(entrySchema) });
const lineSchema = z.union([z.strictObject({ put: entrySchema }), z.strictObject({ remove: refSchema })]);

export interface PartitionIndexOptions {
  /** Compact once the journal has at least this many lines and at least half as many as there are entries. */
  readonly compactAfterLines?: number;
}

export class PartitionIndex {
  /** Entries using each object: an object goes when its count drops to none. */
  private readonly objectUses = new Map<string, number>();
  private failure: AtollError | undefined;

  private constructor(
    private readonly dir: string,
    private handle: FileHandle,
    private readonly entries: Map<string, IndexEntry>,
    private journalLines: number,
    private readonly compactAfterLines: number,
  ) {
    for (const entry of entries.values()) this.count(entry.sha256, 1);
  }

  /** Loads the snapshot and replays the journal on top; a torn last line is dropped and cut off. */
  static async open(dir: string, options: PartitionIndexOptions = {}): Promise<PartitionIndex> {
    const snapshotFile = join(dir, SNAPSHOT_FILE);
    const journalFile = join(dir, JOURNAL_FILE);
    const entries = new Map<string, IndexEntry>();
    const snapshot = await readIfExists(snapshotFile);
    if (snapshot !== null) {
      const parsed = snapshotSchema.safeParse(parseJson(snapshot.toString('utf8')));
      if (!parsed.success) throw corrupt(snapshotFile, `not a partition index: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
      for (const entry of parsed.data.partitions) entries.set(partitionId(entry), entry);
    }
    const journal = (await readIfExists(journalFile)) ?? Buffer.alloc(0);
    const { lines, validBytes } = replay(journalFile, journal, entries);
    const handle = await open(journalFile, 'a', 0o600);
    try {
      if (validBytes < journal.length) {
        // Cut the torn tail off, or the next append would be glued onto it.
        await handle.truncate(validBytes);
        await handle.datasync();
      }
      if (journal.length === 0) await syncPath(dir);
    } catch (error) {
      await handle.close();
      throw error;
    }
    const index = new PartitionIndex(dir, handle, entries, lines, Math.max(1, options.compactAfterLines ?? DEFAULT_COMPACT_AFTER_LINES));
    if (index.compactionDue()) await index.compact();
    return index;
  }

  get(ref: PartitionRef): IndexEntry | undefined {
    return this.entries.get(partitionId(ref));
  }

  values(): IterableIterator<IndexEntry> {
    return this.entries.values();
  }

  /** Whether any entry points at the object. */
  usesObject(sha256: string): boolean {
    return this.objectUses.has(sha256);
  }

  /** Records the entry (replacing the partition's old one) durably, then in memory. */
  async put(entry: IndexEntry): Promise<void> {
    const clean: IndexEntry = { namespace: entry.namespace, dataset: entry.dataset, partition: entry.partition, sha256: entry.sha256, bytes: entry.bytes, residencyClass: entry.residencyClass, createdAt: entry.createdAt };
    await this.append({ put: clean });
    const id = partitionId(clean);
    const previous = this.entries.get(id);
    if (previous !== undefined) this.count(previous.sha256, -1);
    this.entries.set(id, clean);
    this.count(clean.sha256, 1);
    await this.compactIfDue();
  }

  /** Forgets the partition durably, then in memory; false if it was not there. */
  async remove(ref: PartitionRef): Promise<boolean> {
    const id = partitionId(ref);
    const entry = this.entries.get(id);
    if (entry === undefined) return false;
    await this.append({ remove: { namespace: ref.namespace, dataset: ref.dataset, partition: ref.partition } });
    this.entries.delete(id);
    this.count(entry.sha256, -1);
    await this.compactIfDue();
    return true;
  }

  /** Writes every entry as the new snapshot and empties the journal. Runs by itself as the journal grows. */
  async compact(): Promise<void> {
    this.throwIfFailed();
    await replaceFile(join(this.dir, SNAPSHOT_FILE), Buffer.from(JSON.stringify({ partitions: [...this.entries.values()] })));
    try {
      await this.handle.truncate(0);
      await this.handle.datasync();
    } catch (error) {
      // The snapshot already holds everything: a journal left as it was only replays onto it again.
      throw this.fail('could not be emptied after a compaction', error);
    }
    this.journalLines = 0;
  }

  /** Lines in the journal now (for tests and the store's stats). */
  get pendingLines(): number {
    return this.journalLines;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }

  private async append(line: z.infer<typeof lineSchema>): Promise<void> {
    this.throwIfFailed();
    try {
      await writeAll(this.handle, Buffer.from(`${JSON.stringify(line)}\n`));
      await this.handle.datasync();
    } catch (error) {
      // After a failed write or fsync the journal's end is unknown: appending more could make a
      // valid line unreadable. Stop here; a restart replays what made it to disk.
      throw this.fail('could not be written', error);
    }
    this.journalLines += 1;
  }

  private async compactIfDue(): Promise<void> {
    if (!this.compactionDue()) return;
    // The change is durable in the journal already; a failed compaction only leaves a longer one.
    await this.compact().catch(() => undefined);
  }

  private compactionDue(): boolean {
    return this.journalLines >= this.compactAfterLines && this.journalLines >= this.entries.size / 2;
  }

  private count(sha256: string, delta: number): void {
    const next = (this.objectUses.get(sha256) ?? 0) + delta;
    if (next > 0) this.objectUses.set(sha256, next);
    else this.objectUses.delete(sha256);
  }

  private fail(what: string, cause: unknown): AtollError {
    this.failure = new AtollError('unavailable', `partition index journal ${join(this.dir, JOURNAL_FILE)} ${what} (${cause instanceof Error ? cause.message : String(cause)}); fix the disk and restart the agent`, { cause });
    return this.failure;
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}

/**
 * Applies the journal's lines to `entries`. The part after the last newline is a torn write, and
 * so is a last line that does not parse; a bad line before the last is corruption, not a crash.
 */
function replay(file: string, bytes: Buffer, entries: Map<string, IndexEntry>): { readonly lines: number; readonly validBytes: number } {
  let validBytes = bytes.lastIndexOf(0x0a) + 1;
  if (validBytes === 0) return { lines: 0, validBytes: 0 };
  const lines = bytes.subarray(0, validBytes - 1).toString('utf8').split('\n');
  let applied = 0;
  for (const [i, text] of lines.entries()) {
    const line = lineSchema.safeParse(parseJson(text));
    if (!line.success) {
      if (i === lines.length - 1) {
        validBytes -= Buffer.byteLength(text) + 1;
        break;
      }
      throw corrupt(file, `line ${i + 1} is not a put or a remove`);
    }
    if ('put' in line.data) entries.set(partitionId(line.data.put), line.data.put);
    else entries.delete(partitionId(line.data.remove));
    applied += 1;
  }
  return { lines: applied, validBytes };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function corrupt(file: string, detail: string): AtollError {
  return new AtollError('internal', `${file} is corrupt (${detail}); the agent cannot tell which partitions it holds. Repair or move the file aside (partitions it no longer lists must be registered again).`);
}
