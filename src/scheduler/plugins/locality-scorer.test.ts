import { describe, expect, it } from 'vitest';
import { Cycle } from '../framework/cycle-state.js';
import type { PlacementRequest, SnapshotNode } from '../framework/snapshot.js';
import { aNode, aRequest, aSnapshot } from '../testing/node-builder.js';
import { fetchSeconds, localityScorer } from './locality-scorer.js';

const MB = 1e6;
// Frankfurt and a second AWS node beside it; Dublin (other region); a GCP node in Frankfurt; a Berlin edge box.
const target = aNode().named('target').locatedAt('aws', 'eu-central-1', 'DE', 50.1, 8.7).build();
const neighbour = aNode().named('neighbour').locatedAt('aws', 'eu-central-1', 'DE', 50.1, 8.7).build();
const dublin = aNode().named('dublin').locatedAt('aws', 'eu-west-1', 'IE', 53.3, -6.3).build();
const otherCloud = aNode().named('gcp').locatedAt('gcp', 'europe-west3', 'DE', 50.1, 8.7).build();
const edgeBox = aNode().named('berlin').locatedAt('edge', 'de-be', 'DE', 52.5, 13.4).ofKind('edge').build();
const fleet = [target, neighbour, dublin, otherCloud, edgeBox];

const seconds = (task: PlacementRequest, node: SnapshotNode = target) => fetchSeconds(new Cycle(aSnapshot(fleet)), task, node);

describe('localityScorer', () => {
  it.each<{ name: string; from: string; bytes: number; expected: number }>([
    { name: 'data on the node costs nothing', from: 'target', bytes: 1000 * MB, expected: 0 },
    { name: 'a gigabyte from the next rack takes about a second', from: 'neighbour', bytes: 1000 * MB, expected: 1 },
    { name: 'from another region of the provider: five times slower', from: 'dublin', bytes: 1000 * MB, expected: 5 },
    { name: 'from another provider: ten times slower', from: 'gcp', bytes: 1000 * MB, expected: 10 },
    { name: 'from an edge site: its uplink', from: 'berlin', bytes: 100 * MB, expected: 5 },
  ])('$name', ({ from, bytes, expected }) => {
    const result = seconds(aRequest().withInputs({ node: from, bytes }).build());
    // Plus one round trip, a few ms across Europe.
    expect(result.seconds).toBeGreaterThanOrEqual(expected);
    expect(result.seconds).toBeLessThan(expected + 0.05);
  });

  it('adds up every input that is elsewhere and names what it would fetch', () => {
    const task = aRequest().withInputs({ node: 'target', bytes: 500 * MB }, { node: 'gcp', bytes: 100 * MB }, { node: 'berlin', bytes: 20 * MB }).build();
    expect(seconds(task).bytes).toBe(120 * MB);
    const cycle = new Cycle(aSnapshot(fleet));
    expect(localityScorer.describe!(cycle, task, target, 0)).toMatch(/^~2\.0 s to fetch 120\.0 MB of inputs$/);
    expect(localityScorer.describe!(cycle, aRequest().withInputs({ node: 'target', bytes: 5 }).build(), target, 0)).toBe('every input is on this node');
    expect(localityScorer.describe!(cycle, aRequest().build(), target, 0)).toBe('no inputs');
  });

  it('treats data on a node that left the fleet as far away', () => {
    expect(seconds(aRequest().withInputs({ node: 'gone', bytes: 100 * MB }).build()).seconds).toBeCloseTo(1.1, 1);
  });
});
