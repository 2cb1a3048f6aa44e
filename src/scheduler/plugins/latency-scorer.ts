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
  /** Some node of the fleet reported a round trip to this region. */
  readonly measuredSomewhere: boolean;
}

interface LatencyState {
  readonly regionCentres: ReadonlyMap<string, GeoPoint>;
  readonly measuredRegions: ReadonlySet<string>;
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
    const measuredRegions = new Set(cycle.snapshot.nodes.flatMap((n) => Object.keys(n.rttMs)));
    cycle.write(LATENCY, { regionCentres: regionCentres(cycle.snapshot.nodes), measuredRegions, resolved: new WeakMap() });
  },
  score(cycle, task, node) {
    const users = usersOf(cycle, task);
    let sum = 0;
    let counted = 0;
    for (const user of users) {
      const rtt = rttMs(node, user);
      if (rtt === undefined) continue;
      sum += rtt;
      counted += 1;
    }
    // Users nobody can locate are left out; with none left nothing is known: Infinity, which
    // the runtime scores 0 for every node alike.
    if (users.length === 0) return 0;
    return counted === 0 ? Number.POSITIVE_INFINITY : sum / counted;
  },
  describe(cycle, task, node, raw) {
    const users = usersOf(cycle, task);
    if (users.length === 0) return undefined;
    const unknown = users.filter((u) => !isLocated(u)).map((u) => u.label);
    const ignored = unknown.length === 0 ? '' : `; unknown, ignored: ${unknown.join(', ')}`;
    const counted = users.filter((u) => rttMs(node, u) !== undefined);
    if (counted.length === 0) return `no user location is known${ignored}`;
    if (!Number.isFinite(raw)) return `node has no coordinates or measured round-trip times${ignored}`;
    const measured = counted.filter((u) => measuredRtt(node, u) !== undefined).length;
    const how = measured === counted.length ? 'measured' : measured === 0 ? 'estimated' : `${measured} measured`;
    return `~${raw.toFixed(1)} ms mean round trip to ${counted.length === 1 ? counted[0]!.label : `${counted.length} user locations`} (${how})${ignored}`;
  },
};

function usersOf(cycle: CycleState, task: PlacementRequest): readonly ResolvedUser[] {
  const locations = task.placement.near?.users;
  if (locations === undefined) return [];
  const state = cycle.read(LATENCY);
  let resolved = state.resolved.get(locations);
  if (resolved === undefined) {
    resolved = locations.map((location) => resolveUser(location, state));
    state.resolved.set(locations, resolved);
  }
  return resolved;
}

function resolveUser(location: UserLocation, state: LatencyState): ResolvedUser {
  if (typeof location !== 'string') return { label: `${location.lat},${location.lon}`, region: undefined, point: location, measuredSomewhere: false };
  const point = state.regionCentres.get(location) ?? lookupRegion(location);
  return { label: location, region: location, point, measuredSomewhere: state.measuredRegions.has(location) };
}

/** A user some node could measure or that has a place on the map. */
function isLocated(user: ResolvedUser): boolean {
  return user.point !== undefined || user.region !== undefined && user.measuredSomewhere;
}

function measuredRtt(node: SnapshotNode, user: ResolvedUser): number | undefined {
  // hasOwn: a region called "constructor" must not find Object.prototype's.
  return user.region !== undefined && Object.hasOwn(node.rttMs, user.region) ? node.rttMs[user.region] : undefined;
}

/**
 * Measured, else estimated from the distance; undefined for a user nobody can locate. A node
 * without coordinates is Infinity from a located user: it ranks last, never first.
 */
function rttMs(node: SnapshotNode, user: ResolvedUser): number | undefined {
  const measured = measuredRtt(node, user);
  if (measured !== undefined) return measured;
  if (user.point === undefined) return user.measuredSomewhere ? Number.POSITIVE_INFINITY : undefined;
  if (node.lat === null || node.lon === null) return Number.POSITIVE_INFINITY;
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
