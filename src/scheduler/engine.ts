import { AtollError } from '../core/errors.js';
import type { Objective, ObjectiveWeights } from '../core/placement-spec.js';
import type { PolicySpec } from '../core/policy-spec.js';
import { Cycle } from './framework/cycle-state.js';
import type { Plan } from './framework/explanation.js';
import type { FilterPlugin, Profile } from './framework/plugin.js';
import type { PlacementCache } from './framework/placement-cache.js';
import { runCycle } from './framework/runtime.js';
import type { PlacementRequest, SchedulerSnapshot, SnapshotNode } from './framework/snapshot.js';
import type { Unschedulable } from './framework/status.js';
import { affinityScorer } from './plugins/affinity-scorer.js';
import { avoidFilter } from './plugins/avoid-filter.js';
import { costScorer } from './plugins/cost-scorer.js';
import { labelSelectorFilter } from './plugins/label-selector-filter.js';
import { latencyScorer } from './plugins/latency-scorer.js';
import { localityScorer } from './plugins/locality-scorer.js';
import { leastAllocatedScorer } from './plugins/least-allocated-scorer.js';
import { nodeReadyFilter } from './plugins/node-ready-filter.js';
import { policyFilter } from './plugins/policy-filter.js';
import { dataHolderFilter } from './plugins/data-holder-filter.js';
import { dataResidencyFilter } from './plugins/data-residency-filter.js';
import { residencyFilter } from './plugins/residency-filter.js';
import { resourceFitFilter } from './plugins/resource-fit-filter.js';
import { taintTolerationFilter } from './plugins/taint-toleration-filter.js';

// The scheduler's front door: a snapshot and requests in, a plan out. Pure; callers inject the
// clock (snapshot.now) and the seed, so the same inputs always give the same plan.

export type { Assignment, CandidateScore, Explanation, NodeRejection, Plan, ScoreBreakdown, SpreadExplanation, Unplaced } from './framework/explanation.js';
export type { FilterPlugin, Normalization, PluginScope, Profile, ScorePlugin, WeightedScorer } from './framework/plugin.js';
export type { CycleKey, CycleState } from './framework/cycle-state.js';
export { cycleKey } from './framework/cycle-state.js';
export type { PlacementRequest, SchedulerSnapshot, SnapshotNode, TaskInput, TransferPricing } from './framework/snapshot.js';
export { snapshotNodeFrom } from './framework/snapshot.js';
export type { ReasonCode, ReasonCounts, Status } from './framework/status.js';
export { REASON_CODES } from './framework/status.js';
export { Compliance } from './compliance.js';
export { PlacementCache } from './framework/placement-cache.js';
export { requestFromJob, stageGroupKey } from './requests.js';
export { bookTransferPricing, LIST_TRANSFER_PRICING } from './plugins/transfer-pricing.js';

/**
 * Hard filters from the cheapest and most selective to the rest; the last (resource fit) is the
 * only one whose answer changes within a cycle. Scorer weights here are the `balanced` preset.
 */
export const DEFAULT_PROFILE: Profile = Object.freeze({
  name: 'default',
  filters: Object.freeze([nodeReadyFilter, policyFilter, residencyFilter, dataResidencyFilter, dataHolderFilter, avoidFilter, labelSelectorFilter, taintTolerationFilter, resourceFitFilter]),
  scorers: Object.freeze([
    Object.freeze({ plugin: latencyScorer, weight: 1 }),
    Object.freeze({ plugin: costScorer, weight: 1 }),
    Object.freeze({ plugin: leastAllocatedScorer, weight: 1 }),
    Object.freeze({ plugin: affinityScorer, weight: 1 }),
    Object.freeze({ plugin: localityScorer, weight: 1 }),
  ]),
});

/**
 * Scorer weights per objective. `latency` and `cost` let their own scorer dominate but keep a
 * little of the other, so ties among equally near (or equally cheap) nodes go the sensible way.
 */
export const OBJECTIVE_WEIGHTS: Readonly<Record<Objective, Readonly<Required<ObjectiveWeights>>>> = Object.freeze({
  balanced: Object.freeze({ latency: 1, cost: 1, load: 1, affinity: 1, locality: 1 }),
  latency: Object.freeze({ latency: 4, cost: 0.25, load: 0.5, affinity: 1, locality: 1 }),
  cost: Object.freeze({ latency: 0.25, cost: 4, load: 0.5, affinity: 1, locality: 0.5 }),
});

/** The weights a task's placement asks for: its objective's preset with its own overrides. */
export function weightsForTask(task: PlacementRequest): Readonly<Record<string, number>> {
  const { optimize, weights } = task.placement;
  return weights === undefined ? OBJECTIVE_WEIGHTS[optimize] : { ...OBJECTIVE_WEIGHTS[optimize], ...weights };
}

export interface ScheduleOptions {
  /** Seed of the tie-breaking PRNG; default 0. */
  readonly seed?: number;
  /** Plugins and default weights; default DEFAULT_PROFILE, whose weights follow each task's `optimize`. */
  readonly profile?: Profile;
  /** Candidates kept with full score detail per assignment, the chosen one included; default 3. */
  readonly maxCandidates?: number;
  /** Example node rejections kept per reason code; default 3. */
  readonly maxRejectionsPerReason?: number;
  /** When given, the ms spent placing each request is written at its position. */
  readonly timings?: Float64Array;
  /** Keeps per-class work across calls while `snapshot.fleetVersion` stays the same. */
  readonly cache?: PlacementCache;
}

/** Places each request on a node, in request order; later requests see earlier placements. */
export function schedule(snapshot: SchedulerSnapshot, requests: readonly PlacementRequest[], options: ScheduleOptions = {}): Plan {
  const profile = options.profile ?? DEFAULT_PROFILE;
  return runCycle(snapshot, requests, profile, {
    seed: options.seed ?? 0,
    maxCandidates: options.maxCandidates ?? 3,
    maxRejectionsPerReason: options.maxRejectionsPerReason ?? 3,
    ...(profile === DEFAULT_PROFILE ? { weightsFor: weightsForTask } : {}),
    ...(options.timings === undefined ? {} : { timings: options.timings }),
    ...(options.cache === undefined ? {} : { cache: options.cache }),
  });
}

/** A node a hard rule rejects, and which rule. */
export interface HardRejection {
  readonly plugin: string;
  readonly reason: string;
  readonly summary: string;
  readonly message: string;
}

/**
 * Every hard rule except capacity, for one task on one node: readiness, policy, residency, avoid,
 * require and taints. Used to ask "would this policy block that work?" without planning.
 */
export function checkHardRules(policies: readonly PolicySpec[], request: PlacementRequest, node: SnapshotNode): HardRejection | undefined {
  return hardRuleChecker(policies, [node])(request, node);
}

/**
 * checkHardRules for many questions over one fleet: the policies are compiled and the cycle
 * built once. `node` must be one of `nodes` (the same object).
 */
export function hardRuleChecker(policies: readonly PolicySpec[], nodes: readonly SnapshotNode[]): (request: PlacementRequest, node: SnapshotNode) => HardRejection | undefined {
  const cycle = new Cycle({ now: 0, nodes, policies });
  const filters = DEFAULT_PROFILE.filters.filter((f) => f.scope === 'group');
  return (request, node) => {
    cycle.focus(node, cycle.nodeIndex(node));
    const rejection = firstRejection(filters, cycle, request, node);
    if (rejection === undefined) return undefined;
    const { filter, status } = rejection;
    return { plugin: filter.name, reason: status.reason, summary: status.summary, message: filter.explain?.(cycle, request, node, status) ?? status.message };
  };
}

/**
 * Defence in depth: replays a plan against the snapshot with every filter of the profile and
 * fresh capacity accounting, and throws if any assignment breaks a hard rule or overfills a
 * node. Such a plan is a scheduler bug; it must never reach the store.
 */
export function verifyPlan(snapshot: SchedulerSnapshot, requests: readonly PlacementRequest[], plan: Plan, profile: Profile = DEFAULT_PROFILE): void {
  const cycle = new Cycle(snapshot);
  const byId = new Map(requests.map((r) => [r.taskId, r]));
  for (const assignment of plan.assignments) {
    const request = byId.get(assignment.taskId);
    const index = cycle.indexOfName(assignment.node);
    if (request === undefined || index === undefined) {
      throw new AtollError('internal', `scheduler bug: plan assigns ${assignment.taskId} to ${assignment.node}, which the request or snapshot does not have`);
    }
    const node = snapshot.nodes[index]!;
    cycle.focus(node, index);
    const rejection = firstRejection(profile.filters, cycle, request, node);
    if (rejection !== undefined) {
      const { filter, status } = rejection;
      const why = filter.explain?.(cycle, request, node, status) ?? status.message;
      throw new AtollError('internal', `scheduler bug: plan puts ${assignment.taskId} on ${node.name}, which ${filter.name} rejects: ${why}`);
    }
    cycle.reserve(index, request);
  }
}

function firstRejection(filters: readonly FilterPlugin[], cycle: Cycle, request: PlacementRequest, node: SnapshotNode): { filter: FilterPlugin; status: Unschedulable } | undefined {
  for (const filter of filters) {
    const status = filter.filter(cycle, request, node);
    if (status.code !== 'success') return { filter, status };
  }
  return undefined;
}
