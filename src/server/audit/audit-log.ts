import type { Logger } from 'pino';
import type { Clock } from '../../core/clock.js';
import type { NewAudit, Store } from '../../store/store.js';

/** Entries kept in memory at most; past it they are written at once rather than on the timer. */
const FLUSH_AT = 500;
/** How long an entry may wait to be written with others: one transaction per burst, not per request. */
const FLUSH_MS = 100;
/** The longest reason kept: enough for any refusal's message, not for whatever a client sent. */
export const MAX_REASON_CHARS = 500;

/**
 * The audit log's writer: entries are batched into one store write every FLUSH_MS. An entry can
 * be lost if the process dies in that window; the request it records was answered already, so
 * holding answers back for it would buy little.
 */
export class AuditLog {
  private pending: NewAudit[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {}

  /** Records an entry, timed now. */
  record(entry: Omit<NewAudit, 'time'>): void {
    const reason = entry.reason === null || entry.reason.length <= MAX_REASON_CHARS ? entry.reason : `${entry.reason.slice(0, MAX_REASON_CHARS)}…`;
    this.pending.push({ ...entry, reason, time: this.clock.now() });
    if (this.pending.length >= FLUSH_AT) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  /** Writes what is pending; resolves once everything recorded so far is committed. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    if (batch.length > 0) {
      this.writing = this.writing.then(() => this.store.write({ audit: batch })).catch((error: unknown) => {
        // The audit log must not take the API down with it; losing entries is logged loudly instead.
        this.log.error({ err: error, entries: batch.length }, 'could not write audit entries');
      });
    }
    return this.writing;
  }
}
