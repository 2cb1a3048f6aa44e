import { describe, expect, it } from 'vitest';
import type { NodeState } from '../../core/states.js';
import { Cycle } from '../framework/cycle-state.js';
import type { Status } from '../framework/status.js';
import { aNode, aRequest, aSnapshot } from '../testing/node-builder.js';
import { nodeReadyFilter } from './node-ready-filter.js';

const notReady = (state: NodeState): Status => ({
  code: 'unschedulable',
  reason: 'node_not_ready',
  summary: `node ${state}`,
  message: `node is ${state}, not ready`,
});

describe('nodeReadyFilter', () => {
  it.each<{ state: NodeState; expected: Status }>([
    { state: 'ready', expected: { code: 'success' } },
    { state: 'unreachable', expected: notReady('unreachable') },
    { state: 'down', expected: notReady('down') },
    { state: 'draining', expected: notReady('draining') },
    { state: 'cordoned', expected: notReady('cordoned') },
    { state: 'left', expected: notReady('left') },
  ])('node in state $state', ({ state, expected }) => {
    const node = aNode().named('a').inState(state).build();
    expect(nodeReadyFilter.filter(new Cycle(aSnapshot([node])), aRequest().build(), node)).toEqual(expected);
  });

  it('rejects nodes in the same state with one summary, so they are counted together', () => {
    const nodes = [aNode().named('a').inState('down').build(), aNode().named('b').inState('down').build()];
    const cycle = new Cycle(aSnapshot(nodes));
    const summaries = nodes.map((n) => {
      const status = nodeReadyFilter.filter(cycle, aRequest().build(), n);
      return status.code === 'unschedulable' ? status.summary : status.code;
    });
    expect(summaries).toEqual(['node down', 'node down']);
  });
});
