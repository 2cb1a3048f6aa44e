import type { LabelRequirement, Labels } from '../../core/label-selector.js';
import type { NodeState } from '../../core/states.js';
import type { NodeLocation, NodeRecord, Resources } from '../../core/types.js';

// The scheduler's whole input. It is immutable and complete, so a plan depends on nothing else
// and the same snapshot replays to the same plan in tests, benchmarks and simulations.

export interface SnapshotNode extends NodeLocation {
  readonly name: string;
  readonly state: NodeState;
  readonly labels: Labels;
  readonly capacity: Resources;
  /** Sum of the reservations of attempts already on the node, before this plan. */
  readonly allocated: Resources;
  readonly priceHour: number;
}

export interface SchedulerSnapshot {
  /** Epoch milliseconds, injected so that plans are reproducible. */
  readonly now: number;
  readonly nodes: readonly SnapshotNode[];
}

export interface PlacementRequest {
  readonly taskId: string;
  readonly jobId: string;
  /**
   * Tasks of one job stage share it (e.g. the job id). Requests with one key must agree on
   * everything a group-scoped filter reads; the runtime itself checks constraints and resources
   * and keeps requests that differ in those apart.
   */
  readonly groupKey: string;
  readonly resources: Resources;
  readonly constraints: readonly LabelRequirement[];
}

/** The scheduler's view of a node record, given what its current attempts reserve. */
export function snapshotNodeFrom(record: NodeRecord, allocated: Resources): SnapshotNode {
  return {
    name: record.name,
    state: record.state,
    labels: record.labels,
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
    priceHour: record.priceHour,
  };
}
