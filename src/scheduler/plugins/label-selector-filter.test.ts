import { describe, expect, it } from 'vitest';
import type { LabelRequirement, Labels } from '../../core/label-selector.js';
import { Cycle } from '../framework/cycle-state.js';
import { aNode, aRequest, aSnapshot } from '../testing/node-builder.js';
import { labelSelectorFilter } from './label-selector-filter.js';

const gpuNode: Labels = { tier: 'gpu', zone: 'a' };

describe('labelSelectorFilter', () => {
  it.each<[string, Labels, LabelRequirement[], string | null]>([
    ['no constraints', gpuNode, [], null],
    ['In matches', gpuNode, [{ key: 'tier', operator: 'In', values: ['gpu', 'cpu'] }], null],
    ['In other value', gpuNode, [{ key: 'tier', operator: 'In', values: ['cpu'] }], 'requires tier In (cpu); node has tier=gpu'],
    ['In missing key', {}, [{ key: 'tier', operator: 'In', values: ['gpu'] }], 'requires tier In (gpu); node has no label tier'],
    ['NotIn other value', gpuNode, [{ key: 'tier', operator: 'NotIn', values: ['cpu'] }], null],
    ['NotIn listed value', gpuNode, [{ key: 'tier', operator: 'NotIn', values: ['gpu'] }], 'requires tier NotIn (gpu); node has tier=gpu'],
    ['Exists present', gpuNode, [{ key: 'zone', operator: 'Exists' }], null],
    ['Exists absent', gpuNode, [{ key: 'ssd', operator: 'Exists' }], 'requires ssd Exists; node has no label ssd'],
    ['DoesNotExist present', gpuNode, [{ key: 'zone', operator: 'DoesNotExist' }], 'requires zone DoesNotExist; node has zone=a'],
    [
      'names the first unmet of several',
      gpuNode,
      [
        { key: 'zone', operator: 'Exists' },
        { key: 'tier', operator: 'In', values: ['cpu'] },
        { key: 'ssd', operator: 'Exists' },
      ],
      'requires tier In (cpu); node has tier=gpu',
    ],
  ])('%s', (_name, labels, constraints, message) => {
    const node = aNode().named('a').withLabels(labels).build();
    const task = aRequest().withConstraints(...constraints).build();
    const status = labelSelectorFilter.filter(new Cycle(aSnapshot([node])), task, node);
    if (message === null) expect(status).toEqual({ code: 'success' });
    else expect(status).toEqual({ code: 'unschedulable', reason: 'label_mismatch', message });
  });
});
