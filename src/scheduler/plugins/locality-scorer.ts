import { estimateRttMs, greatCircleKm } from '../../core/geo.js';
import type { ScorePlugin } from '../framework/plugin.js';
import type { CycleState } from '../framework/cycle-state.js';
import type { PlacementRequest, SnapshotNode } from '../framework/snapshot.js';

// Data gravity: how long the task would wait for its inputs on this node. Zero where every input
// already lives; elsewhere each input costs its size over a rough link speed for the route plus
// a round trip. The speeds are deliberately coarse (the ranking matters, not the seconds): a
// data centre network inside a region, a provider's backbone between regions, the public
// internet between providers, and an edge site's uplink. Lower is better.

const BYTES_PER_SECOND = Object.freeze({
  sameRegion: 1e9,
  crossRegion: 200e6,
  crossProvider: 100e6,
  edgeUplink: 20e6,
});

export const localityScorer: ScorePlugin = {
  name: 'locality',
  scope: 'group',
  normalize: 'lower-is-better',
  // Under a second of fetching is not worth moving work for.
  minSpan: () => 1,
  score(cycle, task, node) {
    return fetchSeconds(cycle, task, node).seconds;
  },
  describe(cycle, task, node) {
    const { seconds, bytes } = fetchSeconds(cycle, task, node);
    if (task.inputs === undefined || task.inputs.length === 0) return 'no inputs';
    return bytes === 0 ? 'every input is on this node' : `~${seconds.toFixed(1)} s to fetch ${(bytes / 1e6).toFixed(1)} MB of inputs`;
  },
};

export function fetchSeconds(cycle: CycleState, task: PlacementRequest, node: SnapshotNode): { seconds: number; bytes: number } {
  let seconds = 0;
  let bytes = 0;
  for (const input of task.inputs ?? []) {
    if (input.node === node.name) continue;
    const source = cycle.nodeNamed(input.node);
    bytes += input.bytes;
    seconds += input.bytes / linkSpeed(source, node) + roundTripMs(source, node) / 1000;
  }
  return { seconds, bytes };
}

function linkSpeed(from: SnapshotNode | undefined, to: SnapshotNode): number {
  if (from === undefined) return BYTES_PER_SECOND.crossProvider;
  if (from.kind === 'edge' || to.kind === 'edge') return BYTES_PER_SECOND.edgeUplink;
  if (from.provider !== to.provider) return BYTES_PER_SECOND.crossProvider;
  return from.region === to.region ? BYTES_PER_SECOND.sameRegion : BYTES_PER_SECOND.crossRegion;
}

function roundTripMs(from: SnapshotNode | undefined, to: SnapshotNode): number {
  if (from === undefined || from.lat === null || from.lon === null || to.lat === null || to.lon === null) return 100;
  return estimateRttMs(greatCircleKm({ lat: from.lat, lon: from.lon }, { lat: to.lat, lon: to.lon }));
}
