import { describe, expect, it } from 'vitest';
import type { Labels } from '../../core/label-selector.js';
import type { PlacementSpecInput } from '../../core/placement-spec.js';
import { Cycle } from '../framework/cycle-state.js';
import { aNode, aRequest, aSnapshot } from '../testing/node-builder.js';
import { affinityScorer } from './affinity-scorer.js';

type Prefer = NonNullable<PlacementSpecInput['prefer']>;

const gold: Prefer[number] = { weight: 3, match: { key: 'tier', operator: 'In', values: ['gold'] } };
const ssd: Prefer[number] = { weight: 1, match: { key: 'disk', operator: 'In', values: ['ssd'] } };
const notSpot: Prefer[number] = { weight: 4, match: { key: 'spot', operator: 'DoesNotExist' } };

describe('affinityScorer (placement.prefer)', () => {
  it.each<{ name: string; labels: Labels; prefer: Prefer; score: number; detail: string | undefined }>([
    { name: 'no preferences scores 0 and says nothing', labels: { tier: 'gold' }, prefer: [], score: 0, detail: undefined },
    { name: 'the only preference met', labels: { tier: 'gold' }, prefer: [gold], score: 100, detail: 'meets tier In (gold)' },
    { name: 'the only preference unmet', labels: { tier: 'silver' }, prefer: [gold], score: 0, detail: 'meets no preference' },
    { name: 'the heavier of two met', labels: { tier: 'gold', disk: 'hdd' }, prefer: [gold, ssd], score: 75, detail: 'meets tier In (gold)' },
    { name: 'the lighter of two met', labels: { tier: 'silver', disk: 'ssd' }, prefer: [gold, ssd], score: 25, detail: 'meets disk In (ssd)' },
    { name: 'both met', labels: { tier: 'gold', disk: 'ssd' }, prefer: [gold, ssd], score: 100, detail: 'meets tier In (gold); disk In (ssd)' },
    { name: 'neither met', labels: {}, prefer: [gold, ssd], score: 0, detail: 'meets no preference' },
    { name: 'weight defaults to 1', labels: { disk: 'ssd' }, prefer: [{ match: ssd.match }, { match: gold.match }], score: 50, detail: 'meets disk In (ssd)' },
    {
      name: 'three preferences share by weight',
      labels: { tier: 'gold' },
      prefer: [gold, ssd, notSpot],
      score: 87.5,
      detail: 'meets tier In (gold); spot DoesNotExist',
    },
    {
      name: 'DoesNotExist unmet when the label is there',
      labels: { tier: 'gold', spot: 'yes' },
      prefer: [gold, ssd, notSpot],
      score: 37.5,
      detail: 'meets tier In (gold)',
    },
  ])('$name', ({ labels, prefer, score, detail }) => {
    const node = aNode().named('n').withLabels(labels).build();
    const task = aRequest().withPlacement({ prefer }).build();
    const cycle = new Cycle(aSnapshot([node]));
    const raw = affinityScorer.score(cycle, task, node);
    expect(raw).toBeCloseTo(score, 9);
    expect(affinityScorer.describe?.(cycle, task, node, raw)).toBe(detail);
  });
});
