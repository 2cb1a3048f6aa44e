import type { CycleState } from './cycle-state.js';
import type { PlacementRequest, SnapshotNode } from './snapshot.js';
import type { Status } from './status.js';

/**
 * What a plugin's answer for a node depends on; it tells the runtime how long it may reuse it.
 *
 * - `group`: only the node's own fields and what all tasks of a group share (constraints,
 *   resources, per-stage inputs). Evaluated once per group per cycle.
 * - `node`: also the node's own cycle state (its allocations, what this cycle placed on it),
 *   which changes only when a task is placed on that node. Re-evaluated for a node only after a
 *   placement on it. A node-scoped filter must be monotone: allocations only grow within a cycle,
 *   so once it rejects a node the runtime drops the node from the group for the rest of the cycle.
 * - `task`: anything else: fields that differ between tasks of one group, other nodes' state, or
 *   a rule that is not monotone. Evaluated for every task on every node still feasible.
 */
export type PluginScope = 'group' | 'node' | 'task';

/** Answers one yes/no question about one node for one task. */
export interface FilterPlugin {
  readonly name: string;
  readonly scope: PluginScope;
  /** Runs once per cycle before any task, to put expensive shared inputs into the cycle state. */
  prepare?(cycle: CycleState): void;
  filter(cycle: CycleState, task: PlacementRequest, node: SnapshotNode): Status;
}

/**
 * How the runtime turns a scorer's raw values into 0..100 before weighting:
 * `none` uses them as they are (clamped to 0..100); `max` scales them so the best feasible
 * node for the task gets 100, for scorers whose raw values are only meaningful relative to
 * each other.
 */
export type Normalization = 'none' | 'max';

/** Rates a feasible node 0..100 (higher is better). It never sees its weight. */
export interface ScorePlugin {
  readonly name: string;
  readonly scope: PluginScope;
  readonly normalize?: Normalization;
  prepare?(cycle: CycleState): void;
  score(cycle: CycleState, task: PlacementRequest, node: SnapshotNode): number;
}

export interface WeightedScorer {
  readonly plugin: ScorePlugin;
  /** Finite and non-negative; a node's total is the sum of weight * normalised score. */
  readonly weight: number;
}

/** The plugins one scheduling pass runs, and the weights of its scorers. */
export interface Profile {
  readonly name: string;
  /** Run in this order within each scope; scopes run group, then node, then task. */
  readonly filters: readonly FilterPlugin[];
  readonly scorers: readonly WeightedScorer[];
}
