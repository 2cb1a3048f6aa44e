import { describe, expect, it } from 'vitest';
import type { NodeState } from '../../core/states.js';
import { Cycle } from '../framework/cycle-state.js';
import type { TaskInput } from '../framework/snapshot.js';
import { aNode, aRequest, aSnapshot } from '../testing/node-builder.js';
import { dataHolderFilter } from './data-holder-filter.js';

const input = (node: string, extra: Partial<TaskInput> = {}): TaskInput => ({ dataset: 'readings', partition: 'berlin', node, bytes: 10, sha256: 'a'.repeat(64), residencyClass: null, ...extra });

function verdict(holderState: NodeState | 'absent', inputs: readonly TaskInput[]) {
  const reader = aNode().named('reader').build();
  const nodes = holderState === 'absent' ? [reader] : [reader, aNode().named('holder').inState(holderState).build()];
  return dataHolderFilter.filter(new Cycle(aSnapshot(nodes, 0)), aRequest().withInputs(...inputs).build(), reader);
}

describe('dataHolderFilter', () => {
  it.each<NodeState>(['ready', 'cordoned', 'draining'])('lets a task whose holder is %s be placed (it still serves data)', (state) => {
    expect(verdict(state, [input('holder')])).toEqual({ code: 'success' });
  });

  it.each<NodeState>(['unreachable', 'down', 'left'])('holds back a task whose holder is %s, naming the holder', (state) => {
    expect(verdict(state, [input('reader'), input('holder', { partition: 'paris' })])).toEqual({
      code: 'unschedulable', reason: 'input_unavailable', summary: `input holder holder ${state}`,
      message: `input readings/paris is held only by node holder, which is ${state}; the task waits until it is back (or remove the partition and put it on another node)`,
    });
  });

  it('holds back a task whose holder left the fleet', () => {
    expect(verdict('absent', [input('holder')])).toMatchObject({ reason: 'input_unavailable', summary: 'input holder holder gone' });
  });

  it('leaves inputs missing from the catalog, and tasks without inputs, to other rules', () => {
    expect(verdict('absent', [input('', { missing: true })])).toEqual({ code: 'success' });
    expect(verdict('down', [])).toEqual({ code: 'success' });
  });
});
