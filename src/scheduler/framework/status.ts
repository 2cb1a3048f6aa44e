// The answer of a filter for one node. "Unschedulable" is an expected outcome, so it is a value
// with a stable reason code, never an exception.

/**
 * Every reason a node can be rejected for. The order is the order reasons are listed in when
 * counts tie, so messages are stable. A new filter adds its codes here.
 */
export const REASON_CODES = [
  'no_nodes',
  'node_not_ready',
  'label_mismatch',
  'insufficient_cpu',
  'insufficient_memory',
] as const;

export type ReasonCode = (typeof REASON_CODES)[number];

export interface Success {
  readonly code: 'success';
}

export interface Unschedulable {
  readonly code: 'unschedulable';
  readonly reason: ReasonCode;
  /** Says what is missing on this node, in words an operator can act on. */
  readonly message: string;
}

export type Status = Success | Unschedulable;

/** How many nodes were rejected for each reason; only reasons that occurred are present. */
export type ReasonCounts = Readonly<Partial<Record<ReasonCode, number>>>;

// Shared so that a passing filter allocates nothing: filters run once per task per node.
export const SUCCESS: Success = Object.freeze({ code: 'success' });

export function success(): Success {
  return SUCCESS;
}

export function unschedulable(reason: ReasonCode, message: string): Unschedulable {
  return { code: 'unschedulable', reason, message };
}

export function isSuccess(status: Status): status is Success {
  return status.code === 'success';
}

/** Position of each code in REASON_CODES, for counting into typed arrays. */
export const REASON_INDEX: Readonly<Record<ReasonCode, number>> = Object.fromEntries(
  REASON_CODES.map((code, index) => [code, index]),
) as Record<ReasonCode, number>;

/** `3 insufficient_cpu, 2 label_mismatch`: largest count first, ties in REASON_CODES order. */
export function formatReasonCounts(counts: ReasonCounts): string {
  const entries: Array<[ReasonCode, number]> = [];
  for (const code of REASON_CODES) {
    const n = counts[code];
    if (n !== undefined && n > 0) entries.push([code, n]);
  }
  // Array.prototype.sort is stable, so equal counts keep REASON_CODES order.
  entries.sort((a, b) => b[1] - a[1]);
  return entries.map(([code, n]) => `${n} ${code}`).join(', ');
}

/** The one-line refusal for a task no node can take. */
export function unplacedMessage(counts: ReasonCounts): string {
  if (counts.no_nodes !== undefined) return 'no node fits: the cluster has no nodes; start an agent with `atoll agent`';
  return `no node fits: ${formatReasonCounts(counts)}`;
}
