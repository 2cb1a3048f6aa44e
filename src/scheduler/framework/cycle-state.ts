import { AtollError } from '../../core/errors.js';
import type { PlacementRequest, SchedulerSnapshot, SnapshotNode } from './snapshot.js';

// State that lives for one call of the scheduler. The snapshot stays immutable; what changes as
// tasks are placed (allocations, node versions) lives here, in flat typed arrays indexed by the
// node's position in the snapshot, because the hot loop reads them per task.

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
  nodeNamed(name: string): SnapshotNode | undefined;
  /** Reserved on the node: the snapshot's allocation plus what this cycle placed there. */
  allocatedCpuMillis(node: SnapshotNode): number;
  allocatedMemoryBytes(node: SnapshotNode): number;
  /** The value a `prepare` hook wrote; throws when none did, which is a plugin ordering bug. */
  read<T>(key: CycleKey<T>): T;
  peek<T>(key: CycleKey<T>): T | undefined;
  write<T>(key: CycleKey<T>, value: T): void;
}

/** The runtime's side of the cycle state: it alone reserves capacity. */
export class Cycle implements CycleState {
  readonly now: number;
  readonly snapshot: SchedulerSnapshot;
  readonly allocatedCpu: Float64Array;
  readonly allocatedMemory: Float64Array;
  /** Bumped on every placement on the node: answers computed at an older version are stale. */
  readonly version: Int32Array;
  private readonly indexByName: ReadonlyMap<string, number>;
  // Keyed by the key object itself, so two plugins that pick the same name cannot collide.
  private readonly slots = new Map<object, unknown>();
  // Filters and scorers ask about the node the runtime is looking at; remembering it saves the
  // map lookup in the hot loop.
  private lastNode: SnapshotNode | undefined;
  private lastIndex = -1;

  /** `indexByName` may come from an earlier cycle over the same fleet (see PlacementCache). */
  constructor(snapshot: SchedulerSnapshot, indexByName?: ReadonlyMap<string, number>) {
    this.now = snapshot.now;
    this.snapshot = snapshot;
    const n = snapshot.nodes.length;
    this.allocatedCpu = new Float64Array(n);
    this.allocatedMemory = new Float64Array(n);
    this.version = new Int32Array(n);
    this.indexByName = indexByName ?? indexNodesByName(snapshot.nodes);
    snapshot.nodes.forEach((node, index) => {
      this.allocatedCpu[index] = node.allocated.cpuMillis;
      this.allocatedMemory[index] = node.allocated.memoryBytes;
    });
  }

  nodeIndex(node: SnapshotNode): number {
    if (node === this.lastNode) return this.lastIndex;
    const index = this.indexByName.get(node.name);
    if (index === undefined || this.snapshot.nodes[index] !== node) {
      throw new AtollError('internal', `node "${node.name}" is not the snapshot's own object; pass the nodes the plugin was given`);
    }
    this.lastNode = node;
    this.lastIndex = index;
    return index;
  }

  nodeNamed(name: string): SnapshotNode | undefined {
    const index = this.indexByName.get(name);
    return index === undefined ? undefined : this.snapshot.nodes[index];
  }

  indexOfName(name: string): number | undefined {
    return this.indexByName.get(name);
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
    this.version[index]! += 1;
  }
}

/** Snapshot position by node name; refuses a snapshot that names a node twice. */
export function indexNodesByName(nodes: readonly SnapshotNode[]): ReadonlyMap<string, number> {
  const index = new Map<string, number>();
  nodes.forEach((node, i) => {
    if (index.has(node.name)) throw new AtollError('invalid_request', `scheduler snapshot lists node "${node.name}" twice; node names must be unique`);
    index.set(node.name, i);
  });
  return index;
}
