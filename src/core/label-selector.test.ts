import { describe, expect, it } from 'vitest';
import {
  describeRequirement,
  firstUnmetRequirement,
  labelRequirementSchema,
  matchesRequirement,
  type LabelRequirement,
  type Labels,
} from './label-selector.js';

const gold: Labels = { tier: 'gold', zone: 'a' };
const silver: Labels = { tier: 'silver' };
const empty: Labels = {};
const blank: Labels = { tier: '' };

const inGoldBronze: LabelRequirement = { key: 'tier', operator: 'In', values: ['gold', 'bronze'] };
const notInGold: LabelRequirement = { key: 'tier', operator: 'NotIn', values: ['gold'] };
const tierExists: LabelRequirement = { key: 'tier', operator: 'Exists' };
const tierAbsent: LabelRequirement = { key: 'tier', operator: 'DoesNotExist' };
const inBlank: LabelRequirement = { key: 'tier', operator: 'In', values: [''] };

describe('matchesRequirement truth table', () => {
  it.each<{ labels: Labels; labelsName: string; req: LabelRequirement; expected: boolean }>([
    { labels: gold, labelsName: 'tier=gold', req: inGoldBronze, expected: true },
    { labels: silver, labelsName: 'tier=silver', req: inGoldBronze, expected: false },
    { labels: empty, labelsName: 'no labels', req: inGoldBronze, expected: false },
    { labels: blank, labelsName: 'tier=""', req: inGoldBronze, expected: false },
    { labels: blank, labelsName: 'tier=""', req: inBlank, expected: true },
    { labels: empty, labelsName: 'no labels', req: inBlank, expected: false },

    { labels: gold, labelsName: 'tier=gold', req: notInGold, expected: false },
    { labels: silver, labelsName: 'tier=silver', req: notInGold, expected: true },
    // Kubernetes semantics: a missing key satisfies NotIn.
    { labels: empty, labelsName: 'no labels', req: notInGold, expected: true },
    { labels: blank, labelsName: 'tier=""', req: notInGold, expected: true },

    { labels: gold, labelsName: 'tier=gold', req: tierExists, expected: true },
    { labels: blank, labelsName: 'tier=""', req: tierExists, expected: true },
    { labels: empty, labelsName: 'no labels', req: tierExists, expected: false },
    { labels: { zone: 'a' }, labelsName: 'other key only', req: tierExists, expected: false },

    { labels: gold, labelsName: 'tier=gold', req: tierAbsent, expected: false },
    { labels: blank, labelsName: 'tier=""', req: tierAbsent, expected: false },
    { labels: empty, labelsName: 'no labels', req: tierAbsent, expected: true },
    { labels: { zone: 'a' }, labelsName: 'other key only', req: tierAbsent, expected: true },
  ])('$labelsName, $req.key $req.operator $req.values -> $expected', ({ labels, req, expected }) => {
    expect(matchesRequirement(labels, req)).toBe(expected);
  });

  it('does not treat inherited object properties as labels', () => {
    expect(matchesRequirement({}, { key: 'toString', operator: 'Exists' })).toBe(false);
    expect(matchesRequirement({}, { key: 'constructor', operator: 'DoesNotExist' })).toBe(true);
    expect(matchesRequirement({}, { key: '__proto__', operator: 'Exists' })).toBe(false);
  });

  it('compares values exactly (case-sensitive, no trimming)', () => {
    expect(matchesRequirement({ tier: 'Gold' }, inGoldBronze)).toBe(false);
    expect(matchesRequirement({ tier: 'gold ' }, inGoldBronze)).toBe(false);
    expect(matchesRequirement({ tier: 'bronze' }, inGoldBronze)).toBe(true);
  });
});

describe('firstUnmetRequirement', () => {
  it.each<{ name: string; labels: Labels; reqs: LabelRequirement[]; expected: LabelRequirement | undefined }>([
    { name: 'no requirements', labels: empty, reqs: [], expected: undefined },
    { name: 'all hold', labels: gold, reqs: [tierExists, inGoldBronze, { key: 'zone', operator: 'In', values: ['a'] }], expected: undefined },
    { name: 'the only one fails', labels: silver, reqs: [inGoldBronze], expected: inGoldBronze },
    { name: 'the second fails', labels: silver, reqs: [tierExists, inGoldBronze, tierAbsent], expected: inGoldBronze },
    { name: 'the first of several failures', labels: gold, reqs: [tierExists, notInGold, tierAbsent], expected: notInGold },
    { name: 'the last fails', labels: empty, reqs: [tierAbsent, notInGold, tierExists], expected: tierExists },
  ])('$name', ({ labels, reqs, expected }) => {
    expect(firstUnmetRequirement(labels, reqs)).toBe(expected);
  });
});

describe('describeRequirement', () => {
  it.each<{ req: LabelRequirement; expected: string }>([
    { req: inGoldBronze, expected: 'tier In (gold, bronze)' },
    { req: notInGold, expected: 'tier NotIn (gold)' },
    { req: tierExists, expected: 'tier Exists' },
    { req: tierAbsent, expected: 'tier DoesNotExist' },
  ])('$expected', ({ req, expected }) => {
    expect(describeRequirement(req)).toBe(expected);
  });
});

describe('labelRequirementSchema', () => {
  it.each<{ input: unknown; ok: boolean }>([
    { input: { key: 'tier', operator: 'In', values: ['gold'] }, ok: true },
    { input: { key: 'tier', operator: 'NotIn', values: ['gold', 'silver'] }, ok: true },
    { input: { key: 'gpu', operator: 'Exists' }, ok: true },
    { input: { key: 'gpu', operator: 'DoesNotExist' }, ok: true },
    { input: { key: 'tier', operator: 'In' }, ok: false },
    { input: { key: 'tier', operator: 'In', values: [] }, ok: false },
    { input: { key: 'tier', operator: 'NotIn' }, ok: false },
    { input: { key: 'gpu', operator: 'Exists', values: [] }, ok: false },
    { input: { key: 'gpu', operator: 'DoesNotExist', values: ['x'] }, ok: false },
    { input: { key: '', operator: 'Exists' }, ok: false },
    { input: { key: 'k'.repeat(254), operator: 'Exists' }, ok: false },
    { input: { key: 'tier', operator: 'in', values: ['gold'] }, ok: false },
    { input: { key: 'tier', operator: 'In', values: ['gold'], extra: true }, ok: false },
    { input: { key: 'tier', operator: 'In', values: Array.from({ length: 65 }, (_, i) => `v${i}`) }, ok: false },
    { input: { operator: 'Exists' }, ok: false },
  ])('$input -> valid: $ok', ({ input, ok }) => {
    expect(labelRequirementSchema.safeParse(input).success).toBe(ok);
  });
});
