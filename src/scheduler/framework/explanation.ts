import type { ReasonCode, ReasonCounts } from './status.js';

// What a plan records about each decision. Detail is capped (a few candidates, a few example
// rejections per reason) so a plan for 10,000 tasks stays small; reason counts are always exact.

export interface ScoreBreakdown {
  readonly plugin: string;
  /** What the plugin measured: a 0..100 score, or a quantity such as ms or dollars. */
  readonly raw: number;
  /** Mapped to 0..100 by the runtime (see Normalization); equals `raw` for 0..100 scorers. */
  readonly normalized: number;
  readonly weight: number;
  readonly weighted: number;
  /** The measurement in words (`~14 ms to 2 user locations`), when the plugin gives one. */
  readonly detail?: string;
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

/** How the task's spread rule narrowed the choice; absent when the job has none. */
export interface SpreadExplanation {
  readonly across: string;
  readonly maxSkew: number;
  /** The domain the task went to, and the job's tasks there before this one. */
  readonly domain: string;
  readonly domainCount: number;
  /** The job's tasks in its least used domain that could take work. */
  readonly leastCount: number;
  /** Domains that could take the task (some capacity left, every hard rule met). */
  readonly openDomains: number;
}

export interface Explanation {
  readonly chosen: CandidateScore;
  /** The chosen node, then the best runner-ups by total; at most `maxCandidates`. */
  readonly candidates: readonly CandidateScore[];
  /** Nodes that passed the hard filters and had not been found full when the task was placed. */
  readonly feasible: number;
  /** Nodes in the snapshot. */
  readonly nodes: number;
  readonly reasons: ReasonCounts;
  /** The rejected nodes counted by rule: `2 jurisdiction not in [EU], 1 untolerated taint edge`. */
  readonly rejectedSummary: string;
  /** Example rejections, at most `maxRejectionsPerReason` for each reason. */
  readonly rejected: readonly NodeRejection[];
  readonly spread?: SpreadExplanation;
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
  /** `0/40 nodes fit: 22 jurisdiction not in [EU], 12 insufficient memory` */
  readonly message: string;
  readonly rejected: readonly NodeRejection[];
}

export interface Plan {
  readonly assignments: readonly Assignment[];
  readonly unplaced: readonly Unplaced[];
}
