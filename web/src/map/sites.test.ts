import { describe, expect, it } from 'vitest';
import { groupSites } from '../../../src/core/fleet-summary';
import { aNodeRecord as aNode } from '../../../src/core/testing/node-record';
import { clusterMarkers } from './sites';

// An equirectangular stand-in for the map projection: 1 px per degree.
const flat = (lon: number, lat: number) => [lon + 180, 90 - lat] as const;

describe('map markers', () => {
  it('merges sites closer than the radius into one marker, biggest first, and keeps far ones apart', () => {
    const sites = groupSites([
      aNode('fra', { site: 'fra', lat: 50, lon: 8, capacity: { cpuMillis: 64_000, memoryBytes: 0 } }),
      aNode('fsn', { site: 'fsn', lat: 50.5, lon: 12, state: 'unreachable' }),
      aNode('iowa', { site: 'iowa', lat: 41, lon: -95 }),
    ]);
    const wide = clusterMarkers(sites, flat, 10);
    expect(wide.map((m) => m.sites.map((s) => s.site))).toEqual([['fra', 'fsn'], ['iowa']]);
    expect(wide[0]).toMatchObject({ x: 188, y: 40, nodes: 2, cpuMillis: 68_000, health: 'degraded' });
    // Zoomed in (a smaller radius in map pixels), every site has its own marker.
    expect(clusterMarkers(sites, flat, 2).map((m) => m.sites.length)).toEqual([1, 1, 1]);
  });

  it('leaves out sites the projection cannot place', () => {
    const sites = groupSites([aNode('a'), aNode('b', { site: 'x', lat: 10, lon: 10 })]);
    expect(clusterMarkers(sites, (lon) => (lon === 10 ? null : [0, 0]), 5).map((m) => m.sites.map((s) => s.key))).toEqual([['aws/eu-central-1/']]);
  });
});
