import type { Labels } from '../../core/label-selector.js';
import type { PlacementSpec, Taint, Toleration } from '../../core/placement-spec.js';
import type { PolicySpec } from '../../core/policy-spec.js';
import type { NodeState } from '../../core/states.js';
import type { NodeLocation, NodeRecord, Resources } from '../../core/types.js';

// The scheduler's whole input. It is immutable and complete, so a plan depends on nothing else
// and the same snapshot replays to the same plan in tests, benchmarks and simulations.

export interface SnapshotNode extends NodeLocation {
  readonly name: string;
  readonly state: NodeState;
  readonly labels: Labels;
  readonly taints: readonly Taint[];
  readonly capacity: Resources;
  /** Sum of the reservations of attempts already on the node, before this plan. */
  readonly allocated: Resources;
  readonly priceHour: number;
  /** Round-trip times the node's agent measured, in ms by region name; they beat estimates. */
  readonly rttMs: Readonly<Record<string, number>>;
}

/** Data a task reads and where it lives; placing the task elsewhere moves `bytes` from `node`. */
/** A partition a task reads, where it lives now. */
export interface TaskInput {
  readonly dataset: string;
  readonly partition: string;
  /** The node that holds it. */
  readonly node: string;
  readonly bytes: number;
  readonly sha256: string;
  /** Limits where it may be read, through the policies' residency classes. */
  readonly residencyClass: string | null;
  /** It left the catalog after the job was submitted: no node can run the task. */
  readonly missing?: boolean;
}

/** What moving data costs: the seam the price book plugs into. */
export interface TransferPricing {
  /** Dollars per GB moved from one node to another. */
  perGb(from: SnapshotNode, to: SnapshotNode): number;
}

export interface SchedulerSnapshot {
  /** Epoch milliseconds, injected so that plans are reproducible. */
  readonly now: number;
  readonly nodes: readonly SnapshotNode[];
  /** Cluster policies in force; every one that binds a task's namespace applies. */
  readonly policies?: readonly PolicySpec[];
  /** Transfer prices between nodes; the built-in list-price table when left out. */
  readonly pricing?: TransferPricing;
  /**
   * Names the fleet's fixed side: the same version promises the same nodes, in the same order,
   * with the same fields apart from `allocated`, and the same policies and pricing. With a
   * PlacementCache it lets classes skip re-reading the fleet. Leave it out when unsure.
   */
  readonly fleetVersion?: string | number;
  /** Tasks of each group already running or assigned, by group key and node name (for spread). */
  readonly placed?: ReadonlyMap<string, ReadonlyMap<string, number>>;
}

export interface PlacementRequest {
  readonly taskId: string;
  readonly jobId: string;
  /**
   * Tasks of one job stage share it (e.g. the job id); spread counts are kept per group key.
   * Requests with one key must agree on namespace, placement, tolerations and inputs.
   */
  readonly groupKey: string;
  readonly namespace: string;
  readonly resources: Resources;
  readonly placement: PlacementSpec;
  readonly tolerations: readonly Toleration[];
  /** Expected run time, for cost: the spec's expectedDuration, else its timeout, else 1 h. */
  readonly expectedDurationMs: number;
  /** Data the task reads (filled in by data-aware callers); cost counts moving it. */
  readonly inputs?: readonly TaskInput[];
}

/** The scheduler's view of a node record, given what its current attempts reserve and its price (the price book's, by default the one it declared). */
export function snapshotNodeFrom(record: NodeRecord, allocated: Resources, priceHour = record.priceHour): SnapshotNode {
  return {
    name: record.name,
    state: record.state,
    labels: record.labels,
    taints: record.taints,
    capacity: record.capacity,
    allocated,
    provider: record.provider,
    region: record.region,
    zone: record.zone,
    site: record.site,
    kind: record.kind,
    jurisdiction: record.jurisdiction,
    lat: record.lat,
    lon: record.lon,
    priceHour,
    rttMs: record.rttMs,
  };
}
