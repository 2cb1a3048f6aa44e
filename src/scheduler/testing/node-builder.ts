import type { LabelRequirement, Labels } from '../../core/label-selector.js';
import type { NodeKind } from '../../core/node-spec.js';
import { parseBytes, parseCpuMillis } from '../../core/quantities.js';
import type { NodeState } from '../../core/states.js';
import { DEFAULT_PLACEMENT, type PlacementSpecInput, placementSpecSchema, type Taint, type Toleration } from '../../core/placement-spec.js';
import type { PlacementRequest, SchedulerSnapshot, SnapshotNode, TaskInput } from '../framework/snapshot.js';

// Fixture builders for scheduler tests: state only what the test is about, defaults cover the
// rest (a ready 4-core, 8Gi node; a 100m, 64Mi task with no constraints).

function cpu(value: number | string): number {
  const millis = parseCpuMillis(value);
  if (millis === undefined) throw new Error(`test fixture: bad cpu ${JSON.stringify(value)}`);
  return millis;
}

function bytes(value: number | string): number {
  const parsed = parseBytes(value);
  if (parsed === undefined) throw new Error(`test fixture: bad size ${JSON.stringify(value)}`);
  return parsed;
}

export class NodeBuilder {
  private node: SnapshotNode = {
    name: 'node',
    state: 'ready',
    labels: {},
    taints: [],
    rttMs: {},
    capacity: { cpuMillis: 4000, memoryBytes: 8 * 2 ** 30 },
    allocated: { cpuMillis: 0, memoryBytes: 0 },
    provider: 'local',
    region: 'local',
    zone: '',
    site: '',
    kind: 'cloud',
    jurisdiction: null,
    lat: null,
    lon: null,
    priceHour: 0,
  };

  private with(patch: Partial<SnapshotNode>): this {
    this.node = { ...this.node, ...patch };
    return this;
  }

  named(name: string): this {
    return this.with({ name });
  }

  /** Cores (`4`, `0.5`) or millicores (`"500m"`). */
  withCpu(cores: number | string): this {
    return this.with({ capacity: { ...this.node.capacity, cpuMillis: cpu(cores) } });
  }

  withMemory(size: number | string): this {
    return this.with({ capacity: { ...this.node.capacity, memoryBytes: bytes(size) } });
  }

  /** What attempts already on the node reserve. */
  withAllocated(cores: number | string, size: number | string): this {
    return this.with({ allocated: { cpuMillis: cpu(cores), memoryBytes: bytes(size) } });
  }

  withLabels(labels: Labels): this {
    return this.with({ labels: { ...this.node.labels, ...labels } });
  }

  inState(state: NodeState): this {
    return this.with({ state });
  }

  inProvider(provider: string): this {
    return this.with({ provider });
  }

  inRegion(region: string): this {
    return this.with({ region });
  }

  inZone(zone: string): this {
    return this.with({ zone });
  }

  atSite(site: string): this {
    return this.with({ site });
  }

  ofKind(kind: NodeKind): this {
    return this.with({ kind });
  }

  inJurisdiction(jurisdiction: string): this {
    return this.with({ jurisdiction });
  }

  at(lat: number, lon: number): this {
    return this.with({ lat, lon });
  }

  withPrice(priceHour: number): this {
    return this.with({ priceHour });
  }

  withTaints(...taints: Taint[]): this {
    return this.with({ taints });
  }

  /** Measured round-trip times by region name. */
  withRtt(rttMs: Record<string, number>): this {
    return this.with({ rttMs });
  }

  /** Provider, region, jurisdiction and coordinates in one go. */
  locatedAt(provider: string, region: string, jurisdiction: string, lat: number, lon: number): this {
    return this.with({ provider, region, jurisdiction, lat, lon });
  }

  build(): SnapshotNode {
    return this.node;
  }
}

export class RequestBuilder {
  private request: PlacementRequest = {
    taskId: 't',
    jobId: 'job',
    groupKey: 'job',
    namespace: 'default',
    resources: { cpuMillis: 100, memoryBytes: 64 * 2 ** 20 },
    placement: DEFAULT_PLACEMENT,
    tolerations: [],
    expectedDurationMs: 3_600_000,
  };

  private with(patch: Partial<PlacementRequest>): this {
    this.request = { ...this.request, ...patch };
    return this;
  }

  withId(taskId: string): this {
    return this.with({ taskId });
  }

  /** Sets the job and, unless `inGroup` says otherwise later, the group key. */
  ofJob(jobId: string): this {
    return this.with({ jobId, groupKey: jobId });
  }

  inGroup(groupKey: string): this {
    return this.with({ groupKey });
  }

  withCpu(cores: number | string): this {
    return this.with({ resources: { ...this.request.resources, cpuMillis: cpu(cores) } });
  }

  withMemory(size: number | string): this {
    return this.with({ resources: { ...this.request.resources, memoryBytes: bytes(size) } });
  }

  inNamespace(namespace: string): this {
    return this.with({ namespace });
  }

  /** Placement as a user writes it (`{residency: ['EU']}`), validated and defaulted by the spec schema. */
  withPlacement(placement: PlacementSpecInput): this {
    return this.with({ placement: placementSpecSchema.parse(placement) });
  }

  requiring(key: string, operator: LabelRequirement['operator'], values?: string[]): this {
    const requirement = values === undefined ? { key, operator } : { key, operator, values };
    return this.with({ placement: { ...this.request.placement, require: [...this.request.placement.require, requirement] } });
  }

  tolerating(...tolerations: Toleration[]): this {
    return this.with({ tolerations });
  }

  lasting(ms: number): this {
    return this.with({ expectedDurationMs: ms });
  }

  /** Inputs by where they live and their size; names and class get defaults unless given. */
  withInputs(...inputs: (Pick<TaskInput, 'node' | 'bytes'> & Partial<TaskInput>)[]): this {
    return this.with({ inputs: inputs.map((input, i) => ({ dataset: 'data', partition: `p${i}`, sha256: '', residencyClass: null, ...input })) });
  }

  build(): PlacementRequest {
    return this.request;
  }

  /** `count` copies with ids `<taskId>-0`, `<taskId>-1`, …, sharing one group. */
  many(count: number): PlacementRequest[] {
    return Array.from({ length: count }, (_, i) => ({ ...this.request, taskId: `${this.request.taskId}-${i}` }));
  }
}

export function aNode(): NodeBuilder {
  return new NodeBuilder();
}

export function aRequest(): RequestBuilder {
  return new RequestBuilder();
}

export function aSnapshot(nodes: readonly (SnapshotNode | NodeBuilder)[], now = 0, extra: Omit<SchedulerSnapshot, 'now' | 'nodes'> = {}): SchedulerSnapshot {
  return { now, nodes: nodes.map((n) => (n instanceof NodeBuilder ? n.build() : n)), ...extra };
}
