// Spend: every attempt's share of its node's price for the time it ran, and every transfer made
// for it, as charges in a ledger. An attempt that did not succeed (failed, lost, cancelled) is
// waste, and so are the transfers made for it.

export type ChargeKind = 'compute' | 'transfer';

export interface ChargeRecord {
  /** `compute:<attempt>` or `transfer:<attempt>:<dataset>/<partition>`: one charge per thing paid for. */
  readonly id: string;
  readonly time: number;
  readonly kind: ChargeKind;
  readonly namespace: string;
  readonly jobId: string;
  readonly attemptId: string;
  /** Who bills it: the node the attempt ran on, or for a transfer the node that sent the bytes. */
  readonly node: string;
  readonly provider: string;
  readonly region: string;
  readonly site: string;
  readonly dollars: number;
  /** Bytes moved (transfers; 0 for compute). */
  readonly bytes: number;
  /** Milliseconds the attempt ran (compute; 0 for transfers). */
  readonly runtimeMs: number;
  /** The attempt did not succeed: what it cost bought nothing. */
  readonly waste: boolean;
}

export const DAY_MS = 86_400_000;

/** The UTC calendar day of a time (YYYY-MM-DD), as spend over time is grouped. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** `day`: the UTC calendar day a charge was made (YYYY-MM-DD), for spend over time. */
export const SPEND_GROUPS = ['provider', 'region', 'site', 'namespace', 'job', 'day'] as const;
export type SpendGroup = (typeof SPEND_GROUPS)[number];

/** Money and bytes summed over some charges. */
export interface SpendTotals {
  readonly compute: number;
  readonly transfer: number;
  readonly total: number;
  /** The part of `total` spent on attempts that did not succeed. */
  readonly waste: number;
  readonly transferBytes: number;
}

export interface SpendRow extends SpendTotals {
  readonly key: string;
  /** With `per: 'day'`: the UTC day (YYYY-MM-DD) of this row's charges. */
  readonly day?: string;
}

/** Report order: oldest day first (when split per day), then the most spent, then by key. */
export function compareSpendRows(a: SpendRow, b: SpendRow): number {
  if (a.day !== undefined && b.day !== undefined && a.day !== b.day) return a.day < b.day ? -1 : 1;
  return b.total - a.total || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

export const ZERO_SPEND: SpendTotals = Object.freeze({ compute: 0, transfer: 0, total: 0, waste: 0, transferBytes: 0 });

export function addSpend(a: SpendTotals, b: SpendTotals): SpendTotals {
  return {
    compute: a.compute + b.compute, transfer: a.transfer + b.transfer, total: a.total + b.total,
    waste: a.waste + b.waste, transferBytes: a.transferBytes + b.transferBytes,
  };
}

/** One charge as totals. */
export function spendOf(charge: Pick<ChargeRecord, 'kind' | 'dollars' | 'bytes' | 'waste'>): SpendTotals {
  const compute = charge.kind === 'compute' ? charge.dollars : 0;
  const transfer = charge.kind === 'transfer' ? charge.dollars : 0;
  return { compute, transfer, total: charge.dollars, waste: charge.waste ? charge.dollars : 0, transferBytes: charge.kind === 'transfer' ? charge.bytes : 0 };
}

/** A job's or a report's spend; `running` is the part accrued by attempts still running (already in the totals). */
export interface SpendSummary extends SpendTotals {
  readonly running: number;
}

export interface SpendReport {
  readonly by: SpendGroup | null;
  /** `day`: each group split by UTC day, for spend over time (rows carry `day`). */
  readonly per: 'day' | null;
  /** Charges at or after this time (epoch ms); null: since the beginning. */
  readonly since: number | null;
  readonly namespace: string | null;
  readonly rows: readonly (SpendRow & { readonly running: number })[];
  readonly total: SpendSummary;
}
