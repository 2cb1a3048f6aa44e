import { describe, expect, it } from 'vitest';
import { EDGE_TAINT, type Taint, type Toleration } from '../../core/placement-spec.js';
import { Cycle } from '../framework/cycle-state.js';
import type { Status } from '../framework/status.js';
import { aNode, aRequest, aSnapshot } from '../testing/node-builder.js';
import { taintTolerationFilter } from './taint-toleration-filter.js';

const untolerated = (name: string, key: string): Status => ({
  code: 'unschedulable',
  reason: 'untolerated_taint',
  summary: `untolerated taint ${name}`,
  message: `node is tainted ${name}; add tolerations: [{key: ${key}}] to the job to run here`,
});
const PASS: Status = { code: 'success' };

describe('taintTolerationFilter', () => {
  it.each<{ name: string; taints: Taint[]; tolerations: Toleration[]; expected: Status }>([
    { name: 'untainted node, no tolerations', taints: [], tolerations: [], expected: PASS },
    { name: 'untainted node, needless tolerations', taints: [], tolerations: [{ key: 'edge' }], expected: PASS },
    { name: 'edge taint untolerated', taints: [EDGE_TAINT], tolerations: [], expected: untolerated('edge', 'edge') },
    { name: 'edge taint tolerated by key', taints: [EDGE_TAINT], tolerations: [{ key: 'edge' }], expected: PASS },
    { name: 'edge taint tolerated by Exists', taints: [EDGE_TAINT], tolerations: [{ key: 'edge', operator: 'Exists' }], expected: PASS },
    { name: 'a toleration for another key', taints: [EDGE_TAINT], tolerations: [{ key: 'gpu' }], expected: untolerated('edge', 'edge') },
    { name: 'keys match exactly', taints: [EDGE_TAINT], tolerations: [{ key: 'Edge' }], expected: untolerated('edge', 'edge') },
    { name: 'Exists tolerates any value of the key', taints: [{ key: 'gpu', value: 'a100' }], tolerations: [{ key: 'gpu', operator: 'Exists' }], expected: PASS },
    { name: 'key alone tolerates any value of the key', taints: [{ key: 'gpu', value: 'a100' }], tolerations: [{ key: 'gpu' }], expected: PASS },
    { name: 'Equal with the same value', taints: [{ key: 'gpu', value: 'a100' }], tolerations: [{ key: 'gpu', operator: 'Equal', value: 'a100' }], expected: PASS },
    {
      name: 'Equal with another value',
      taints: [{ key: 'gpu', value: 'a100' }],
      tolerations: [{ key: 'gpu', operator: 'Equal', value: 'h100' }],
      expected: untolerated('gpu=a100', 'gpu'),
    },
    {
      name: 'Equal with a value against a taint without one',
      taints: [{ key: 'gpu' }],
      tolerations: [{ key: 'gpu', operator: 'Equal', value: 'a100' }],
      expected: untolerated('gpu', 'gpu'),
    },
    {
      name: 'a value without operator means Equal',
      taints: [{ key: 'gpu', value: 'a100' }],
      tolerations: [{ key: 'gpu', value: 'h100' }],
      expected: untolerated('gpu=a100', 'gpu'),
    },
    {
      name: 'one of several tolerations matches',
      taints: [{ key: 'gpu', value: 'a100' }],
      tolerations: [{ key: 'gpu', operator: 'Equal', value: 'h100' }, { key: 'gpu', operator: 'Equal', value: 'a100' }],
      expected: PASS,
    },
    { name: 'all taints tolerated', taints: [EDGE_TAINT, { key: 'gpu', value: 'a100' }], tolerations: [{ key: 'gpu' }, { key: 'edge' }], expected: PASS },
    { name: 'second taint untolerated', taints: [EDGE_TAINT, { key: 'gpu', value: 'a100' }], tolerations: [{ key: 'edge' }], expected: untolerated('gpu=a100', 'gpu') },
    { name: 'first taint untolerated', taints: [EDGE_TAINT, { key: 'gpu', value: 'a100' }], tolerations: [{ key: 'gpu' }], expected: untolerated('edge', 'edge') },
    { name: 'none tolerated: the first is named', taints: [{ key: 'spot' }, EDGE_TAINT], tolerations: [], expected: untolerated('spot', 'spot') },
  ])('$name', ({ taints, tolerations, expected }) => {
    const node = aNode().named('n').withTaints(...taints).build();
    const task = aRequest().tolerating(...tolerations).build();
    expect(taintTolerationFilter.filter(new Cycle(aSnapshot([node])), task, node)).toEqual(expected);
  });
});
