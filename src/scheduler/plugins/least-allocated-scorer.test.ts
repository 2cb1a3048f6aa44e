import { describe, expect, it } from 'vitest';
import { Cycle } from '../framework/cycle-state.js';
import { aNode, aRequest, aSnapshot } from '../testing/node-builder.js';
import { leastAllocatedScorer } from './least-allocated-scorer.js';

describe('leastAllocatedScorer', () => {
  // Node: 4 cores, 8Gi.
  it.each<[string, [string, string], [string, string], number]>([
    ['empty node, empty task', ['0', '0'], ['0', '0'], 100],
    ['empty node, half of both', ['0', '0'], ['2', '4Gi'], 50],
    ['cpu and memory averaged', ['0', '0'], ['4', '0'], 50],
    ['snapshot allocation counts', ['1', '2Gi'], ['1', '2Gi'], 50],
    ['full after placement', ['3', '6Gi'], ['1', '2Gi'], 0],
    ['never below zero when over-committed', ['6', '16Gi'], ['1', '1Gi'], 0],
  ])('%s', (_name, allocated, task, expected) => {
    const node = aNode().named('a').withCpu(4).withMemory('8Gi').withAllocated(...allocated).build();
    const score = leastAllocatedScorer.score(new Cycle(aSnapshot([node])), aRequest().withCpu(task[0]).withMemory(task[1]).build(), node);
    expect(score).toBeCloseTo(expected, 9);
  });

  it('sees placements made earlier in the cycle', () => {
    const node = aNode().named('a').withCpu(4).withMemory('8Gi').build();
    const cycle = new Cycle(aSnapshot([node]));
    const task = aRequest().withCpu(1).withMemory('2Gi').build();
    const before = leastAllocatedScorer.score(cycle, task, node);
    cycle.reserve(0, task);
    expect(before).toBeCloseTo(75, 9);
    expect(leastAllocatedScorer.score(cycle, task, node)).toBeCloseTo(50, 9);
  });
});
