import { AtollError } from '../../core/errors.js';
import type { LabelRequirement } from '../../core/label-selector.js';
import type { CandidateScore, NodeRejection } from './explanation.js';
import type { PlacementRequest, SchedulerSnapshot, SnapshotNode } from './snapshot.js';
import { REASON_CODES, REASON_INDEX, type ReasonCode, type ReasonCounts, type Unschedulable, unplacedMessage } from './status.js';

// State that lives for one call of the scheduler. The snapshot stays immutable; what changes as
// tasks are placed (allocations, per-group feasible sets) lives here, in flat typed arrays
// indexed by the node's position in the snapshot, because the hot loop reads it per task per node.

/** A typed slot in the cycle state; create one per plugin input with `cycleKey`. */
export interface CycleKey<T> {
  readonly name: string;
  // Only carries T for type inference; never set.
  readonly __type?: (value: T) => T;
}

export function cycleKey<T>(name: string): CycleKey<T> {
  return { name };
}

/** What plugins see of the cycle: read-only allocations plus typed slots for their own inputs. */
export interface CycleState {
  readonly now: number;
  readonly snapshot: SchedulerSnapshot;
  /** Position of the node in `snapshot.nodes`, for plugins that keep per-node arrays. */
  nodeIndex(node: SnapshotNode): number;
  /** Reserved on the node: the snapshot's allocation plus what this cycle placed there. */
  allocatedCpuMillis(node: SnapshotNode): number;
  allocatedMemoryBytes(node: SnapshotNode): number;
  /** Tasks of the group placed on the node in this cycle (for spreading). */
  placedInGroup(groupKey: string, node: SnapshotNode): number;
  /** The value a `prepare` hook wrote; throws when none did, which is a plugin ordering bug. */
  read<T>(key: CycleKey<T>): T;
  peek<T>(key: CycleKey<T>): T | undefined;
  write<T>(key: CycleKey<T>, value: T): void;
}

/** The runtime's side of the cycle state: it alone reserves capacity and keeps group caches. */
export class Cycle implements CycleState {
  readonly now: number;
  readonly snapshot: SchedulerSnapshot;
  readonly allocatedCpu: Float64Array;
  readonly allocatedMemory: Float64Array;
  /** Bumped on every placement on the node: cached answers computed at an older version are stale. */
  readonly version: Int32Array;
  private readonly indexByNode = new Map<SnapshotNode, number>();
  // Keyed by the key object itself, so two plugins that pick the same name cannot collide.
  private readonly slots = new Map<object, unknown>();
  private readonly placed = new Map<string, Int32Array>();
  private readonly groups = new Map<string, GroupFeasibility[]>();
  // Filters and scorers ask about the node the runtime is looking at; remembering it saves the
  // map lookup in the hot loop.
  private lastNode: SnapshotNode | undefined;
  private lastIndex = -1;

  constructor(snapshot: SchedulerSnapshot) {
    this.now = snapshot.now;
    this.snapshot = snapshot;
    const n = snapshot.nodes.length;
    this.allocatedCpu = new Float64Array(n);
    this.allocatedMemory = new Float64Array(n);
    this.version = new Int32Array(n);
    const names = new Set<string>();
    snapshot.nodes.forEach((node, index) => {
      if (names.has(node.name)) {
        throw new AtollError('invalid_request', `scheduler snapshot lists node "${node.name}" twice; node names must be unique`);
      }
      names.add(node.name);
      this.indexByNode.set(node, index);
      this.allocatedCpu[index] = node.allocated.cpuMillis;
      this.allocatedMemory[index] = node.allocated.memoryBytes;
    });
  }

  nodeIndex(node: SnapshotNode): number {
    if (node === this.lastNode) return this.lastIndex;
    const index = this.indexByNode.get(node);
    if (index === undefined) {
      throw new AtollError('internal', `node "${node.name}" is not the snapshot's own object; pass the nodes the plugin was given`);
    }
    this.lastNode = node;
    this.lastIndex = index;
    return index;
  }

  /** Tells the cycle which node plugins are about to be asked about, so lookups skip the map. */
  focus(node: SnapshotNode, index: number): void {
    this.lastNode = node;
    this.lastIndex = index;
  }

  allocatedCpuMillis(node: SnapshotNode): number {
    return this.allocatedCpu[this.nodeIndex(node)]!;
  }

  allocatedMemoryBytes(node: SnapshotNode): number {
    return this.allocatedMemory[this.nodeIndex(node)]!;
  }

  placedInGroup(groupKey: string, node: SnapshotNode): number {
    const counts = this.placed.get(groupKey);
    return counts === undefined ? 0 : counts[this.nodeIndex(node)]!;
  }

  read<T>(key: CycleKey<T>): T {
    if (!this.slots.has(key)) {
      throw new AtollError('internal', `cycle state "${key.name}" was read before any prepare hook wrote it`);
    }
    return this.slots.get(key) as T;
  }

  peek<T>(key: CycleKey<T>): T | undefined {
    return this.slots.get(key) as T | undefined;
  }

  write<T>(key: CycleKey<T>, value: T): void {
    this.slots.set(key, value);
  }

  /** Records a placement so later tasks of this cycle see the node as fuller. */
  reserve(index: number, task: PlacementRequest): void {
    this.allocatedCpu[index]! += task.resources.cpuMillis;
    this.allocatedMemory[index]! += task.resources.memoryBytes;
    let counts = this.placed.get(task.groupKey);
    if (counts === undefined) {
      counts = new Int32Array(this.snapshot.nodes.length);
      this.placed.set(task.groupKey, counts);
    }
    counts[index]! += 1;
    this.version[index]! += 1;
  }

  /** The cached feasible set for the task's group, if one was built this cycle. */
  findGroup(task: PlacementRequest): GroupFeasibility | undefined {
    const variants = this.groups.get(task.groupKey);
    if (variants === undefined) return undefined;
    for (const group of variants) if (group.matches(task)) return group;
    return undefined;
  }

  addGroup(group: GroupFeasibility): void {
    const variants = this.groups.get(group.key);
    if (variants === undefined) this.groups.set(group.key, [group]);
    else variants.push(group);
  }

  /** Forgets the groups of a key whose last task was placed, returning them for their buffers. */
  removeGroups(groupKey: string): readonly GroupFeasibility[] {
    const variants = this.groups.get(groupKey) ?? [];
    this.groups.delete(groupKey);
    return variants;
  }
}

/**
 * Per-node working arrays of one group. They are sized by the node count, so the runtime pools
 * them: a group hands them back after its last task, and a cycle over many small groups reuses
 * a few sets instead of allocating one per group.
 */
export interface GroupBuffers {
  /** Node indices in snapshot order; only the first `liveCount` of the group are meaningful. */
  readonly live: Int32Array;
  /** The node version (see Cycle.version) the cached filter answers and scores were computed at. */
  readonly stamp: Int32Array;
  /** Raw scores, [scorer * nodeCount + node]. */
  readonly raw: Float64Array;
  /** Score detail already built for a node, shared by explanations while the node is unchanged. */
  readonly candidates: Array<CandidateScore | undefined>;
  /** The normalisation factors the cached score detail was built with. */
  readonly factors: Float64Array;
}

export function allocateGroupBuffers(nodeCount: number, scorerCount: number): GroupBuffers {
  return {
    live: new Int32Array(nodeCount),
    stamp: new Int32Array(nodeCount),
    raw: new Float64Array(nodeCount * scorerCount),
    candidates: new Array<CandidateScore | undefined>(nodeCount).fill(undefined),
    factors: new Float64Array(scorerCount),
  };
}

/**
 * The feasible set of one group in one cycle: nodes that passed the group-scoped filters and no
 * node-scoped filter has rejected since. Rejections are counted here once per node, so every
 * task of the group shares them instead of re-deriving them.
 */
export class GroupFeasibility {
  readonly key: string;
  readonly constraints: readonly LabelRequirement[];
  readonly cpuMillis: number;
  readonly memoryBytes: number;
  readonly buffers: GroupBuffers;
  liveCount = 0;
  readonly counts: Int32Array;
  private readonly maxPerReason: number;
  private readonly sampleCounts: Int32Array;
  private readonly samples: NodeRejection[] = [];
  // Explanations hold on to the reasons and samples; they are rebuilt only when a rejection
  // changed them, so 10,000 tasks of one group share a handful of objects.
  private countsVersion = 0;
  private samplesVersion = 0;
  private cachedReasons: { version: number; reasons: ReasonCounts; message: string } | undefined;
  private cachedSamples: { version: number; samples: readonly NodeRejection[] } | undefined;

  constructor(task: PlacementRequest, buffers: GroupBuffers, maxPerReason: number) {
    this.key = task.groupKey;
    this.constraints = task.constraints;
    this.cpuMillis = task.resources.cpuMillis;
    this.memoryBytes = task.resources.memoryBytes;
    this.buffers = buffers;
    // -1 is no node version, so every node is evaluated on first use.
    buffers.stamp.fill(-1);
    buffers.candidates.fill(undefined);
    buffers.factors.fill(1);
    this.counts = new Int32Array(REASON_CODES.length);
    this.sampleCounts = new Int32Array(REASON_CODES.length);
    this.maxPerReason = maxPerReason;
  }

  matches(task: PlacementRequest): boolean {
    return (
      task.resources.cpuMillis === this.cpuMillis &&
      task.resources.memoryBytes === this.memoryBytes &&
      sameConstraints(task.constraints, this.constraints)
    );
  }

  admit(index: number): void {
    this.buffers.live[this.liveCount++] = index;
  }

  reject(node: SnapshotNode, plugin: string, status: Unschedulable): void {
    const reason = REASON_INDEX[status.reason];
    this.counts[reason]! += 1;
    this.countsVersion += 1;
    if (this.sampleCounts[reason]! < this.maxPerReason) {
      this.sampleCounts[reason]! += 1;
      this.samples.push({ node: node.name, plugin, reason: status.reason, message: status.message });
      this.samplesVersion += 1;
    }
  }

  reasons(): ReasonCounts {
    return this.reasonsEntry().reasons;
  }

  unplacedMessage(): string {
    return this.reasonsEntry().message;
  }

  rejectedSample(): readonly NodeRejection[] {
    if (this.cachedSamples === undefined || this.cachedSamples.version !== this.samplesVersion) {
      this.cachedSamples = { version: this.samplesVersion, samples: this.samples.slice() };
    }
    return this.cachedSamples.samples;
  }

  private reasonsEntry(): { reasons: ReasonCounts; message: string } {
    if (this.cachedReasons === undefined || this.cachedReasons.version !== this.countsVersion) {
      const reasons = countsToReasons(this.counts, undefined);
      this.cachedReasons = { version: this.countsVersion, reasons, message: unplacedMessage(reasons) };
    }
    return this.cachedReasons;
  }
}

/** Reason counts as a record, keys in REASON_CODES order so plans serialise identically. */
export function countsToReasons(counts: Int32Array, extra: Int32Array | undefined): ReasonCounts {
  const reasons: Partial<Record<ReasonCode, number>> = {};
  for (let i = 0; i < REASON_CODES.length; i++) {
    const n = counts[i]! + (extra === undefined ? 0 : extra[i]!);
    if (n > 0) reasons[REASON_CODES[i]!] = n;
  }
  return reasons;
}

function sameConstraints(a: readonly LabelRequirement[], b: readonly LabelRequirement[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.key !== y.key || x.operator !== y.operator) return false;
    const xv = x.values ?? [];
    const yv = y.values ?? [];
    if (xv.length !== yv.length || xv.some((v, j) => v !== yv[j])) return false;
  }
  return true;
}
