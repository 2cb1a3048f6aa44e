import { describe, expect, it } from 'vitest';
import type { SnapshotNode } from '../framework/snapshot.js';
import { aNode } from '../testing/node-builder.js';
import { LIST_TRANSFER_PRICING } from './transfer-pricing.js';

const node = (provider: string, region: string, zone: string): SnapshotNode =>
  aNode().named(`${provider}-${region}-${zone}`).inProvider(provider).inRegion(region).inZone(zone).build();

const hetzner = node('hetzner', 'fsn1', 'fsn1-dc14');

// Dollars per GB, as list prices have it: free in a zone, $0.01 across zones, $0.02 across
// regions of one provider, $0.09 to another provider or the internet.
describe('LIST_TRANSFER_PRICING', () => {
  it.each<{ name: string; from: SnapshotNode; to: SnapshotNode; perGb: number }>([
    { name: 'same zone', from: node('aws', 'eu-west-1', 'a'), to: node('aws', 'eu-west-1', 'a'), perGb: 0 },
    { name: 'same node', from: hetzner, to: hetzner, perGb: 0 },
    { name: 'cross zone', from: node('aws', 'eu-west-1', 'a'), to: node('aws', 'eu-west-1', 'b'), perGb: 0.01 },
    { name: 'cross region', from: node('aws', 'eu-west-1', 'a'), to: node('aws', 'us-east-1', 'a'), perGb: 0.02 },
    { name: 'cross region, zones named alike', from: node('gcp', 'europe-west1', 'b'), to: node('gcp', 'europe-west3', 'b'), perGb: 0.02 },
    { name: 'cross provider', from: node('aws', 'eu-west-1', 'a'), to: node('gcp', 'eu-west-1', 'a'), perGb: 0.09 },
    { name: 'cross provider, other way', from: node('gcp', 'europe-west1', 'b'), to: node('aws', 'eu-west-1', 'a'), perGb: 0.09 },
    { name: 'no provider on either side is the internet', from: node('', 'x', 'a'), to: node('', 'x', 'a'), perGb: 0.09 },
    { name: 'no provider at the source', from: node('', 'eu-west-1', 'a'), to: node('aws', 'eu-west-1', 'a'), perGb: 0.09 },
  ])('$name', ({ from, to, perGb }) => {
    expect(LIST_TRANSFER_PRICING.perGb(from, to)).toBe(perGb);
    expect(LIST_TRANSFER_PRICING.perGb(to, from)).toBe(perGb);
  });
});
