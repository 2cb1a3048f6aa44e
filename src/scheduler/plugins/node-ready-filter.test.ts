import { describe, expect, it } from 'vitest';
import type { NodeState } from '../../core/states.js';
import { Cycle } from '../framework/cycle-state.js';
import { aNode, aRequest, aSnapshot } from '../testing/node-builder.js';
import { nodeReadyFilter } from './node-ready-filter.js';

describe('nodeReadyFilter', () => {
  it.each<[NodeState, string | null]>([
    ['ready', null],
    ['unreachable', 'node is unreachable, not ready'],
    ['down', 'node is down, not ready'],
    ['draining', 'node is draining, not ready'],
    ['cordoned', 'node is cordoned, not ready'],
    ['left', 'node is left, not ready'],
  ])('node in state %s', (state, message) => {
    const node = aNode().named('a').inState(state).build();
    const status = nodeReadyFilter.filter(new Cycle(aSnapshot([node])), aRequest().build(), node);
    if (message === null) expect(status).toEqual({ code: 'success' });
    else expect(status).toEqual({ code: 'unschedulable', reason: 'node_not_ready', message });
  });
});
