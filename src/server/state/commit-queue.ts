import type { Store } from '../../store/store.js';
import { Changes } from './changes.js';

/**
 * Group commit: every change made in one turn of the event loop lands in one transaction.
 * Callers that must not answer before their change is durable await `committed()`.
 * A failed commit leaves memory ahead of the store, which nothing can repair in place, so it
 * is handed to `onFatal` (the server exits and rebuilds from the store on restart).
 */
export class CommitQueue {
  private open = new Changes();
  private waiters: (() => void)[] = [];
  private scheduled = false;
  private writing = false;
  private lastCommitAt = 0;

  /**
   * @param minIntervalMs Under load, wait at least this long between commits so that one
   *   transaction (and one fsync) carries many changes; an idle queue commits at once.
   */
  constructor(
    private readonly store: Store,
    private readonly onCommitted: (changes: Changes) => void,
    private readonly onFatal: (error: unknown) => void,
    private readonly minIntervalMs = 5,
  ) {}

  /** The batch currently collecting changes. */
  get changes(): Changes {
    this.schedule();
    return this.open;
  }

  /** Resolves once everything recorded so far is committed. */
  committed(): Promise<void> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.writing) return;
    this.scheduled = true;
    const wait = this.lastCommitAt + this.minIntervalMs - performance.now();
    if (wait > 0) setTimeout(() => void this.flush(), wait);
    else setImmediate(() => void this.flush());
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.open;
    const waiters = this.waiters;
    this.open = new Changes();
    this.waiters = [];
    this.writing = true;
    try {
      if (!batch.isEmpty()) {
        await this.store.write(batch.toWriteBatch());
      }
      this.lastCommitAt = performance.now();
    } catch (error) {
      this.onFatal(error);
      return;
    } finally {
      this.writing = false;
    }
    this.onCommitted(batch);
    for (const run of batch.afterCommit) run();
    for (const resolve of waiters) resolve();
    if (!this.open.isEmpty() || this.open.afterCommit.length > 0 || this.waiters.length > 0) this.schedule();
  }
}
