import { mkdir, open, rename, rm, truncate, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { AtollError } from '../core/errors.js';
import { attemptResultSchema, type AttemptResult } from '../protocol/messages.js';
import { readIfExists, syncPath, writeAll, writeAside } from './file-io.js';

// The agent's durable record of results the control plane has not acknowledged yet
// (invariant 3: an agent keeps a result on disk until the control plane acknowledges it).
//
// One append-only file of JSON lines: a result is its AttemptResult object, an acknowledgement
// is `{"ack":[ids]}`. Appends and acks that arrive while a write is in flight share the next
// write and fsync (group commit), so thousands of results per second cost a few fsyncs, not
// thousands. When dead lines (acked results and ack lines) outnumber pending ones, the file is
// rewritten with only the pending results: temp file, fsync, rename, fsync of the directory.

export const JOURNAL_FILE = 'results.jsonl';
/** Fewest dead lines before compaction, so a small journal is not rewritten on every ack. */
export const DEFAULT_COMPACT_AFTER_DEAD_LINES = 10_000;

export interface ResultJournalOptions {
  /** Compact once at least this many lines are dead and they outnumber the pending results. */
  readonly compactAfterDeadLines?: number;
  /** A failed automatic compaction (the journal keeps working on the old file). Default: process.emitWarning. */
  readonly onWarning?: (message: string) => void;
}

export interface ResultJournalStats {
  readonly pending: number;
  /** Lines in the file now, pending and dead. */
  readonly fileLines: number;
  /** fsyncs of the journal file for appends and acks; fewer than appends when group commit batches them. */
  readonly syncs: number;
  readonly compactions: number;
}

interface QueuedLine {
  readonly line: string;
  /** Applies the line to memory once it is durable. */
  readonly apply: () => void;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

const ackLineSchema = z.strictObject({ ack: z.array(z.string()) });

export class ResultJournal {
  /** The journal file. */
  readonly file: string;

  private readonly dir: string;
  private readonly compactAfterDeadLines: number;
  private readonly onWarning: (message: string) => void;
  private handle: FileHandle;
  private readonly entries: Map<string, AttemptResult>;
  private pendingView: readonly AttemptResult[] | null = null;
  private fileLines: number;
  private syncs = 0;
  private compactions = 0;
  // After a failed automatic compaction, wait until the dead lines double before trying again.
  private nextCompactionAtDead = 0;

  private queue: QueuedLine[] = [];
  private compactWaiters: Waiter[] = [];
  private writer: Promise<void> | null = null;
  /** Set when the file may no longer match memory; every later operation fails with it. */
  private failure: AtollError | null = null;
  private closed = false;

  private constructor(
    dir: string,
    handle: FileHandle,
    entries: Map<string, AttemptResult>,
    fileLines: number,
    options: ResultJournalOptions,
  ) {
    this.dir = dir;
    this.file = path.join(dir, JOURNAL_FILE);
    this.handle = handle;
    this.entries = entries;
    this.fileLines = fileLines;
    this.compactAfterDeadLines = Math.max(1, options.compactAfterDeadLines ?? DEFAULT_COMPACT_AFTER_DEAD_LINES);
    this.onWarning = options.onWarning ?? ((message) => process.emitWarning(message, { code: 'ATOLL_RESULT_JOURNAL' }));
  }

  /**
   * Open (or create) the journal in `dir` and load the pending results. A torn last line from a
   * crash mid-write is dropped; any other unreadable line is an error naming the file and line.
   */
  static async open(dir: string, options: ResultJournalOptions = {}): Promise<ResultJournal> {
    const resolvedDir = path.resolve(dir);
    await mkdir(resolvedDir, { recursive: true });
    const file = path.join(resolvedDir, JOURNAL_FILE);
    // A compaction that crashed before its rename leaves a temp file nobody will read.
    await rm(tempFile(file), { force: true });

    const bytes = await readIfExists(file);
    const { entries, lines, validBytes } = replay(file, bytes ?? Buffer.alloc(0));
    const torn = bytes !== null && validBytes < bytes.length;
    // Cut the torn tail off, or the next append would be glued onto it and corrupt a whole line.
    if (torn) await truncate(file, validBytes);

    const handle = await open(file, 'a');
    const journal = new ResultJournal(resolvedDir, handle, entries, lines, options);
    try {
      if (torn) await handle.datasync();
      // A new file is only durable once its directory entry is.
      if (bytes === null) await syncPath(resolvedDir);
    } catch (error) {
      await handle.close();
      throw error;
    }
    // A journal left long after a crash may be mostly dead lines: compact in the background;
    // a failure there only means a bigger file, reported through onWarning.
    if (journal.compactionDue()) journal.writer = journal.drain();
    return journal;
  }

  /** Durably record a finished result; resolves once it is on disk. */
  append(result: AttemptResult): Promise<void> {
    const parsed = attemptResultSchema.safeParse(result);
    if (!parsed.success) {
      // Refused now rather than written: a line the schema rejects would make the journal unreadable on restart.
      const detail = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
      return Promise.reject(new AtollError('internal', `result for attempt ${JSON.stringify(result.attemptId)} is not valid, not journaled: ${detail}`));
    }
    const clean = parsed.data;
    return this.enqueue(`${JSON.stringify(clean)}\n`, () => {
      this.entries.set(clean.attemptId, clean);
    });
  }

  /**
   * Forget results the control plane has durably recorded. Ids that are not pending (unknown,
   * already acknowledged, or whose append has not resolved yet) are ignored.
   */
  acknowledge(attemptIds: readonly string[]): Promise<void> {
    const known = [...new Set(attemptIds)].filter((id) => this.entries.has(id));
    if (known.length === 0) return this.failure ? Promise.reject(this.failure) : Promise.resolve();
    return this.enqueue(`${JSON.stringify({ ack: known })}\n`, () => {
      for (const id of known) this.entries.delete(id);
    });
  }

  /** Results on disk that the control plane has not acknowledged, in the order they were appended. */
  pending(): readonly AttemptResult[] {
    this.pendingView ??= Object.freeze([...this.entries.values()]);
    return this.pendingView;
  }

  /** Rewrite the file with only the pending results. Runs automatically; exposed for shutdown and tests. */
  compact(): Promise<void> {
    return this.schedule((waiter) => this.compactWaiters.push(waiter));
  }

  get stats(): ResultJournalStats {
    return { pending: this.entries.size, fileLines: this.fileLines, syncs: this.syncs, compactions: this.compactions };
  }

  /** Finish queued writes and close the file. Later calls fail. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writer;
    await this.handle.close();
  }

  private enqueue(line: string, apply: () => void): Promise<void> {
    return this.schedule(({ resolve, reject }) => this.queue.push({ line, apply, resolve, reject }));
  }

  private schedule(add: (waiter: Waiter) => void): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new AtollError('internal', `result journal ${this.file} is closed`));
    return new Promise<void>((resolve, reject) => {
      add({ resolve, reject });
      this.writer ??= this.drain();
    });
  }

  /** The only code that touches the file after open, so writes and compactions never interleave. */
  private async drain(): Promise<void> {
    // Let appends made in the same tick join the first batch.
    await Promise.resolve();
    try {
      while (this.queue.length > 0 || this.compactWaiters.length > 0 || this.compactionDue()) {
        if (this.queue.length > 0) await this.writeBatch();
        if (this.failure) return;
        const waiters = this.compactWaiters;
        this.compactWaiters = [];
        if (waiters.length > 0 || this.compactionDue()) await this.runCompaction(waiters);
        if (this.failure) return;
      }
    } finally {
      this.writer = null;
    }
  }

  private async writeBatch(): Promise<void> {
    const batch = this.queue;
    this.queue = [];
    try {
      await writeAll(this.handle, Buffer.from(batch.map((item) => item.line).join(''), 'utf8'));
      await this.handle.datasync();
      this.syncs += 1;
    } catch (error) {
      // After a failed write or fsync the file's contents are unknown (a partial line, or pages
      // the kernel dropped), so carrying on could lose results silently. Stop and say so.
      this.fail(`could not be written (${errorText(error)})`, error, batch);
      return;
    }
    this.fileLines += batch.length;
    for (const item of batch) item.apply();
    this.pendingView = null;
    for (const item of batch) item.resolve();
  }

  private compactionDue(): boolean {
    const dead = this.fileLines - this.entries.size;
    return dead >= this.compactAfterDeadLines && dead > this.entries.size && dead >= this.nextCompactionAtDead;
  }

  private async runCompaction(waiters: readonly Waiter[]): Promise<void> {
    const dead = this.fileLines - this.entries.size;
    try {
      await this.rewrite();
    } catch (error) {
      if (this.failure) {
        for (const waiter of waiters) waiter.reject(this.failure);
        return;
      }
      // The old file is untouched and still open, so the journal keeps working.
      const message = `compacting result journal ${this.file} failed, it keeps growing until a retry succeeds: ${errorText(error)}`;
      if (waiters.length === 0) this.onWarning(message);
      for (const waiter of waiters) waiter.reject(new AtollError('unavailable', message, { cause: error }));
      this.nextCompactionAtDead = dead * 2;
      return;
    }
    this.nextCompactionAtDead = 0;
    for (const waiter of waiters) waiter.resolve();
  }

  private async rewrite(): Promise<void> {
    const results = [...this.entries.values()];
    const temp = await writeAside(this.file, Buffer.from(results.map((result) => `${JSON.stringify(result)}\n`).join(''), 'utf8'), 0o666);
    await rename(temp, this.file);
    // From here the open handle points at the replaced file; any failure leaves memory and disk
    // out of step, so it is fatal.
    try {
      await syncPath(this.dir);
      const fresh = await open(this.file, 'a');
      const old = this.handle;
      this.handle = fresh;
      await old.close();
    } catch (error) {
      this.fail(`could not be reopened after compaction (${errorText(error)})`, error, []);
      throw error;
    }
    this.fileLines = results.length;
    this.compactions += 1;
  }

  private fail(what: string, cause: unknown, batch: readonly QueuedLine[]): void {
    this.failure = new AtollError(
      'unavailable',
      `result journal ${this.file} ${what}; it is no longer safe to use: fix the disk and restart the agent (pending results are kept in the file)`,
      { cause },
    );
    for (const item of [...batch, ...this.queue]) item.reject(this.failure);
    this.queue = [];
    for (const waiter of this.compactWaiters) waiter.reject(this.failure);
    this.compactWaiters = [];
  }
}

interface Replayed {
  readonly entries: Map<string, AttemptResult>;
  readonly lines: number;
  /** Length of the prefix that ends with the last newline; anything after it is a torn write. */
  readonly validBytes: number;
}

function replay(file: string, bytes: Buffer): Replayed {
  const validBytes = bytes.lastIndexOf(0x0a) + 1;
  const entries = new Map<string, AttemptResult>();
  let lines = 0;
  if (validBytes === 0) return { entries, lines, validBytes };
  const text = bytes.subarray(0, validBytes - 1).toString('utf8');
  let lineNumber = 0;
  for (const line of text.split('\n')) {
    lineNumber += 1;
    lines += 1;
    const corrupt = (detail: string): AtollError =>
      new AtollError(
        'internal',
        `result journal ${file} line ${lineNumber} is corrupt (${detail}); the agent cannot tell which results it still owes the control plane. ` +
          'Repair or delete that line, or move the file aside to start without its results (their tasks will be retried or lost).',
      );
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      if (error instanceof SyntaxError) throw corrupt(`not JSON: ${error.message}`);
      throw error;
    }
    if (typeof value === 'object' && value !== null && 'ack' in value) {
      const ack = ackLineSchema.safeParse(value);
      if (!ack.success) throw corrupt('an ack line that is not {"ack":[ids]}');
      for (const id of ack.data.ack) entries.delete(id);
    } else {
      const result = attemptResultSchema.safeParse(value);
      if (!result.success) throw corrupt(`not a result: ${result.error.issues[0]?.message ?? 'invalid'}`);
      entries.set(result.data.attemptId, result.data);
    }
  }
  return { entries, lines, validBytes };
}

function tempFile(file: string): string {
  return `${file}.tmp`;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
