import { describe, expect, it } from 'vitest';
import { groupSites, summarizeFleet } from './fleet-summary.js';
import { aNodeRecord as aNode } from './testing/node-record.js';

describe('fleet summary', () => {
  it('groups nodes by provider, region and site, summing capacity and judging health', () => {
    const sites = groupSites([
      aNode('a1'), aNode('a2', { state: 'unreachable', lat: 52, lon: 10 }),
      aNode('b1', { provider: 'gcp', region: 'us-central1', jurisdiction: 'US', lat: 41, lon: -95, state: 'down' }),
      aNode('c1', { site: 'shop-3', kind: 'edge', state: 'cordoned' }),
      aNode('nowhere', { lat: null, lon: null }),
    ]);
    expect(sites.map((s) => [s.key, s.nodes, s.ready, s.health, s.cpuMillis, s.usedCpuMillis, s.runningAttempts])).toEqual([
      ['aws/eu-central-1/', 2, 1, 'degraded', 8000, 2000, 2],
      ['aws/eu-central-1/shop-3', 1, 0, 'degraded', 4000, 1000, 1],
      ['gcp/us-central1/', 1, 0, 'down', 4000, 1000, 1],
    ]);
    // A site's position is the mean of its nodes'.
    expect([sites[0]!.lat, sites[0]!.lon]).toEqual([51, 9]);
  });

  it('counts nodes by state, provider and region, largest first, and those without a place', () => {
    const summary = summarizeFleet([aNode('a'), aNode('b', { provider: 'gcp', state: 'down' }), aNode('c', { provider: 'gcp', lat: null, lon: null })]);
    expect(summary).toMatchObject({
      nodes: 3, unplaced: 1,
      byState: [['ready', 2], ['down', 1]],
      byProvider: [['gcp', 2], ['aws', 1]],
      byRegion: [['eu-central-1', 3]],
    });
  });
});
