import type { ReasonCode, ReasonCounts } from './status.js';

// What a plan records about each decision. Detail is capped (a few candidates, a few example
// rejections per reason) so a plan for 10,000 tasks stays small; reason counts are always exact.

export interface ScoreBreakdown {
  readonly plugin: string;
  /** What the plugin returned, clamped to 0..100. */
  readonly raw: number;
  /** After the runtime's normalisation; equals `raw` for scorers that do not normalise. */
  readonly normalized: number;
  readonly weight: number;
  readonly weighted: number;
}

export interface CandidateScore {
  readonly node: string;
  /** Sum of the weighted scores. */
  readonly total: number;
  readonly scores: readonly ScoreBreakdown[];
}

export interface NodeRejection {
  readonly node: string;
  readonly plugin: string;
  readonly reason: ReasonCode;
  readonly message: string;
}

export interface Explanation {
  readonly chosen: CandidateScore;
  /** The best feasible nodes, chosen first, then by total; at most `maxCandidates`. */
  readonly candidates: readonly CandidateScore[];
  /** Nodes that passed every filter. */
  readonly feasible: number;
  /** Nodes whose total equalled the chosen one's; the seeded PRNG picked among them. */
  readonly tied: number;
  readonly reasons: ReasonCounts;
  /** Example rejections, at most `maxRejectionsPerReason` for each reason. */
  readonly rejected: readonly NodeRejection[];
}

export interface Assignment {
  readonly taskId: string;
  readonly node: string;
  readonly explanation: Explanation;
}

export interface Unplaced {
  readonly taskId: string;
  /** Never empty: every node is counted under the reason that rejected it. */
  readonly reasons: ReasonCounts;
  /** `no node fits: 3 insufficient_cpu, 2 label_mismatch` */
  readonly message: string;
  readonly rejected: readonly NodeRejection[];
}

export interface Plan {
  readonly assignments: readonly Assignment[];
  readonly unplaced: readonly Unplaced[];
}
