import type { Objective } from './placement-spec.js';

// A job's estimate: where its work would go now, its cost and the bytes it would move, for each
// placement objective (server/estimates.ts makes it).

export interface EstimateOption {
  readonly objective: Objective;
  readonly placed: number;
  readonly unplaceable: number;
  /** Why tasks could not be placed: reason code -> nodes rejected for it, summed over tasks. */
  readonly reasons: Readonly<Record<string, number>>;
  /** Expected dollars: compute for each task's expected duration, and moving its inputs. */
  readonly cost: { readonly compute: number; readonly transfer: number; readonly total: number };
  readonly bytesMoved: number;
  /** Tasks per node, most first. */
  readonly nodes: readonly { readonly node: string; readonly provider: string; readonly region: string; readonly site: string; readonly tasks: number }[];
  /** Each estimated task's node (null: it would wait). */
  readonly tasks: readonly { readonly index: number; readonly stage: string; readonly node: string | null }[];
}

export interface JobEstimate {
  readonly name: string;
  readonly namespace: string;
  /** The job's own objective; its option comes first. */
  readonly objective: Objective;
  readonly tasks: number;
  /** Stages not estimated: they start later, on what earlier stages write. */
  readonly later: readonly { readonly stage: string; readonly reason: string }[];
  readonly options: readonly EstimateOption[];
}
