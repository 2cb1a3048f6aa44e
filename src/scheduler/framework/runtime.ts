import { AtollError } from '../../core/errors.js';
import { allocateGroupBuffers, Cycle, countsToReasons, type GroupBuffers, GroupFeasibility } from './cycle-state.js';
import type { Assignment, CandidateScore, Explanation, NodeRejection, Plan, ScoreBreakdown, Unplaced } from './explanation.js';
import type { FilterPlugin, PluginScope, Profile, ScorePlugin } from './plugin.js';
import { type Random, seededRandom } from './random.js';
import type { PlacementRequest, SchedulerSnapshot, SnapshotNode } from './snapshot.js';
import { REASON_CODES, REASON_INDEX, type ReasonCounts, type Status, unplacedMessage } from './status.js';

// The runtime owns everything plugins must not decide alone: the order filters run in, weights,
// normalisation, tie-breaking and the record of why. Work is done at the widest scope a plugin
// allows (see PluginScope): per group, per node change, or per task. The hot loop runs per task
// per node, so it reads typed arrays sized once and allocates only for the explanation.
// Typed-array reads use `!`: every index is a node or plugin position checked by construction.

export interface RuntimeOptions {
  /** Seed of the PRNG that breaks ties between equally scored nodes. */
  readonly seed: number;
  /** Candidates kept with full score detail per assignment, the chosen one included. */
  readonly maxCandidates: number;
  /** Example rejections kept per reason code; counts stay exact regardless. */
  readonly maxRejectionsPerReason: number;
}

// Totals are sums of products of floats; nodes that are equal in every input must tie even
// when they reach the same total by a different rounding path.
const TIE_EPSILON = 1e-9;

const NO_NODES_REASONS: ReasonCounts = Object.freeze({ no_nodes: 1 });
const NO_NODES_MESSAGE = unplacedMessage(NO_NODES_REASONS);
const NO_REJECTIONS: readonly NodeRejection[] = Object.freeze([]);
const SCOPES: readonly PluginScope[] = ['group', 'node', 'task'];

/** Plans every request against the snapshot, in request order, with the given profile. */
export function runCycle(
  snapshot: SchedulerSnapshot,
  requests: readonly PlacementRequest[],
  profile: Profile,
  options: RuntimeOptions,
): Plan {
  validateProfile(profile);
  validateOptions(options);
  validateRequests(requests);
  return new Runtime(new Cycle(snapshot), profile, options).run(requests);
}

class Runtime {
  private readonly nodes: readonly SnapshotNode[];
  private readonly groupFilters: readonly FilterPlugin[];
  private readonly nodeFilters: readonly FilterPlugin[];
  private readonly taskFilters: readonly FilterPlugin[];
  private readonly scorers: readonly ScorePlugin[];
  private readonly groupScorers: readonly number[];
  private readonly nodeScorers: readonly number[];
  private readonly taskScorers: readonly number[];
  private readonly weights: Float64Array;
  private readonly normalizeMax: readonly boolean[];
  // Score detail can be shared between tasks only when no score differs from task to task.
  private readonly shareCandidates: boolean;
  private readonly random: Random;
  private readonly pool: GroupBuffers[] = [];
  // Requests still to come per group key; at zero the key's buffers go back to the pool.
  private readonly remaining = new Map<string, number>();
  private lastGroup: GroupFeasibility | undefined;
  // Scratch, reused by every task of the cycle.
  private readonly factors: Float64Array;
  private readonly totals: Float64Array;
  private readonly feasible: Int32Array;
  private readonly top: Int32Array;
  private readonly taskCounts: Int32Array;
  private readonly taskSampleCounts: Int32Array;

  constructor(
    private readonly cycle: Cycle,
    private readonly profile: Profile,
    private readonly options: RuntimeOptions,
  ) {
    this.nodes = cycle.snapshot.nodes;
    this.groupFilters = profile.filters.filter((f) => f.scope === 'group');
    this.nodeFilters = profile.filters.filter((f) => f.scope === 'node');
    this.taskFilters = profile.filters.filter((f) => f.scope === 'task');
    this.scorers = profile.scorers.map((s) => s.plugin);
    const positions = (scope: PluginScope) => this.scorers.flatMap((s, p) => (s.scope === scope ? [p] : []));
    this.groupScorers = positions('group');
    this.nodeScorers = positions('node');
    this.taskScorers = positions('task');
    this.weights = Float64Array.from(profile.scorers, (s) => s.weight);
    this.normalizeMax = this.scorers.map((s) => s.normalize === 'max');
    this.shareCandidates = this.taskScorers.length === 0;
    this.random = seededRandom(options.seed);
    const n = this.nodes.length;
    this.factors = new Float64Array(this.scorers.length);
    this.totals = new Float64Array(n);
    this.feasible = new Int32Array(n);
    this.top = new Int32Array(options.maxCandidates);
    this.taskCounts = new Int32Array(REASON_CODES.length);
    this.taskSampleCounts = new Int32Array(REASON_CODES.length);
  }

  run(requests: readonly PlacementRequest[]): Plan {
    const prepared = new Set<FilterPlugin | ScorePlugin>();
    for (const plugin of [...this.profile.filters, ...this.scorers]) {
      if (plugin.prepare === undefined || prepared.has(plugin)) continue;
      prepared.add(plugin);
      plugin.prepare(this.cycle);
    }
    for (const { groupKey } of requests) this.remaining.set(groupKey, (this.remaining.get(groupKey) ?? 0) + 1);
    const assignments: Assignment[] = [];
    const unplaced: Unplaced[] = [];
    for (const task of requests) {
      const outcome = this.place(task);
      if ('node' in outcome) assignments.push(outcome);
      else unplaced.push(outcome);
      this.finishTask(task.groupKey);
    }
    return { assignments, unplaced };
  }

  private place(task: PlacementRequest): Assignment | Unplaced {
    const n = this.nodes.length;
    if (n === 0) return { taskId: task.taskId, reasons: NO_NODES_REASONS, message: NO_NODES_MESSAGE, rejected: NO_REJECTIONS };
    const group = this.groupFor(task);
    const { cycle, nodes, scorers, feasible } = this;
    const { live, stamp, raw, candidates } = group.buffers;
    const version = cycle.version;

    let taskRejections = 0;
    let taskSamples: NodeRejection[] | undefined;
    if (this.taskFilters.length > 0) {
      this.taskCounts.fill(0);
      this.taskSampleCounts.fill(0);
    }

    // Pass 1: walk the group's feasible set. Node-scoped answers are recomputed only for nodes
    // that took a placement since the group last looked; a node they reject is dropped for good
    // (they are monotone), so the set is compacted in place.
    let kept = 0;
    let feasibleCount = 0;
    for (let r = 0; r < group.liveCount; r++) {
      const index = live[r]!;
      const node = nodes[index]!;
      cycle.focus(node, index);
      if (stamp[index] !== version[index]) {
        const status = this.firstRejection(this.nodeFilters, task, node);
        if (status !== undefined) {
          group.reject(node, status.plugin, status.status);
          continue;
        }
        for (const p of this.nodeScorers) raw[p * n + index] = clampScore(scorers[p]!.score(cycle, task, node));
        stamp[index] = version[index]!;
        candidates[index] = undefined;
      }
      live[kept++] = index;

      if (this.taskFilters.length > 0) {
        const rejection = this.firstRejection(this.taskFilters, task, node);
        if (rejection !== undefined) {
          const { status, plugin } = rejection;
          const reason = REASON_INDEX[status.reason];
          this.taskCounts[reason]! += 1;
          taskRejections += 1;
          if (this.taskSampleCounts[reason]! < this.options.maxRejectionsPerReason) {
            this.taskSampleCounts[reason]! += 1;
            (taskSamples ??= []).push({ node: node.name, plugin, reason: status.reason, message: status.message });
          }
          continue;
        }
      }
      feasible[feasibleCount++] = index;
      for (const p of this.taskScorers) raw[p * n + index] = clampScore(scorers[p]!.score(cycle, task, node));
    }
    group.liveCount = kept;

    const reasons = taskRejections === 0 ? group.reasons() : countsToReasons(group.counts, this.taskCounts);
    const rejected = taskSamples === undefined ? group.rejectedSample() : [...group.rejectedSample(), ...taskSamples];
    if (feasibleCount === 0) {
      const message = taskRejections === 0 ? group.unplacedMessage() : unplacedMessage(reasons);
      return { taskId: task.taskId, reasons, message, rejected };
    }

    this.computeFactors(group, feasibleCount);

    // Pass 2: weight, pick the best; ties go to the PRNG (reservoir sampling) so equal nodes
    // share load instead of the first name taking everything.
    const { totals, top, weights, factors } = this;
    const maxTop = top.length;
    let topCount = 0;
    let best = -Infinity;
    let chosen = -1;
    let tied = 0;
    for (let f = 0; f < feasibleCount; f++) {
      const index = feasible[f]!;
      let total = 0;
      for (let p = 0; p < scorers.length; p++) total += weights[p]! * factors[p]! * raw[p * n + index]!;
      totals[index] = total;
      if (total > best + TIE_EPSILON) {
        best = total;
        chosen = index;
        tied = 1;
      } else if (total >= best - TIE_EPSILON) {
        tied += 1;
        if (this.random() * tied < 1) chosen = index;
      }
      // Keep the best few in order; strict comparison keeps earlier nodes first among equals.
      if (topCount < maxTop || total > totals[top[maxTop - 1]!]!) {
        let at = topCount < maxTop ? topCount++ : maxTop - 1;
        while (at > 0 && total > totals[top[at - 1]!]!) {
          top[at] = top[at - 1]!;
          at -= 1;
        }
        top[at] = index;
      }
    }

    const chosenScore = this.candidate(group, chosen);
    const ranked: CandidateScore[] = [chosenScore];
    for (let t = 0; t < topCount && ranked.length < maxTop; t++) {
      if (top[t] !== chosen) ranked.push(this.candidate(group, top[t]!));
    }
    cycle.reserve(chosen, task);
    const explanation: Explanation = { chosen: chosenScore, candidates: ranked, feasible: feasibleCount, tied, reasons, rejected };
    return { taskId: task.taskId, node: nodes[chosen]!.name, explanation };
  }

  private groupFor(task: PlacementRequest): GroupFeasibility {
    // Requests usually arrive group by group; checking the previous group skips the map.
    const last = this.lastGroup;
    if (last !== undefined && last.key === task.groupKey && last.matches(task)) return last;
    const group = this.cycle.findGroup(task) ?? this.buildGroup(task);
    this.lastGroup = group;
    return group;
  }

  private buildGroup(task: PlacementRequest): GroupFeasibility {
    const n = this.nodes.length;
    const buffers = this.pool.pop() ?? allocateGroupBuffers(n, this.scorers.length);
    const group = new GroupFeasibility(task, buffers, this.options.maxRejectionsPerReason);
    for (let index = 0; index < n; index++) {
      const node = this.nodes[index]!;
      this.cycle.focus(node, index);
      const rejection = this.firstRejection(this.groupFilters, task, node);
      if (rejection !== undefined) {
        group.reject(node, rejection.plugin, rejection.status);
        continue;
      }
      group.admit(index);
      for (const p of this.groupScorers) buffers.raw[p * n + index] = clampScore(this.scorers[p]!.score(this.cycle, task, node));
    }
    this.cycle.addGroup(group);
    return group;
  }

  private firstRejection(
    filters: readonly FilterPlugin[],
    task: PlacementRequest,
    node: SnapshotNode,
  ): { plugin: string; status: Exclude<Status, { code: 'success' }> } | undefined {
    for (const filter of filters) {
      const status = filter.filter(this.cycle, task, node);
      if (status.code !== 'success') return { plugin: filter.name, status };
    }
    return undefined;
  }

  /** Normalisation factors for this task; cached score detail built with other factors is stale. */
  private computeFactors(group: GroupFeasibility, feasibleCount: number): void {
    const n = this.nodes.length;
    const { raw, factors: cached, candidates } = group.buffers;
    let changed = false;
    for (let p = 0; p < this.scorers.length; p++) {
      let factor = 1;
      if (this.normalizeMax[p]) {
        let max = 0;
        for (let f = 0; f < feasibleCount; f++) max = Math.max(max, raw[p * n + this.feasible[f]!]!);
        factor = max > 0 ? 100 / max : 0;
      }
      this.factors[p] = factor;
      if (cached[p] !== factor) {
        cached[p] = factor;
        changed = true;
      }
    }
    if (changed) candidates.fill(undefined);
  }

  private candidate(group: GroupFeasibility, index: number): CandidateScore {
    const cached = group.buffers.candidates[index];
    if (cached !== undefined) return cached;
    const n = this.nodes.length;
    const scores: ScoreBreakdown[] = this.scorers.map((plugin, p) => {
      const raw = group.buffers.raw[p * n + index]!;
      const normalized = raw * this.factors[p]!;
      const weight = this.weights[p]!;
      return { plugin: plugin.name, raw, normalized, weight, weighted: weight * normalized };
    });
    const candidate: CandidateScore = { node: this.nodes[index]!.name, total: this.totals[index]!, scores };
    if (this.shareCandidates) group.buffers.candidates[index] = candidate;
    return candidate;
  }

  private finishTask(groupKey: string): void {
    const left = (this.remaining.get(groupKey) ?? 1) - 1;
    this.remaining.set(groupKey, left);
    if (left > 0) return;
    for (const group of this.cycle.removeGroups(groupKey)) {
      this.pool.push(group.buffers);
      if (group === this.lastGroup) this.lastGroup = undefined;
    }
  }
}

function clampScore(value: number): number {
  // NaN fails both comparisons and lands on 0: a broken scorer must not win a node.
  return value > 100 ? 100 : value >= 0 ? value : 0;
}

function validateProfile(profile: Profile): void {
  const filterNames = new Set<string>();
  for (const filter of profile.filters) {
    if (filterNames.has(filter.name)) throw invalid(`profile "${profile.name}" lists filter "${filter.name}" twice`);
    filterNames.add(filter.name);
    if (!SCOPES.includes(filter.scope)) throw invalid(`filter "${filter.name}" has scope "${String(filter.scope)}"; use ${SCOPES.join(', ')}`);
  }
  const scorerNames = new Set<string>();
  for (const { plugin, weight } of profile.scorers) {
    if (scorerNames.has(plugin.name)) throw invalid(`profile "${profile.name}" lists scorer "${plugin.name}" twice`);
    scorerNames.add(plugin.name);
    if (!SCOPES.includes(plugin.scope)) throw invalid(`scorer "${plugin.name}" has scope "${String(plugin.scope)}"; use ${SCOPES.join(', ')}`);
    if (!Number.isFinite(weight) || weight < 0) {
      throw invalid(`scorer "${plugin.name}" has weight ${weight}; weights must be finite and not negative`);
    }
  }
}

function validateOptions(options: RuntimeOptions): void {
  if (!Number.isFinite(options.seed)) throw invalid(`seed must be a finite number, got ${options.seed}`);
  if (!Number.isInteger(options.maxCandidates) || options.maxCandidates < 1) {
    throw invalid(`maxCandidates must be an integer of at least 1 (the chosen node), got ${options.maxCandidates}`);
  }
  if (!Number.isInteger(options.maxRejectionsPerReason) || options.maxRejectionsPerReason < 0) {
    throw invalid(`maxRejectionsPerReason must be an integer of at least 0, got ${options.maxRejectionsPerReason}`);
  }
}

function validateRequests(requests: readonly PlacementRequest[]): void {
  const ids = new Set<string>();
  for (const { taskId, resources } of requests) {
    if (ids.has(taskId)) throw invalid(`task "${taskId}" is requested twice in one scheduling call`);
    ids.add(taskId);
    const { cpuMillis, memoryBytes } = resources;
    // A negative request would free capacity on the node it lands on.
    if (!(cpuMillis >= 0 && memoryBytes >= 0 && Number.isFinite(cpuMillis) && Number.isFinite(memoryBytes))) {
      throw invalid(`task "${taskId}" requests cpu ${cpuMillis}m and memory ${memoryBytes} bytes; both must be finite and not negative`);
    }
  }
}

function invalid(message: string): AtollError {
  return new AtollError('invalid_request', message);
}
