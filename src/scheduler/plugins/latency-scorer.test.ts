import { describe, expect, it } from 'vitest';
import { estimateRttMs, greatCircleKm } from '../../core/geo.js';
import type { UserLocation } from '../../core/placement-spec.js';
import { Cycle } from '../framework/cycle-state.js';
import type { SnapshotNode } from '../framework/snapshot.js';
import { aNode, aRequest, aSnapshot } from '../testing/node-builder.js';
import { latencyScorer } from './latency-scorer.js';

const PARIS = { lat: 48.85, lon: 2.35 };
// Coordinates of the built-in region table (src/core/known-regions.ts).
const FRANKFURT = { lat: 50.11, lon: 8.68 }; // eu-central-1
const DUBLIN = { lat: 53.35, lon: -6.26 }; // eu-west-1
const VIRGINIA = { lat: 39.04, lon: -77.49 }; // us-east-1

const estimate = (a: { lat: number; lon: number }, b: { lat: number; lon: number }): number => estimateRttMs(greatCircleKm(a, b));

interface Measured {
  readonly raw: number;
  readonly detail: string | undefined;
}

/** Scores `node` (which must be in `fleet`) the way the runtime does: prepare once, then score and describe. */
function latencyOf(node: SnapshotNode, users: readonly UserLocation[] | undefined, fleet: readonly SnapshotNode[] = [node]): Measured {
  const cycle = new Cycle(aSnapshot(fleet));
  latencyScorer.prepare?.(cycle);
  const task = aRequest().withPlacement(users === undefined ? {} : { near: { users: [...users] } }).build();
  const raw = latencyScorer.score(cycle, task, node);
  return { raw, detail: latencyScorer.describe?.(cycle, task, node, raw) };
}

const at = (name: string, point: { lat: number; lon: number }, region = 'somewhere'): SnapshotNode =>
  aNode().named(name).inRegion(region).at(point.lat, point.lon).build();

describe('latencyScorer (placement.near)', () => {
  const inFrankfurt = at('fra', FRANKFURT);
  const noCoords = aNode().named('nowhere').inRegion('somewhere').build();
  // Two nodes of an edge region the built-in table does not know; its centre is (48.5, 2.5).
  const shopA = at('shop-a', { lat: 48, lon: 2 }, 'shop-paris');
  const shopB = at('shop-b', { lat: 49, lon: 3 }, 'shop-paris');
  const shopCentre = { lat: 48.5, lon: 2.5 };
  // A fleet that puts eu-west-1 somewhere else than Dublin: the fleet's own nodes win.
  const ownWest1 = at('own-west-1', { lat: 0, lon: 0 }, 'eu-west-1');

  it.each<{ name: string; node: SnapshotNode; users: UserLocation[] | undefined; fleet?: SnapshotNode[]; raw: number; detail: string | undefined }>([
    { name: 'no near: 0 and no words', node: inFrankfurt, users: undefined, raw: 0, detail: undefined },
    {
      name: 'a node where the user is costs only the base overhead',
      node: at('par', PARIS),
      users: [PARIS],
      raw: 4,
      detail: '~4.0 ms mean round trip to 48.85,2.35 (estimated)',
    },
    {
      name: 'Paris to Frankfurt is about 11 ms',
      node: inFrankfurt,
      users: [PARIS],
      raw: estimate(FRANKFURT, PARIS),
      detail: '~11.1 ms mean round trip to 48.85,2.35 (estimated)',
    },
    {
      name: 'a measured round trip to a named region beats the estimate',
      node: aNode().named('m').at(FRANKFURT.lat, FRANKFURT.lon).withRtt({ 'eu-west-1': 12 }).build(),
      users: ['eu-west-1'],
      raw: 12,
      detail: '~12.0 ms mean round trip to eu-west-1 (measured)',
    },
    {
      name: 'a measurement for another region is not used',
      node: aNode().named('m').at(FRANKFURT.lat, FRANKFURT.lon).withRtt({ 'eu-west-3': 9 }).build(),
      users: ['eu-west-1'],
      raw: estimate(FRANKFURT, DUBLIN),
      detail: `~${estimate(FRANKFURT, DUBLIN).toFixed(1)} ms mean round trip to eu-west-1 (estimated)`,
    },
    {
      name: 'a measurement is used even for a node without coordinates',
      node: aNode().named('m').withRtt({ 'eu-west-1': 30 }).build(),
      users: ['eu-west-1'],
      raw: 30,
      detail: '~30.0 ms mean round trip to eu-west-1 (measured)',
    },
    {
      name: 'a named region not in the fleet comes from the built-in table',
      node: inFrankfurt,
      users: ['eu-central-1'],
      raw: 4,
      detail: '~4.0 ms mean round trip to eu-central-1 (estimated)',
    },
    {
      name: 'a named region sits at the centre of the fleet nodes there',
      node: at('mid', shopCentre),
      users: ['shop-paris'],
      fleet: [shopA, shopB, at('mid', shopCentre)],
      raw: 4,
      detail: '~4.0 ms mean round trip to shop-paris (estimated)',
    },
    {
      name: 'the fleet centre of a region beats the built-in table',
      node: at('zero', { lat: 0, lon: 0 }),
      users: ['eu-west-1'],
      fleet: [ownWest1, at('zero', { lat: 0, lon: 0 })],
      raw: 4,
      detail: '~4.0 ms mean round trip to eu-west-1 (estimated)',
    },
    {
      name: 'fleet nodes without coordinates do not move the centre',
      node: at('mid', shopCentre),
      users: ['shop-paris'],
      fleet: [shopA, shopB, aNode().named('blind').inRegion('shop-paris').build(), at('mid', shopCentre)],
      raw: 4,
      detail: '~4.0 ms mean round trip to shop-paris (estimated)',
    },
    {
      name: 'an unknown region name resolves to nothing',
      node: inFrankfurt,
      users: ['nowhere-9'],
      raw: Number.POSITIVE_INFINITY,
      detail: 'no user location is known; unknown, ignored: nowhere-9',
    },
    {
      name: 'region names are case-sensitive',
      node: inFrankfurt,
      users: ['EU-CENTRAL-1'],
      raw: Number.POSITIVE_INFINITY,
      detail: 'no user location is known; unknown, ignored: EU-CENTRAL-1',
    },
    {
      // Object.prototype members are not measurements (rttMs is a plain object).
      name: 'a region named like an Object.prototype member is unknown',
      node: aNode().named('m').at(FRANKFURT.lat, FRANKFURT.lon).withRtt({ 'eu-west-1': 12 }).build(),
      users: ['toString', 'constructor'],
      raw: Number.POSITIVE_INFINITY,
      detail: 'no user location is known; unknown, ignored: toString, constructor',
    },
    {
      name: 'an unknown region name is ignored when another user resolves',
      node: inFrankfurt,
      users: ['eu-central-1', 'nowhere-9'],
      raw: 4,
      detail: '~4.0 ms mean round trip to eu-central-1 (estimated); unknown, ignored: nowhere-9',
    },
    {
      name: 'a node without coordinates cannot be estimated',
      node: noCoords,
      users: [PARIS],
      raw: Number.POSITIVE_INFINITY,
      detail: 'node has no coordinates or measured round-trip times',
    },
    {
      name: 'a node without coordinates, named region without measurement',
      node: noCoords,
      users: ['eu-central-1'],
      raw: Number.POSITIVE_INFINITY,
      detail: 'node has no coordinates or measured round-trip times',
    },
    {
      name: 'the mean over several users',
      node: at('par', PARIS),
      users: [PARIS, FRANKFURT],
      raw: (4 + estimate(PARIS, FRANKFURT)) / 2,
      detail: `~${((4 + estimate(PARIS, FRANKFURT)) / 2).toFixed(1)} ms mean round trip to 2 user locations (estimated)`,
    },
    {
      name: 'measured and estimated users mixed',
      node: aNode().named('m').at(PARIS.lat, PARIS.lon).withRtt({ 'eu-west-1': 20 }).build(),
      users: ['eu-west-1', PARIS],
      raw: 12,
      detail: '~12.0 ms mean round trip to 2 user locations (1 measured)',
    },
    {
      name: 'every user measured',
      node: aNode().named('m').withRtt({ 'eu-west-1': 10, 'us-east-1': 80 }).build(),
      users: ['eu-west-1', 'us-east-1'],
      raw: 45,
      detail: '~45.0 ms mean round trip to 2 user locations (measured)',
    },
  ])('$name', ({ node, users, fleet, raw, detail }) => {
    const measured = latencyOf(node, users, fleet ?? [node]);
    if (Number.isFinite(raw)) expect(measured.raw).toBeCloseTo(raw, 9);
    else expect(measured.raw).toBe(raw);
    expect(measured.detail).toBe(detail);
  });

  it('a nearer node has a lower round trip', () => {
    const fra = at('fra', FRANKFURT);
    const dub = at('dub', DUBLIN);
    const iad = at('iad', VIRGINIA);
    const fleet = [iad, dub, fra];
    const cycle = new Cycle(aSnapshot(fleet));
    latencyScorer.prepare?.(cycle);
    const task = aRequest().withPlacement({ near: { users: [PARIS] } }).build();
    const ranked = [...fleet].sort((a, b) => latencyScorer.score(cycle, task, a) - latencyScorer.score(cycle, task, b)).map((n) => n.name);
    expect(ranked).toEqual(['fra', 'dub', 'iad']);
  });

  it('a measured round trip wins over a nearer estimate', () => {
    // Frankfurt is nearer Dublin, but the Virginia node measured a faster path (a test double).
    const fra = at('fra', FRANKFURT);
    const iad = aNode().named('iad').at(VIRGINIA.lat, VIRGINIA.lon).withRtt({ 'eu-west-1': 5 }).build();
    const cycle = new Cycle(aSnapshot([fra, iad]));
    latencyScorer.prepare?.(cycle);
    const task = aRequest().withPlacement({ near: { users: ['eu-west-1'] } }).build();
    expect(latencyScorer.score(cycle, task, iad)).toBe(5);
    expect(latencyScorer.score(cycle, task, fra)).toBeCloseTo(estimate(FRANKFURT, DUBLIN), 9);
    expect(latencyScorer.score(cycle, task, fra)).toBeGreaterThan(5);
  });

  it('needs its prepare hook: scoring a task with near users before it is a plugin ordering bug', () => {
    const node = at('fra', FRANKFURT);
    const task = aRequest().withPlacement({ near: { users: [PARIS] } }).build();
    expect(() => latencyScorer.score(new Cycle(aSnapshot([node])), task, node)).toThrow('cycle state "latency" was read before any prepare hook wrote it');
  });

  it('a region only another node measured ranks nodes without a measurement last', () => {
    const fra = at('fra', FRANKFURT);
    const probe = aNode().named('probe').at(FRANKFURT.lat, FRANKFURT.lon).withRtt({ 'edge-7': 3 }).build();
    const fleet = [fra, probe];
    expect(latencyOf(probe, ['edge-7'], fleet)).toEqual({ raw: 3, detail: '~3.0 ms mean round trip to edge-7 (measured)' });
    expect(latencyOf(fra, ['edge-7'], fleet).raw).toBe(Number.POSITIVE_INFINITY);
  });
});
