import { AtollError } from '../core/errors.js';
import type { Plan } from './framework/explanation.js';
import type { Profile } from './framework/plugin.js';
import { runCycle } from './framework/runtime.js';
import type { PlacementRequest, SchedulerSnapshot } from './framework/snapshot.js';
import { labelSelectorFilter } from './plugins/label-selector-filter.js';
import { leastAllocatedScorer } from './plugins/least-allocated-scorer.js';
import { nodeReadyFilter } from './plugins/node-ready-filter.js';
import { resourceFitFilter } from './plugins/resource-fit-filter.js';

// The scheduler's front door: a snapshot and requests in, a plan out. Pure; callers inject the
// clock (snapshot.now) and the seed, so the same inputs always give the same plan.

export type { Assignment, CandidateScore, Explanation, NodeRejection, Plan, ScoreBreakdown, Unplaced } from './framework/explanation.js';
export type { FilterPlugin, Normalization, PluginScope, Profile, ScorePlugin, WeightedScorer } from './framework/plugin.js';
export type { CycleKey, CycleState } from './framework/cycle-state.js';
export { cycleKey } from './framework/cycle-state.js';
export type { PlacementRequest, SchedulerSnapshot, SnapshotNode } from './framework/snapshot.js';
export { snapshotNodeFrom } from './framework/snapshot.js';
export type { ReasonCode, ReasonCounts, Status } from './framework/status.js';
export { REASON_CODES } from './framework/status.js';

/** Readiness and labels first (cheap, cached per group), then resource fit; spread by free share. */
export const DEFAULT_PROFILE: Profile = Object.freeze({
  name: 'default',
  filters: Object.freeze([nodeReadyFilter, labelSelectorFilter, resourceFitFilter]),
  scorers: Object.freeze([Object.freeze({ plugin: leastAllocatedScorer, weight: 1 })]),
});

export interface ScheduleOptions {
  /** Seed of the tie-breaking PRNG; default 0. */
  readonly seed?: number;
  /** Plugins and weights to run; default DEFAULT_PROFILE. */
  readonly profile?: Profile;
  /** Weight overrides by scorer name, applied on top of the profile. */
  readonly weights?: Readonly<Record<string, number>>;
  /** Candidates kept with full score detail per assignment; default 5. */
  readonly maxCandidates?: number;
  /** Example node rejections kept per reason code; default 3. */
  readonly maxRejectionsPerReason?: number;
}

/** Places each request on a node, in request order; later requests see earlier placements. */
export function schedule(snapshot: SchedulerSnapshot, requests: readonly PlacementRequest[], options: ScheduleOptions = {}): Plan {
  const base = options.profile ?? DEFAULT_PROFILE;
  const profile = options.weights === undefined ? base : withWeights(base, options.weights);
  return runCycle(snapshot, requests, profile, {
    seed: options.seed ?? 0,
    maxCandidates: options.maxCandidates ?? 5,
    maxRejectionsPerReason: options.maxRejectionsPerReason ?? 3,
  });
}

/** The profile with some scorer weights replaced; unknown names are refused, not ignored. */
export function withWeights(profile: Profile, weights: Readonly<Record<string, number>>): Profile {
  const known = new Set(profile.scorers.map((s) => s.plugin.name));
  for (const name of Object.keys(weights)) {
    if (!known.has(name)) {
      throw new AtollError('invalid_request', `no scorer "${name}" in profile "${profile.name}"; known: ${[...known].join(', ')}`);
    }
  }
  return {
    ...profile,
    scorers: profile.scorers.map((s) => ({ plugin: s.plugin, weight: weights[s.plugin.name] ?? s.weight })),
  };
}
