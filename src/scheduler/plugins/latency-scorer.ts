import { estimateRttMs, type GeoPoint, greatCircleKm } from '../../core/geo.js';
import { lookupRegion } from '../../core/known-regions.js';
import type { UserLocation } from '../../core/placement-spec.js';
import { type CycleState, cycleKey } from '../framework/cycle-state.js';
import type { ScorePlugin } from '../framework/plugin.js';
import type { PlacementRequest, SnapshotNode } from '../framework/snapshot.js';

// `placement.near.users`: the mean round-trip time from the node to the places the job's users
// are. A region name is matched first against what the node's agent measured, then placed at
// the centre of the fleet's nodes in that region, then at the built-in region table's city.
// Lower is better; the runtime maps the fastest allowed node to 100 and the slowest to 0.

interface ResolvedUser {
  readonly label: string;
  readonly region: string | undefined;
  readonly point: GeoPoint | undefined;
}

interface LatencyState {
  readonly regionCentres: ReadonlyMap<string, GeoPoint>;
  readonly resolved: WeakMap<readonly UserLocation[], readonly ResolvedUser[]>;
}

const LATENCY = cycleKey<LatencyState>('latency');

export const latencyScorer: ScorePlugin = {
  name: 'latency',
  scope: 'group',
  normalize: 'lower-is-better',
  // Users barely notice a few ms; 20 ms is the least gap that counts as near versus far.
  minSpan: () => 20,
  prepare(cycle) {
    cycle.write(LATENCY, { regionCentres: regionCentres(cycle.snapshot.nodes), resolved: new WeakMap() });
  },
  score(cycle, task, node) {
    const users = usersOf(cycle, task);
    if (users.length === 0) return 0;
    let sum = 0;
    for (const user of users) sum += rttMs(node, user);
    return sum / users.length;
  },
  describe(cycle, task, node, raw) {
    const users = usersOf(cycle, task);
    if (users.length === 0) return undefined;
    if (!Number.isFinite(raw)) return 'node has no coordinates or measured round-trip times';
    const measured = users.filter((u) => u.region !== undefined && node.rttMs[u.region] !== undefined).length;
    const how = measured === users.length ? 'measured' : measured === 0 ? 'estimated' : `${measured} measured`;
    return `~${raw.toFixed(1)} ms mean round trip to ${users.length === 1 ? users[0]!.label : `${users.length} user locations`} (${how})`;
  },
};

function usersOf(cycle: CycleState, task: PlacementRequest): readonly ResolvedUser[] {
  const locations = task.placement.near?.users;
  if (locations === undefined) return [];
  const state = cycle.read(LATENCY);
  let resolved = state.resolved.get(locations);
  if (resolved === undefined) {
    resolved = locations.map((location) => resolveUser(location, state.regionCentres));
    state.resolved.set(locations, resolved);
  }
  return resolved;
}

function resolveUser(location: UserLocation, centres: ReadonlyMap<string, GeoPoint>): ResolvedUser {
  if (typeof location !== 'string') return { label: `${location.lat},${location.lon}`, region: undefined, point: location };
  return { label: location, region: location, point: centres.get(location) ?? lookupRegion(location) };
}

/** Infinity when nothing is known: such a node ranks last, never first. */
function rttMs(node: SnapshotNode, user: ResolvedUser): number {
  if (user.region !== undefined) {
    const measured = node.rttMs[user.region];
    if (measured !== undefined) return measured;
  }
  if (user.point === undefined || node.lat === null || node.lon === null) return Number.POSITIVE_INFINITY;
  return estimateRttMs(greatCircleKm({ lat: node.lat, lon: node.lon }, user.point));
}

function regionCentres(nodes: readonly SnapshotNode[]): ReadonlyMap<string, GeoPoint> {
  const sums = new Map<string, { lat: number; lon: number; n: number }>();
  for (const node of nodes) {
    if (node.lat === null || node.lon === null) continue;
    const sum = sums.get(node.region) ?? { lat: 0, lon: 0, n: 0 };
    sum.lat += node.lat;
    sum.lon += node.lon;
    sum.n += 1;
    sums.set(node.region, sum);
  }
  // Nodes of one region sit in one metro area, so the plain mean is a fine centre.
  return new Map([...sums].map(([region, s]) => [region, { lat: s.lat / s.n, lon: s.lon / s.n }]));
}
