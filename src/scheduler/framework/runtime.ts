import { AtollError } from '../../core/errors.js';
import type { SpreadDomain } from '../../core/placement-spec.js';
import { Cycle } from './cycle-state.js';
import type { Assignment, CandidateScore, Explanation, Plan, ScoreBreakdown, SpreadExplanation, Unplaced } from './explanation.js';
import type { NodeHeap } from './node-heap.js';
import type { PlacementCache } from './placement-cache.js';
import { allocateClassBuffers, type ClassBase, type ClassBuffers, type Domains, domainsBy, PlacementClass } from './placement-class.js';
import type { FilterPlugin, PluginScope, Profile, ScorePlugin } from './plugin.js';
import { seededPermutation } from './random.js';
import { Rejections } from './rejections.js';
import type { PlacementRequest, SchedulerSnapshot, SnapshotNode } from './snapshot.js';
import { type ReasonCounts, type Unschedulable, unschedulable } from './status.js';

// The runtime owns everything plugins must not decide alone: the order filters run in, weights,
// normalisation, tie-breaking and the record of why.
//
// Work is done at the widest scope a plugin allows. Group filters and scorers run once per
// placement class and node. The admitted nodes go into max-heaps keyed by their total score;
// node-scoped answers (resource fit, load) change only for a node that took a placement, and
// only downwards, so a heap entry is an upper bound that is re-checked lazily when it reaches
// the top. Placing a task therefore costs O(log n) rather than a walk over the whole fleet.
// Typed-array reads use `!`: every index is a node or plugin position checked by construction.

export interface RuntimeOptions {
  /** Seed of the PRNG that orders equally scored nodes. */
  readonly seed: number;
  /** Candidates kept with full score detail per assignment, the chosen one included. */
  readonly maxCandidates: number;
  /** Example rejections kept per reason code; counts stay exact regardless. */
  readonly maxRejectionsPerReason: number;
  /** Scorer weights for a task (e.g. from its `optimize`); the profile's weights when left out. */
  readonly weightsFor?: (task: PlacementRequest) => Readonly<Record<string, number>>;
  /** When given, the time spent placing each request (ms) is written at its position. */
  readonly timings?: Float64Array;
  /** Class bases kept across cycles; used only when the snapshot has a `fleetVersion`. */
  readonly cache?: PlacementCache;
}

const SCOPES: readonly PluginScope[] = ['group', 'node'];
const NO_NODES: ReasonCounts = Object.freeze({ no_nodes: 1 });
// Stands in for a node-scoped entry until the candidate fills it in.
const PENDING: ScoreBreakdown = Object.freeze({ plugin: '', raw: 0, normalized: 0, weight: 0, weighted: 0 });
const NO_REJECTION: Unschedulable = Object.freeze(unschedulable('no_nodes', 'none', 'none'));
// Totals are rounded so nodes equal in every input tie even if float sums differ in the last bit.
const KEY_SCALE = 1e6;

/** Plans every request against the snapshot, in request order, with the given profile. */
export function runCycle(snapshot: SchedulerSnapshot, requests: readonly PlacementRequest[], profile: Profile, options: RuntimeOptions): Plan {
  validateProfile(profile);
  validateOptions(options, requests.length);
  validateRequests(requests);
  return new Runtime(new Cycle(snapshot, options.cache?.nodeIndexFor(snapshot)), profile, options).run(requests);
}

class Runtime {
  private readonly nodes: readonly SnapshotNode[];
  private readonly groupFilters: readonly FilterPlugin[];
  private readonly nodeFilters: readonly FilterPlugin[];
  private readonly scorers: readonly ScorePlugin[];
  private readonly groupScorers: readonly number[];
  private readonly nodeScorers: readonly number[];
  private readonly lowerIsBetter: readonly boolean[];
  /** A seeded permutation: among equal totals the lower rank is taken first. */
  private readonly rank: Int32Array;
  private readonly classes = new Map<string, PlacementClass>();
  private readonly classKeys = new WeakMap<object, string>();
  private readonly domains = new Map<SpreadDomain, Domains>();
  /** Tasks of each group per spread domain, by `${groupKey}\0${field}`. */
  private readonly spreadCounts = new Map<string, Int32Array>();
  // Scratch for spread: each domain's fresh top, and the tops of the domains a task may use.
  private domainTops = new Int32Array(0);
  private readonly eligibleTops: number[] = [];
  private leastCount = 0;
  private openDomains = 0;
  // The request a class was built from: every task of the class agrees with it on what plugins read.
  private readonly sampleTask = new Map<PlacementClass, PlacementRequest>();
  /** Buffers of finished classes, for the next class to reuse. */
  private readonly pool: ClassBuffers[];
  /** Classes are kept in the cache between cycles (a cache and a fleet version were given). */
  private readonly keeping: boolean;
  /** The status of the last rejection firstRejection found. */
  private rejection: Unschedulable = NO_REJECTION;

  constructor(
    private readonly cycle: Cycle,
    private readonly profile: Profile,
    private readonly options: RuntimeOptions,
  ) {
    this.nodes = cycle.snapshot.nodes;
    this.groupFilters = profile.filters.filter((f) => f.scope === 'group');
    this.nodeFilters = profile.filters.filter((f) => f.scope === 'node');
    this.scorers = profile.scorers.map((s) => s.plugin);
    this.groupScorers = this.positions('group');
    this.nodeScorers = this.positions('node');
    this.lowerIsBetter = this.scorers.map((s) => s.normalize === 'lower-is-better');
    this.rank = seededPermutation(this.nodes.length, options.seed);
    const fits = (b: ClassBuffers) => b.nodeCount === this.nodes.length && b.nodeRaw.length === this.nodes.length * this.nodeScorers.length;
    this.pool = (options.cache?.buffers ?? []).filter(fits);
    if (options.cache !== undefined) options.cache.buffers = [];
    this.keeping = options.cache !== undefined && cycle.snapshot.fleetVersion !== undefined;
  }

  run(requests: readonly PlacementRequest[]): Plan {
    const prepared = new Set<FilterPlugin | ScorePlugin>();
    for (const plugin of [...this.profile.filters, ...this.scorers]) {
      if (plugin.prepare === undefined || prepared.has(plugin)) continue;
      prepared.add(plugin);
      plugin.prepare(this.cycle);
    }
    let previous: PlacementRequest | undefined;
    let previousKey = '';
    const keys = requests.map((task) => {
      // Tasks of a job arrive together and share their spec objects: reuse the key.
      if (previous === undefined || !sameClassInputs(previous, task)) previousKey = this.classKeyOf(task);
      previous = task;
      return previousKey;
    });
    const remaining = new Map<string, number>();
    for (const key of keys) remaining.set(key, (remaining.get(key) ?? 0) + 1);
    const assignments: Assignment[] = [];
    const unplaced: Unplaced[] = [];
    const { timings } = this.options;
    for (let r = 0; r < requests.length; r++) {
      const started = timings === undefined ? 0 : performance.now();
      const task = requests[r]!;
      const key = keys[r]!;
      const cls = this.classes.get(key) ?? this.buildClass(key, task, remaining.get(key)!);
      const outcome = this.place(cls, task);
      if ('node' in outcome) assignments.push(outcome);
      else unplaced.push(outcome);
      if (--cls.remaining === 0) this.finishClass(key, cls);
      if (timings !== undefined) timings[r] = performance.now() - started;
    }
    const { cache } = this.options;
    if (cache !== undefined) cache.buffers = [...this.pool, ...cache.buffers].slice(0, 8);
    return { assignments, unplaced };
  }

  private place(cls: PlacementClass, task: PlacementRequest): Assignment | Unplaced {
    const spread = task.placement.spread;
    const domains = cls.domains;
    let chosen: number;
    let spreadExplanation: SpreadExplanation | undefined;
    let counts: Int32Array | undefined;
    if (spread === undefined || domains === undefined) {
      chosen = this.freshTop(cls, cls.heaps[0]!);
    } else {
      counts = this.countsFor(task.groupKey, domains);
      chosen = this.pickSpread(cls, counts, spread.maxSkew);
      if (chosen >= 0) {
        const domain = domains.of[chosen]!;
        spreadExplanation = { across: domains.field, maxSkew: spread.maxSkew, domain: domains.names[domain]!, domainCount: counts[domain]!, leastCount: this.leastCount, openDomains: this.openDomains };
      }
    }
    if (chosen < 0) {
      const { rejections } = cls;
      const reasons = this.nodes.length === 0 ? NO_NODES : rejections.reasons();
      return { taskId: task.taskId, reasons, message: rejections.unplacedMessage(this.nodes.length), rejected: rejections.samplesShown() };
    }

    const candidates = this.rankCandidates(cls, task, chosen, counts !== undefined);
    const explanation: Explanation = {
      chosen: candidates[0]!,
      candidates,
      feasible: cls.live,
      nodes: this.nodes.length,
      reasons: cls.rejections.reasons(),
      rejectedSummary: cls.rejections.summary(),
      rejected: cls.rejections.samplesShown(),
      ...(spreadExplanation === undefined ? {} : { spread: spreadExplanation }),
    };
    this.cycle.reserve(chosen, task);
    if (counts !== undefined) counts[domains!.of[chosen]!]! += 1;
    return { taskId: task.taskId, node: this.nodes[chosen]!.name, explanation };
  }

  /**
   * The best node of a heap, after re-checking it if it took a placement since it was scored:
   * a node the node filters now reject leaves the class; otherwise its new (lower) total sinks.
   */
  private freshTop(cls: PlacementClass, heap: NodeHeap): number {
    const { version } = this.cycle;
    for (;;) {
      const index = heap.peek();
      if (index < 0 || cls.stamp[index] === version[index]) return index;
      if (this.refresh(cls, index)) heap.topDecreased();
      else heap.pop();
    }
  }

  /** Re-runs node filters and scorers for a node; false (and counted) when it no longer fits. */
  private refresh(cls: PlacementClass, index: number): boolean {
    const node = this.nodes[index]!;
    const task = this.sampleTask.get(cls)!;
    this.cycle.focus(node, index);
    const rejecter = this.firstRejection(this.nodeFilters, task, node);
    if (rejecter !== undefined) {
      this.putOut(cls, task, node, index, rejecter);
      cls.live -= 1;
      return false;
    }
    this.scoreNodePart(cls, task, node, index);
    return true;
  }

  private scoreNodePart(cls: PlacementClass, task: PlacementRequest, node: SnapshotNode, index: number): void {
    const n = this.nodes.length;
    let total = cls.base.groupPart[index]!;
    for (let slot = 0; slot < this.nodeScorers.length; slot++) {
      const p = this.nodeScorers[slot]!;
      const raw = clampScore(this.scorers[p]!.score(this.cycle, task, node));
      cls.nodeRaw[slot * n + index] = raw;
      total += cls.weights[p]! * raw;
    }
    cls.total[index] = Math.round(total * KEY_SCALE) / KEY_SCALE;
    cls.stamp[index] = this.cycle.version[index]!;
    this.markSeen(cls, index);
    cls.takeIn(index);
    cls.candidates.delete(index);
  }

  /**
   * Spread: the best node among domains within maxSkew of the least used domain that can still
   * take the task. Leaves the fresh tops of those domains in `eligibleTops` for the explanation.
   */
  private pickSpread(cls: PlacementClass, counts: Int32Array, maxSkew: number): number {
    const tops = this.domainTops;
    const active = cls.activeDomains;
    let least = Number.POSITIVE_INFINITY;
    // Walk only domains that still have nodes; a domain found empty is dropped for the cycle.
    for (let a = 0; a < cls.activeCount; ) {
      const d = active[a]!;
      const top = this.freshTop(cls, cls.heaps[d]!);
      if (top < 0) {
        cls.retireDomain(a);
        continue;
      }
      tops[d] = top;
      if (counts[d]! < least) least = counts[d]!;
      a += 1;
    }
    const eligible = this.eligibleTops;
    eligible.length = 0;
    let chosen = -1;
    for (let a = 0; a < cls.activeCount; a++) {
      const d = active[a]!;
      if (counts[d]! + 1 - least > maxSkew) continue;
      const top = tops[d]!;
      eligible.push(top);
      if (chosen < 0 || this.before(cls, top, chosen)) chosen = top;
    }
    this.leastCount = least;
    this.openDomains = cls.activeCount;
    return chosen;
  }

  private before(cls: PlacementClass, a: number, b: number): boolean {
    const ta = cls.total[a]!;
    const tb = cls.total[b]!;
    return ta > tb || (ta === tb && this.rank[a]! < this.rank[b]!);
  }

  /**
   * The chosen node first, then the best runner-ups: the next fresh nodes of the chosen node's
   * heap and, with spread, the tops of the other domains the task could have gone to.
   */
  private rankCandidates(cls: PlacementClass, task: PlacementRequest, chosen: number, spread: boolean): CandidateScore[] {
    const wanted = this.options.maxCandidates - 1;
    const result = [this.candidate(cls, task, chosen)];
    if (wanted === 0) return result;
    const heap = cls.heapOf(chosen);
    const others: number[] = [];
    heap.pop();
    while (others.length < wanted) {
      const next = this.freshTop(cls, heap);
      if (next < 0) break;
      others.push(heap.pop());
    }
    heap.push(chosen);
    for (const index of others) heap.push(index);
    // The heap gave its best in order; other domains' tops are merged in, keeping the best few.
    if (spread) for (const top of this.eligibleTops) if (top !== chosen) this.insertRanked(cls, others, top, wanted);
    for (const index of others) result.push(this.candidate(cls, task, index));
    return result;
  }

  /** Inserts a node into a list ranked best first, keeping at most `limit` entries. */
  private insertRanked(cls: PlacementClass, ranked: number[], index: number, limit: number): void {
    let at = ranked.length;
    while (at > 0 && this.before(cls, index, ranked[at - 1]!)) at -= 1;
    if (at >= limit) return;
    ranked.splice(at, 0, index);
    if (ranked.length > limit) ranked.pop();
  }

  private candidate(cls: PlacementClass, task: PlacementRequest, index: number): CandidateScore {
    const cached = cls.candidates.get(index);
    if (cached !== undefined) return cached;
    const node = this.nodes[index]!;
    this.cycle.focus(node, index);
    // Group-scoped entries never change within a cycle: build them once per node and class.
    let scores = cls.groupBreakdowns.get(index);
    if (scores === undefined) {
      scores = this.scorers.map((_, p) => (this.scorers[p]!.scope === 'group' ? this.breakdown(cls, p, task, node, this.groupRaw(p, task, node)) : PENDING));
      cls.groupBreakdowns.set(index, scores);
    }
    if (this.nodeScorers.length > 0) {
      scores = scores.slice();
      const n = this.nodes.length;
      for (let slot = 0; slot < this.nodeScorers.length; slot++) {
        const p = this.nodeScorers[slot]!;
        scores[p] = this.breakdown(cls, p, task, node, cls.nodeRaw[slot * n + index]!);
      }
    }
    const candidate: CandidateScore = { node: node.name, total: cls.total[index]!, scores };
    cls.candidates.set(index, candidate);
    return candidate;
  }

  private breakdown(cls: PlacementClass, p: number, task: PlacementRequest, node: SnapshotNode, raw: number): ScoreBreakdown {
    const plugin = this.scorers[p]!;
    const normalized = this.normalized(cls.base.ranges, p, raw);
    const weight = cls.weights[p]!;
    const detail = plugin.describe?.(this.cycle, task, node, raw);
    const entry: { -readonly [K in keyof ScoreBreakdown]: ScoreBreakdown[K] } = { plugin: plugin.name, raw, normalized, weight, weighted: weight * normalized };
    if (detail !== undefined) entry.detail = detail;
    return entry;
  }

  private groupRaw(p: number, task: PlacementRequest, node: SnapshotNode): number {
    const value = this.scorers[p]!.score(this.cycle, task, node);
    return this.lowerIsBetter[p] ? value : clampScore(value);
  }

  private normalized(ranges: Float64Array, p: number, raw: number): number {
    if (!this.lowerIsBetter[p]) return raw;
    if (!Number.isFinite(raw)) return 0;
    const best = ranges[2 * p]!;
    const span = ranges[2 * p + 1]!;
    return span > 0 ? Math.max(0, 100 * (1 - (raw - best) / span)) : 100;
  }

  private buildClass(key: string, task: PlacementRequest, remaining: number): PlacementClass {
    const spread = task.placement.spread;
    const domains = spread === undefined ? undefined : this.domainsFor(spread.across);
    if (domains !== undefined && this.domainTops.length < domains.names.length) this.domainTops = new Int32Array(domains.names.length);
    const version = this.cycle.snapshot.fleetVersion;
    const kept = this.keeping ? this.options.cache!.takeClass(version!, key, this.options.seed) : undefined;
    const cls = kept === undefined ? this.freshClass(key, task, domains) : this.resumeClass(kept, task);
    cls.remaining = remaining;
    this.classes.set(key, cls);
    return cls;
  }

  /** A class built from its base: node filters and scores for every admitted node, then heaps. */
  private freshClass(key: string, task: PlacementRequest, domains: Domains | undefined): PlacementClass {
    const base = this.baseFor(key, task);
    const buffers = this.pool.pop() ?? allocateClassBuffers(this.nodes.length, this.nodeScorers.length);
    const cls = new PlacementClass(base, buffers, domains, this.rank);
    this.sampleTask.set(cls, task);
    for (const index of base.admitted) {
      const node = this.nodes[index]!;
      this.cycle.focus(node, index);
      const rejecter = this.firstRejection(this.nodeFilters, task, node);
      if (rejecter !== undefined) {
        this.putOut(cls, task, node, index, rejecter);
        continue;
      }
      this.scoreNodePart(cls, task, node, index);
      cls.heapOf(index).append(index);
      cls.live += 1;
    }
    for (const heap of cls.heaps) heap.heapify();
    return cls;
  }

  /**
   * A class kept from an earlier cycle over the same fleet: only nodes whose allocation changed
   * since are looked at again (moved, dropped or re-admitted in their heap); for the rest the
   * earlier answers still hold, since node-scoped plugins read nothing else that can change.
   */
  private resumeClass(cls: PlacementClass, task: PlacementRequest): PlacementClass {
    cls.beginCycle(0);
    this.sampleTask.set(cls, task);
    const { allocatedCpu, allocatedMemory, version } = this.cycle;
    const { seenCpu, seenMemory } = cls.buffers;
    // Every node starts current; the loop below marks or re-checks those whose allocation moved.
    cls.stamp.set(version);
    const recheck: number[] = [];
    const grew: number[] = [];
    for (const index of cls.base.admitted) {
      const cpu = allocatedCpu[index]!;
      const memory = allocatedMemory[index]!;
      if (cpu === seenCpu[index] && memory === seenMemory[index]) continue;
      if (cpu >= seenCpu[index]! && memory >= seenMemory[index]!) grew.push(index);
      else recheck.push(index);
    }
    for (const index of grew) {
      // Only grew: a node that was out stays out, and node-scoped scores can only have got worse,
      // so the heap key is still an upper bound and the rescore waits until the node reaches a
      // top. The filters are asked now, though: they are cheap, and without them a node that
      // filled up would still count as feasible in explanations.
      const heap = cls.heapOf(index);
      if (!heap.has(index)) continue;
      const node = this.nodes[index]!;
      this.cycle.focus(node, index);
      const rejecter = this.firstRejection(this.nodeFilters, task, node);
      if (rejecter === undefined) {
        cls.stamp[index] = -1;
        continue;
      }
      heap.remove(index);
      cls.putOut(index, rejecter, this.rejection);
      this.markSeen(cls, index);
    }
    for (const index of recheck) {
      const node = this.nodes[index]!;
      const heap = cls.heapOf(index);
      this.cycle.focus(node, index);
      const rejecter = this.firstRejection(this.nodeFilters, task, node);
      if (rejecter !== undefined) {
        heap.remove(index);
        cls.putOut(index, rejecter, this.rejection);
        this.markSeen(cls, index);
        continue;
      }
      this.scoreNodePart(cls, task, node, index);
      if (heap.has(index)) heap.update(index);
      else heap.push(index);
    }
    for (const { filter, status, count, examples } of cls.outByStatus(this.options.maxRejectionsPerReason)) {
      cls.rejections.addMany(this.cycle, task, filter, status, count, examples.map((index) => this.nodes[index]!));
    }
    cls.live = cls.heaps.reduce((sum, heap) => sum + heap.size, 0);
    return cls;
  }

  /** Counts a node a node filter turned down, and remembers why for later cycles. */
  private putOut(cls: PlacementClass, task: PlacementRequest, node: SnapshotNode, index: number, filter: FilterPlugin): void {
    cls.putOut(index, filter, this.rejection);
    this.markSeen(cls, index);
    cls.rejections.add(this.cycle, task, node, filter, this.rejection);
  }

  private markSeen(cls: PlacementClass, index: number): void {
    cls.buffers.seenCpu[index] = this.cycle.allocatedCpu[index]!;
    cls.buffers.seenMemory[index] = this.cycle.allocatedMemory[index]!;
  }

  /** A class with no tasks left this cycle: kept for the next cycle, or its buffers pooled. */
  private finishClass(key: string, cls: PlacementClass): void {
    this.classes.delete(key);
    this.sampleTask.delete(cls);
    cls.candidates.clear();
    if (this.keeping) this.options.cache!.keepClass(this.cycle.snapshot.fleetVersion!, key, this.options.seed, cls);
    else this.pool.push(cls.buffers);
  }

  /** The class's base from the cache when the fleet is unchanged, else computed (and kept). */
  private baseFor(key: string, task: PlacementRequest): ClassBase {
    const { cache } = this.options;
    const version = this.cycle.snapshot.fleetVersion;
    if (cache === undefined || version === undefined) return this.computeBase(task);
    const cached = cache.get(version, key);
    if (cached !== undefined) return cached;
    const base = this.computeBase(task);
    cache.set(version, key, base);
    return base;
  }

  /** Group filters over the whole fleet, then the group scorers over the nodes they admit. */
  private computeBase(task: PlacementRequest): ClassBase {
    const n = this.nodes.length;
    const rejections = new Rejections(this.options.maxRejectionsPerReason);
    const admitted: number[] = [];
    for (let index = 0; index < n; index++) {
      const node = this.nodes[index]!;
      this.cycle.focus(node, index);
      const rejecter = this.firstRejection(this.groupFilters, task, node);
      if (rejecter === undefined) admitted.push(index);
      else rejections.add(this.cycle, task, node, rejecter, this.rejection);
    }
    const weights = this.weightsOf(task);
    const groupPart = new Float64Array(n);
    const ranges = new Float64Array(this.scorers.length * 2);
    const raw = new Float64Array(admitted.length);
    for (const p of this.groupScorers) {
      const plugin = this.scorers[p]!;
      let low = Number.POSITIVE_INFINITY;
      let high = Number.NEGATIVE_INFINITY;
      admitted.forEach((index, a) => {
        const node = this.nodes[index]!;
        this.cycle.focus(node, index);
        const value = this.groupRaw(p, task, node);
        raw[a] = value;
        if (Number.isFinite(value)) {
          low = Math.min(low, value);
          high = Math.max(high, value);
        }
      });
      ranges[2 * p] = low;
      ranges[2 * p + 1] = Number.isFinite(low) ? Math.max(high - low, plugin.minSpan?.(low) ?? 0) : 0;
      admitted.forEach((index, a) => {
        groupPart[index]! += weights[p]! * this.normalized(ranges, p, raw[a]!);
      });
    }
    return { admitted: Int32Array.from(admitted), groupPart, ranges, weights, rejections };
  }

  private weightsOf(task: PlacementRequest): Float64Array {
    const overrides = this.options.weightsFor?.(task) ?? {};
    const known = new Set(this.scorers.map((s) => s.name));
    for (const name of Object.keys(overrides)) {
      if (!known.has(name)) throw new AtollError('invalid_request', `no scorer "${name}" in profile "${this.profile.name}"; known: ${[...known].join(', ')}`);
    }
    return Float64Array.from(this.profile.scorers, (s) => {
      const weight = overrides[s.plugin.name] ?? s.weight;
      if (!Number.isFinite(weight) || weight < 0) throw new AtollError('invalid_request', `weight of "${s.plugin.name}" is ${weight}; weights must be finite and not negative`);
      return weight;
    });
  }

  private domainsFor(field: SpreadDomain): Domains {
    let domains = this.domains.get(field);
    if (domains === undefined) {
      domains = domainsBy(this.nodes, field);
      this.domains.set(field, domains);
    }
    return domains;
  }

  /** Tasks of the group per domain: those the snapshot says are placed, plus this cycle's. */
  private countsFor(groupKey: string, domains: Domains): Int32Array {
    const key = `${groupKey}\0${domains.field}`;
    let counts = this.spreadCounts.get(key);
    if (counts === undefined) {
      counts = new Int32Array(domains.names.length);
      for (const [name, count] of this.cycle.snapshot.placed?.get(groupKey) ?? []) {
        const index = this.cycle.indexOfName(name);
        if (index !== undefined) counts[domains.of[index]!]! += count;
      }
      this.spreadCounts.set(key, counts);
    }
    return counts;
  }

  /**
   * Tasks agreeing on namespace, placement, tolerations, inputs, resources and expected duration
   * (cost is priced over it) share a class.
   * Tasks of one job share their spec objects, so the JSON is built once per job, not per task.
   */
  private classKeyOf(task: PlacementRequest): string {
    let base = this.classKeys.get(task.placement);
    if (base === undefined) {
      base = JSON.stringify(task.placement);
      this.classKeys.set(task.placement, base);
    }
    let tolerations = this.classKeys.get(task.tolerations);
    if (tolerations === undefined) {
      tolerations = JSON.stringify(task.tolerations);
      this.classKeys.set(task.tolerations, tolerations);
    }
    const inputs = task.inputs === undefined || task.inputs.length === 0 ? '' : JSON.stringify(task.inputs);
    return `${task.namespace}|${task.resources.cpuMillis}|${task.resources.memoryBytes}|${task.expectedDurationMs}|${base}|${tolerations}|${inputs}`;
  }

  private positions(scope: PluginScope): number[] {
    return this.scorers.flatMap((s, p) => (s.scope === scope ? [p] : []));
  }

  /** The first filter that rejects the node (its status in `rejection`), or undefined. */
  private firstRejection(filters: readonly FilterPlugin[], task: PlacementRequest, node: SnapshotNode): FilterPlugin | undefined {
    for (const filter of filters) {
      const status = filter.filter(this.cycle, task, node);
      if (status.code !== 'success') {
        this.rejection = status;
        return filter;
      }
    }
    return undefined;
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
    if (plugin.normalize === 'lower-is-better' && plugin.scope !== 'group') {
      throw invalid(`scorer "${plugin.name}" is ${plugin.scope}-scoped; only group-scoped scorers may use lower-is-better`);
    }
    if (!Number.isFinite(weight) || weight < 0) throw invalid(`scorer "${plugin.name}" has weight ${weight}; weights must be finite and not negative`);
  }
}

function validateOptions(options: RuntimeOptions, requestCount: number): void {
  if (!Number.isFinite(options.seed)) throw invalid(`seed must be a finite number, got ${options.seed}`);
  if (!Number.isInteger(options.maxCandidates) || options.maxCandidates < 1) {
    throw invalid(`maxCandidates must be an integer of at least 1 (the chosen node), got ${options.maxCandidates}`);
  }
  if (!Number.isInteger(options.maxRejectionsPerReason) || options.maxRejectionsPerReason < 0) {
    throw invalid(`maxRejectionsPerReason must be an integer of at least 0, got ${options.maxRejectionsPerReason}`);
  }
  if (options.timings !== undefined && options.timings.length < requestCount) {
    throw invalid(`timings holds ${options.timings.length} entries for ${requestCount} requests`);
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

/** True when two requests agree on every input of the class key, by identity (cheap). */
function sameClassInputs(a: PlacementRequest, b: PlacementRequest): boolean {
  return (
    a.placement === b.placement &&
    a.tolerations === b.tolerations &&
    a.namespace === b.namespace &&
    a.resources.cpuMillis === b.resources.cpuMillis &&
    a.resources.memoryBytes === b.resources.memoryBytes &&
    a.expectedDurationMs === b.expectedDurationMs &&
    (a.inputs === undefined || a.inputs.length === 0) &&
    (b.inputs === undefined || b.inputs.length === 0)
  );
}
