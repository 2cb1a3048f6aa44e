import { describe, expect, it } from 'vitest';
import { routeKind, summarizeTransfers } from './transfers.js';
import type { EventRecord } from './types.js';

const berlin = { node: 'edge-berlin', provider: 'edge', region: 'de-be', site: 'berlin-shop-3', jurisdiction: 'DE' };
const berlin2 = { ...berlin, node: 'edge-berlin-2' };
const paris = { node: 'edge-paris', provider: 'edge', region: 'fr-idf', site: 'paris-shop-11', jurisdiction: 'FR' };
const frankfurt = { node: 'aws-eu-central-1a', provider: 'aws', region: 'eu-central-1', site: '', jurisdiction: 'DE' };
const frankfurtB = { ...frankfurt, node: 'aws-eu-central-1b' };

const event = (from: object, to: object, bytes: number, seq: number): EventRecord => ({
  seq, time: seq, type: 'transfer.completed', jobId: 'j', taskId: 'j.0', attemptId: 'j.0.1', node: 'x', data: { from, to, bytes, durationMs: 1 },
});

describe('routeKind', () => {
  it.each([
    { name: 'two boxes of one site', from: berlin, to: berlin2, kind: 'same-site' },
    { name: 'two cloud nodes of one region', from: frankfurt, to: frankfurtB, kind: 'cross-site' },
    { name: 'two regions of one provider', from: berlin, to: paris, kind: 'cross-region' },
    { name: 'two providers', from: berlin, to: frankfurt, kind: 'cross-provider' },
    { name: 'a node that left the fleet', from: { node: 'gone' }, to: frankfurt, kind: 'cross-provider' },
  ])('$name is $kind', ({ from, to, kind }) => {
    expect(routeKind(from, to)).toBe(kind);
  });
});

describe('summarizeTransfers', () => {
  it('sums bytes by boundary and by route, ignoring other events', () => {
    const events = [
      event(berlin, frankfurt, 100, 1),
      event(paris, frankfurt, 50, 2),
      event(berlin, frankfurt, 10, 3),
      event(berlin, berlin2, 7, 4),
      { ...event(berlin, paris, 999, 5), type: 'task.placed' as const },
    ];
    expect(summarizeTransfers(events)).toEqual({
      transfers: 4,
      bytes: 167,
      byRoute: { 'same-site': 7, 'cross-site': 0, 'cross-region': 0, 'cross-provider': 160 },
      routes: [
        { from: 'edge/de-be/berlin-shop-3', to: 'aws/eu-central-1/aws-eu-central-1a', kind: 'cross-provider', transfers: 2, bytes: 110 },
        { from: 'edge/fr-idf/paris-shop-11', to: 'aws/eu-central-1/aws-eu-central-1a', kind: 'cross-provider', transfers: 1, bytes: 50 },
        { from: 'edge/de-be/berlin-shop-3', to: 'edge/de-be/berlin-shop-3', kind: 'same-site', transfers: 1, bytes: 7 },
      ],
    });
  });
});
