import type { Clock } from '../core/clock.js';
import { addSpend, compareSpendRows, utcDay, ZERO_SPEND, type SpendGroup, type SpendReport, type SpendRow, type SpendSummary, type SpendTotals } from '../core/spend.js';
import type { AttemptRecord, JobRecord, NodeRecord } from '../core/types.js';
import type { Store } from '../store/store.js';
import type { HotState } from './state/hot-state.js';
import type { StateMachine } from './state/state-machine.js';

// Spend as the API and CLI show it: what the ledger holds (finished attempts, transfers) plus
// what attempts still running have cost so far, so a long job shows its spend while it runs.

export class SpendReports {
  constructor(
    private readonly hot: HotState,
    private readonly sm: StateMachine,
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  /** One job's spend: its charges and its running attempts' accrued compute. */
  async job(jobId: string): Promise<SpendSummary> {
    const [charged] = await this.store.sumSpend({ jobId });
    const running = this.accrued((attempt) => attempt.jobId === jobId, () => '').get('') ?? ZERO_SPEND;
    return { ...addSpend(charged ?? ZERO_SPEND, running), running: running.total };
  }

  /** Spend since `since`, summed by `by` (or in total), optionally for one namespace. */
  async report(query: { by?: SpendGroup; since?: number; namespace?: string; perDay?: boolean }): Promise<SpendReport> {
    const filter = { ...(query.since === undefined ? {} : { since: query.since }), ...(query.namespace === undefined ? {} : { namespace: query.namespace }) };
    const perDay = query.perDay === true;
    const charged = await this.store.sumSpend(filter, query.by, perDay);
    const now = this.clock.now();
    // What running attempts have accrued counts today (UTC), as their charges will when they end.
    const today = utcDay(now);
    const running = this.accrued(
      (_attempt, job) => query.namespace === undefined || job.namespace === query.namespace,
      (attempt, job, node) => (query.by === undefined ? '' : keyOf(query.by, attempt, job, node, now)),
    );
    // Rows by key, and by day too when split per day.
    const rowKey = (key: string, day: string | undefined) => (day === undefined ? key : `${day}\u0000${key}`);
    const rows = new Map<string, SpendRow & { running: number }>();
    for (const row of charged) rows.set(rowKey(row.key, row.day), { ...row, running: 0 });
    for (const [key, accrued] of running) {
      const at = rowKey(key, perDay ? today : undefined);
      rows.set(at, { key, ...(perDay ? { day: today } : {}), ...addSpend(rows.get(at) ?? ZERO_SPEND, accrued), running: accrued.total });
    }
    const items = [...rows.values()].sort(compareSpendRows);
    const total = items.reduce<SpendTotals>((sum, row) => addSpend(sum, row), ZERO_SPEND);
    return {
      by: query.by ?? null, per: perDay ? 'day' : null, since: query.since ?? null, namespace: query.namespace ?? null,
      rows: items, total: { ...total, running: items.reduce((sum, row) => sum + row.running, 0) },
    };
  }

  /** Compute cost so far of running attempts that `include` picks, summed by `key`. */
  private accrued(include: (attempt: AttemptRecord, job: JobRecord) => boolean, key: (attempt: AttemptRecord, job: JobRecord, node: NodeRecord) => string): Map<string, SpendTotals> {
    const now = this.clock.now();
    const out = new Map<string, SpendTotals>();
    for (const attempt of this.hot.attempts.values()) {
      const job = this.hot.jobs.get(attempt.jobId)?.record;
      if (attempt.startedAt === null || job === undefined || !include(attempt, job)) continue;
      const { dollars, node } = this.sm.computeCost(attempt, now);
      if (node === undefined || dollars === 0) continue;
      const k = key(attempt, job, node);
      out.set(k, addSpend(out.get(k) ?? ZERO_SPEND, { compute: dollars, transfer: 0, total: dollars, waste: 0, transferBytes: 0 }));
    }
    return out;
  }
}

function keyOf(by: SpendGroup, attempt: AttemptRecord, job: JobRecord, node: NodeRecord, now: number): string {
  switch (by) {
    case 'provider':
      return node.provider;
    case 'region':
      return node.region;
    case 'site':
      return node.site;
    case 'namespace':
      return job.namespace;
    case 'job':
      return attempt.jobId;
    case 'day':
      // What a running attempt has accrued so far counts today (UTC), as its charge will.
      return utcDay(now);
  }
}
