import type { CandidateScore, ScoreBreakdown } from './explanation.js';
import { NodeHeap } from './node-heap.js';
import type { FilterPlugin } from './plugin.js';
import type { Rejections } from './rejections.js';
import type { SnapshotNode } from './snapshot.js';
import type { Unschedulable } from './status.js';

// A placement class: the tasks of one cycle that agree on everything group-scoped plugins read
// (namespace, placement, tolerations, resources, inputs), whichever job they belong to.
//
// Its base, what the group filters and scorers say about the fleet, depends only on the nodes'
// fixed fields, so it is computed once and may be kept across cycles while the fleet is
// unchanged (see PlacementCache). Each cycle then adds what changes with allocations: node-scoped
// answers and the heaps, one per spread domain (one heap when the class does not spread).

/** What the group-scoped plugins say about the fleet for one class. */
export interface ClassBase {
  /** Nodes every group filter admits, by snapshot index, ascending. */
  readonly admitted: Int32Array;
  /** Sum of the weighted, normalised group-scoped scores, by snapshot index. */
  readonly groupPart: Float64Array;
  /** Per scorer: [best, span] of the raw values over admitted nodes, for lower-is-better. */
  readonly ranges: Float64Array;
  readonly weights: Float64Array;
  /** Nodes the group filters turned down, and why. */
  readonly rejections: Rejections;
}

export function classBaseBytes(base: ClassBase): number {
  return base.admitted.byteLength + base.groupPart.byteLength + base.ranges.byteLength + base.weights.byteLength + base.rejections.approximateBytes();
}

/** Nodes of the fleet grouped by one location field (provider, region, zone or site). */
export interface Domains {
  readonly field: string;
  readonly names: readonly string[];
  /** Domain of each node, by snapshot index. */
  readonly of: Int32Array;
  /** Nodes per domain. */
  readonly sizes: Int32Array;
}

/**
 * The per-node arrays of a class, sized by the fleet. Classes come and go every round, so the
 * runtime pools these instead of leaving megabytes per round to the garbage collector. Stale
 * contents are harmless: every slot is written before it is read (`pos` is reset on use).
 */
export interface ClassBuffers {
  readonly nodeCount: number;
  readonly total: Float64Array;
  readonly nodeRaw: Float64Array;
  readonly stamp: Int32Array;
  readonly heapItems: Int32Array;
  readonly pos: Int32Array;
  /** The allocation each node's node-scoped answers were computed at. */
  readonly seenCpu: Float64Array;
  readonly seenMemory: Float64Array;
}

export function allocateClassBuffers(nodeCount: number, nodeScorerCount: number): ClassBuffers {
  return {
    nodeCount,
    total: new Float64Array(nodeCount),
    nodeRaw: new Float64Array(nodeCount * nodeScorerCount),
    stamp: new Int32Array(nodeCount),
    heapItems: new Int32Array(nodeCount),
    pos: new Int32Array(nodeCount),
    seenCpu: new Float64Array(nodeCount),
    seenMemory: new Float64Array(nodeCount),
  };
}

export function classBuffersBytes(buffers: ClassBuffers): number {
  const { total, nodeRaw, stamp, heapItems, pos, seenCpu, seenMemory } = buffers;
  return total.byteLength + nodeRaw.byteLength + stamp.byteLength + heapItems.byteLength + pos.byteLength + seenCpu.byteLength + seenMemory.byteLength;
}

/** Why a node-scoped filter last turned a node down, to count it again in a later cycle. */
export interface OutReason {
  readonly filter: FilterPlugin;
  readonly status: Unschedulable;
}

export class PlacementClass {
  readonly heaps: readonly NodeHeap[];
  /** The heap key: groupPart plus the weighted node-scoped scores at `stamp`. */
  readonly total: Float64Array;
  /** Raw values of the node-scoped scorers, [slot * nodeCount + node] (slot: position among them). */
  readonly nodeRaw: Float64Array;
  /** The node version the node-scoped answers were computed at. */
  readonly stamp: Int32Array;
  /** Score detail built for a node, shared by explanations while the node is unchanged. */
  readonly candidates = new Map<number, CandidateScore>();
  /** The group-scoped entries of a node's score detail; they hold for the whole cycle. */
  readonly groupBreakdowns = new Map<number, ScoreBreakdown[]>();
  /** Spread domains whose heap may still hold a node; the first `activeCount` entries. */
  readonly activeDomains: Int32Array;
  activeCount: number;
  /** Group rejections of the base plus node-filter rejections of this cycle. */
  rejections: Rejections;
  /** Admitted nodes out of the heaps, and the node filter that put them out. */
  private readonly out = new Map<number, OutReason>();
  /** How many nodes are out for each (shared) status, so a later cycle can count them at once. */
  private readonly outCounts = new Map<Unschedulable, { readonly filter: FilterPlugin; count: number }>();
  /** Nodes admitted and not yet found full. */
  live = 0;
  /** Tasks of the cycle still to come in this class; at 0 the class is dropped. */
  remaining = 0;

  constructor(
    readonly base: ClassBase,
    readonly buffers: ClassBuffers,
    readonly domains: Domains | undefined,
    /** The tie-breaking order the heaps were built with; a cycle with another must rebuild. */
    readonly rank: Int32Array,
  ) {
    this.total = buffers.total;
    this.nodeRaw = buffers.nodeRaw;
    this.stamp = buffers.stamp;
    buffers.pos.fill(-1);
    this.rejections = base.rejections.fork();
    // One storage array for all heaps: each domain's heap gets its own stretch of it.
    const sizes = domains === undefined ? [buffers.nodeCount] : Array.from(domains.sizes);
    let offset = 0;
    this.heaps = sizes.map((size) => {
      const heap = new NodeHeap(buffers.heapItems.subarray(offset, offset + size), this.total, rank, buffers.pos);
      offset += size;
      return heap;
    });
    this.activeDomains = Int32Array.from(this.heaps.keys());
    this.activeCount = this.heaps.length;
  }

  /** Readies a class kept from an earlier cycle for this one: fresh counts, every domain open. */
  beginCycle(remaining: number): void {
    this.rejections = this.base.rejections.fork();
    this.candidates.clear();
    // Group scores depend only on the fleet today, but the comment above promises one cycle.
    this.groupBreakdowns.clear();
    this.remaining = remaining;
    this.activeCount = this.heaps.length;
    for (let d = 0; d < this.heaps.length; d++) this.activeDomains[d] = d;
  }

  /** Records that a node filter turned the node down (replacing any earlier reason). */
  putOut(index: number, filter: FilterPlugin, status: Unschedulable): void {
    this.takeIn(index);
    this.out.set(index, { filter, status });
    const entry = this.outCounts.get(status);
    if (entry === undefined) this.outCounts.set(status, { filter, count: 1 });
    else entry.count += 1;
  }

  /** The node fits again: it no longer counts as out. */
  takeIn(index: number): void {
    const old = this.out.get(index);
    if (old === undefined) return;
    this.out.delete(index);
    const entry = this.outCounts.get(old.status)!;
    entry.count -= 1;
    if (entry.count === 0) this.outCounts.delete(old.status);
  }

  get outSize(): number {
    return this.out.size;
  }

  /** Out nodes per status, with up to `samples` example nodes each, for counting them in a new cycle. */
  outByStatus(samples: number): Array<{ filter: FilterPlugin; status: Unschedulable; count: number; examples: number[] }> {
    const groups = [...this.outCounts].map(([status, { filter, count }]) => ({ filter, status, count, examples: [] as number[] }));
    const byStatus = new Map(groups.map((g) => [g.status, g]));
    let wanted = samples === 0 ? 0 : groups.length;
    for (const [index, { status }] of this.out) {
      if (wanted === 0) break;
      const group = byStatus.get(status)!;
      if (group.examples.length >= samples) continue;
      group.examples.push(index);
      if (group.examples.length === samples) wanted -= 1;
    }
    return groups;
  }

  /** Forgets a domain whose heap ran empty; `at` is its position in activeDomains. */
  retireDomain(at: number): void {
    this.activeCount -= 1;
    this.activeDomains[at] = this.activeDomains[this.activeCount]!;
  }

  get weights(): Float64Array {
    return this.base.weights;
  }

  heapOf(index: number): NodeHeap {
    return this.heaps[this.domains === undefined ? 0 : this.domains.of[index]!]!;
  }
}

/** Groups the snapshot's nodes by a location field; domain ids follow first appearance. */
export function domainsBy(nodes: readonly SnapshotNode[], field: 'provider' | 'region' | 'zone' | 'site'): Domains {
  const ids = new Map<string, number>();
  const of = new Int32Array(nodes.length);
  const sizes: number[] = [];
  nodes.forEach((node, index) => {
    const name = node[field];
    let id = ids.get(name);
    if (id === undefined) {
      id = ids.size;
      ids.set(name, id);
      sizes.push(0);
    }
    of[index] = id;
    sizes[id]! += 1;
  });
  return { field, names: [...ids.keys()], of, sizes: Int32Array.from(sizes) };
}
