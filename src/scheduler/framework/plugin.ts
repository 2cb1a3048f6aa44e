import type { CycleState } from './cycle-state.js';
import type { PlacementRequest, SnapshotNode } from './snapshot.js';
import type { Status, Unschedulable } from './status.js';

/**
 * What a plugin's answer for a node depends on; it tells the runtime how long it may reuse it.
 *
 * - `group`: only the node's own fields and what all tasks of a placement class share (their
 *   placement rules, resources, namespace). Evaluated once per class and node per cycle.
 * - `node`: also the node's own cycle state (its allocations), which changes only when a task is
 *   placed on that node. Re-evaluated for a node only after a placement on it. Both must be
 *   monotone, because allocations only grow within a cycle: a node-scoped filter that rejects a
 *   node keeps rejecting it, and a node-scoped score never rises. The runtime relies on this to
 *   keep nodes in a heap and look only at the top.
 */
export type PluginScope = 'group' | 'node';

/** Answers one yes/no question about one node for one task. */
export interface FilterPlugin {
  readonly name: string;
  readonly scope: PluginScope;
  /** Runs once per cycle before any task, to put expensive shared inputs into the cycle state. */
  prepare?(cycle: CycleState): void;
  filter(cycle: CycleState, task: PlacementRequest, node: SnapshotNode): Status;
  /**
   * The node-specific message for a rejection shown as an example. Lets a hot filter return
   * shared status constants and format words only for the few rejections anyone reads.
   */
  explain?(cycle: CycleState, task: PlacementRequest, node: SnapshotNode, status: Unschedulable): string;
}

/**
 * How the runtime turns what a scorer returns into 0..100 before weighting:
 * `none`: the value is a score already (clamped to 0..100);
 * `lower-is-better`: the value is a measurement such as ms or dollars. Over the nodes a class may
 * use, the best (lowest) gets 100 and the others lose in proportion to how much worse they are:
 * `100 * (1 - (value - best) / span)`, where span is the gap to the worst node but at least the
 * scorer's `minSpan(best)`, so that a 5% price difference does not count as the whole range.
 * Not finite: 0. Only `group`-scoped scorers may ask for it, so the mapping stays fixed while a
 * class is placed.
 */
export type Normalization = 'none' | 'lower-is-better';

/** Rates a feasible node (higher is better after normalisation). It never sees its weight. */
export interface ScorePlugin {
  readonly name: string;
  readonly scope: PluginScope;
  readonly normalize?: Normalization;
  /** For lower-is-better: the smallest gap between best and worst that counts as the full range. */
  minSpan?(best: number): number;
  prepare?(cycle: CycleState): void;
  score(cycle: CycleState, task: PlacementRequest, node: SnapshotNode): number;
  /** The measurement in words, for explanations; called only for nodes that are shown. */
  describe?(cycle: CycleState, task: PlacementRequest, node: SnapshotNode, raw: number): string | undefined;
}

export interface WeightedScorer {
  readonly plugin: ScorePlugin;
  /** Finite and non-negative; a node's total is the sum of weight * normalised score. */
  readonly weight: number;
}

/** The plugins one scheduling pass runs, and the default weights of its scorers. */
export interface Profile {
  readonly name: string;
  /** Run in this order within each scope; group filters run before node filters. */
  readonly filters: readonly FilterPlugin[];
  readonly scorers: readonly WeightedScorer[];
}
