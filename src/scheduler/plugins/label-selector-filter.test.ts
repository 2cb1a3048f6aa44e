import { describe, expect, it } from 'vitest';
import type { LabelRequirement, Labels } from '../../core/label-selector.js';
import { Cycle } from '../framework/cycle-state.js';
import type { Status } from '../framework/status.js';
import { aNode, aRequest, aSnapshot } from '../testing/node-builder.js';
import { labelSelectorFilter } from './label-selector-filter.js';

const gpuNode: Labels = { tier: 'gpu', zone: 'a' };

const mismatch = (rule: string, actual: string): Status => ({
  code: 'unschedulable',
  reason: 'label_mismatch',
  summary: `label not ${rule}`,
  message: `requires ${rule}; ${actual}`,
});
const PASS: Status = { code: 'success' };

describe('labelSelectorFilter (placement.require)', () => {
  it.each<{ name: string; labels: Labels; require: LabelRequirement[]; expected: Status }>([
    { name: 'no requirements', labels: gpuNode, require: [], expected: PASS },
    { name: 'no requirements, no labels', labels: {}, require: [], expected: PASS },
    { name: 'In matches', labels: gpuNode, require: [{ key: 'tier', operator: 'In', values: ['gpu', 'cpu'] }], expected: PASS },
    { name: 'In other value', labels: gpuNode, require: [{ key: 'tier', operator: 'In', values: ['cpu'] }], expected: mismatch('tier In (cpu)', 'node has tier=gpu') },
    { name: 'In missing key', labels: {}, require: [{ key: 'tier', operator: 'In', values: ['gpu'] }], expected: mismatch('tier In (gpu)', 'node has no label tier') },
    { name: 'In values match exactly', labels: gpuNode, require: [{ key: 'tier', operator: 'In', values: ['GPU'] }], expected: mismatch('tier In (GPU)', 'node has tier=gpu') },
    { name: 'NotIn other value', labels: gpuNode, require: [{ key: 'tier', operator: 'NotIn', values: ['cpu'] }], expected: PASS },
    { name: 'NotIn missing key', labels: {}, require: [{ key: 'tier', operator: 'NotIn', values: ['cpu'] }], expected: PASS },
    {
      name: 'NotIn listed value',
      labels: gpuNode,
      require: [{ key: 'tier', operator: 'NotIn', values: ['cpu', 'gpu'] }],
      expected: mismatch('tier NotIn (cpu, gpu)', 'node has tier=gpu'),
    },
    { name: 'Exists present', labels: gpuNode, require: [{ key: 'zone', operator: 'Exists' }], expected: PASS },
    { name: 'Exists with an empty value', labels: { ssd: '' }, require: [{ key: 'ssd', operator: 'Exists' }], expected: PASS },
    { name: 'Exists absent', labels: gpuNode, require: [{ key: 'ssd', operator: 'Exists' }], expected: mismatch('ssd Exists', 'node has no label ssd') },
    {
      name: 'Exists does not see inherited properties',
      labels: gpuNode,
      require: [{ key: 'toString', operator: 'Exists' }],
      expected: mismatch('toString Exists', 'node has no label toString'),
    },
    { name: 'DoesNotExist absent', labels: gpuNode, require: [{ key: 'ssd', operator: 'DoesNotExist' }], expected: PASS },
    { name: 'DoesNotExist present', labels: gpuNode, require: [{ key: 'zone', operator: 'DoesNotExist' }], expected: mismatch('zone DoesNotExist', 'node has zone=a') },
    {
      name: 'all of several met',
      labels: gpuNode,
      require: [
        { key: 'zone', operator: 'Exists' },
        { key: 'tier', operator: 'In', values: ['gpu'] },
        { key: 'ssd', operator: 'DoesNotExist' },
      ],
      expected: PASS,
    },
    {
      name: 'names the first unmet of several',
      labels: gpuNode,
      require: [
        { key: 'zone', operator: 'Exists' },
        { key: 'tier', operator: 'In', values: ['cpu'] },
        { key: 'ssd', operator: 'Exists' },
      ],
      expected: mismatch('tier In (cpu)', 'node has tier=gpu'),
    },
  ])('$name', ({ labels, require, expected }) => {
    const node = aNode().named('a').withLabels(labels).build();
    const builder = aRequest();
    for (const r of require) builder.requiring(r.key, r.operator, r.values);
    const task = builder.build();
    expect(task.placement.require).toEqual(require);
    expect(labelSelectorFilter.filter(new Cycle(aSnapshot([node])), task, node)).toEqual(expected);
  });

  it('reads the same rule from a placement written as a spec', () => {
    const node = aNode().named('a').withLabels({ tier: 'silver' }).build();
    const task = aRequest().withPlacement({ require: [{ key: 'tier', operator: 'In', values: ['gold'] }] }).build();
    expect(labelSelectorFilter.filter(new Cycle(aSnapshot([node])), task, node)).toEqual(mismatch('tier In (gold)', 'node has tier=silver'));
  });
});
