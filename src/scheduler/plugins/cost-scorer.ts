import type { ScorePlugin } from '../framework/plugin.js';
import type { CycleState } from '../framework/cycle-state.js';
import type { PlacementRequest, SnapshotNode } from '../framework/snapshot.js';
import { reservedShare } from '../../core/price-book.js';
import { LIST_TRANSFER_PRICING } from './transfer-pricing.js';

// What running the task on the node is expected to cost: the node's hourly price (from the price
// book) times the share of the node the task reserves (the larger of its cpu and memory shares)
// times the expected duration, plus moving its inputs from where they live. Lower is better.

const MS_PER_HOUR = 3_600_000;
const BYTES_PER_GB = 1e9;

export const costScorer: ScorePlugin = {
  name: 'cost',
  scope: 'group',
  normalize: 'lower-is-better',
  // Twice the cheapest price scores 0 at most: small price gaps stay small.
  minSpan: (best) => best,
  score(cycle, task, node) {
    return computeCost(cycle, task, node).total;
  },
  describe(cycle, task, node) {
    const { compute, transfer } = computeCost(cycle, task, node);
    const parts = [`$${compute.toFixed(4)} compute at $${node.priceHour}/h`];
    if (transfer > 0) parts.push(`$${transfer.toFixed(4)} transfer`);
    return parts.join(' + ');
  },
};

export function computeCost(cycle: CycleState, task: PlacementRequest, node: SnapshotNode): { compute: number; transfer: number; total: number } {
  const compute = node.priceHour * reservedShare(task.resources, node.capacity) * (task.expectedDurationMs / MS_PER_HOUR);
  let transfer = 0;
  if (task.inputs !== undefined && task.inputs.length > 0) {
    const pricing = cycle.snapshot.pricing ?? LIST_TRANSFER_PRICING;
    for (const input of task.inputs) {
      if (input.node === node.name) continue;
      const source = cycle.nodeNamed(input.node);
      // Data on a node that left the snapshot is priced as an internet transfer from nowhere known.
      const from = source ?? { ...node, name: input.node, provider: '', region: '', zone: '' };
      transfer += (input.bytes / BYTES_PER_GB) * pricing.perGb(from, node);
    }
  }
  return { compute, transfer, total: compute + transfer };
}
