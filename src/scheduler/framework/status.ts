// The answer of a filter for one node. "Unschedulable" is an expected outcome, so it is a value
// with a stable reason code, never an exception.

/**
 * Every reason a node can be rejected for. The order is the order reasons are listed in when
 * counts tie, so messages are stable. A new filter adds its codes here.
 */
export const REASON_CODES = [
  'no_nodes',
  'node_not_ready',
  'policy_denied',
  'jurisdiction_not_allowed',
  'data_residency',
  'input_missing',
  'input_unavailable',
  'avoided',
  'label_mismatch',
  'untolerated_taint',
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
  /**
   * A short phrase for the summary of an unplaced task (`jurisdiction not in [EU]`). Nodes with
   * the same phrase are counted together, so it names the rule, not the node.
   */
  readonly summary: string;
  /** Says what is missing on this node, in words an operator can act on. */
  readonly message: string;
}

export type Status = Success | Unschedulable;

/** How many nodes were rejected for each reason; only reasons that occurred are present. */
export type ReasonCounts = Readonly<Partial<Record<ReasonCode, number>>>;

// Shared so that a passing filter allocates nothing: filters run once per node per group.
export const SUCCESS: Success = Object.freeze({ code: 'success' });

export function unschedulable(reason: ReasonCode, summary: string, message: string): Unschedulable {
  return { code: 'unschedulable', reason, summary, message };
}

export function isSuccess(status: Status): status is Success {
  return status.code === 'success';
}

/** Position of each code in REASON_CODES, for counting into typed arrays. */
export const REASON_INDEX: Readonly<Record<ReasonCode, number>> = Object.fromEntries(
  REASON_CODES.map((code, index) => [code, index]),
) as Record<ReasonCode, number>;

/** Counts of nodes per summary phrase, in the order the phrases were first seen. */
export type SummaryCounts = ReadonlyMap<string, { readonly reason: ReasonCode; readonly count: number }>;

/**
 * `0/40 nodes fit: 22 jurisdiction not in [EU], 12 insufficient memory, 6 untolerated taint edge`:
 * largest count first; equal counts keep REASON_CODES order, then first-seen order.
 */
export function unplacedMessage(nodeCount: number, summaries: SummaryCounts): string {
  if (nodeCount === 0) return 'no node fits: the cluster has no nodes; start an agent with `atoll agent`';
  return `0/${nodeCount} nodes fit: ${formatSummaryCounts(summaries)}`;
}

/** `22 jurisdiction not in [EU], 12 insufficient memory`: see unplacedMessage for the order. */
export function formatSummaryCounts(summaries: SummaryCounts): string {
  const entries = [...summaries].map(([phrase, { reason, count }], seen) => ({ phrase, count, order: REASON_INDEX[reason], seen }));
  entries.sort((a, b) => b.count - a.count || a.order - b.order || a.seen - b.seen);
  return entries.map((e) => `${e.count} ${e.phrase}`).join(', ');
}
