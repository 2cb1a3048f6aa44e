import { describe, expect, it } from 'vitest';
import { Cycle } from '../framework/cycle-state.js';
import { aNode, aRequest, aSnapshot } from '../testing/node-builder.js';
import { leastAllocatedScorer } from './least-allocated-scorer.js';

describe('leastAllocatedScorer (load)', () => {
  // Node: 4 cores, 8Gi unless a row gives its own capacity.
  it.each<{ name: string; capacity?: [string, string]; allocated: [string, string]; task: [string, string]; score: number; detail: string }>([
    { name: 'empty node, empty task', allocated: ['0', '0'], task: ['0', '0'], score: 100, detail: '0% cpu reserved' },
    { name: 'empty node, half of both', allocated: ['0', '0'], task: ['2', '4Gi'], score: 50, detail: '0% cpu reserved' },
    { name: 'cpu and memory averaged', allocated: ['0', '0'], task: ['4', '0'], score: 50, detail: '0% cpu reserved' },
    { name: 'memory alone counts as much as cpu', allocated: ['0', '0'], task: ['0', '2Gi'], score: 87.5, detail: '0% cpu reserved' },
    { name: 'snapshot allocation counts', allocated: ['1', '2Gi'], task: ['1', '2Gi'], score: 50, detail: '25% cpu reserved' },
    { name: 'full after placement', allocated: ['3', '6Gi'], task: ['1', '2Gi'], score: 0, detail: '75% cpu reserved' },
    { name: 'never below zero when over-committed', allocated: ['6', '16Gi'], task: ['1', '1Gi'], score: 0, detail: '150% cpu reserved' },
    { name: 'a node without cpu capacity scores its cpu side 0', capacity: ['0', '8Gi'], allocated: ['0', '0'], task: ['0', '0'], score: 50, detail: '0% cpu reserved' },
  ])('$name', ({ capacity = ['4', '8Gi'], allocated, task, score, detail }) => {
    const node = aNode().named('a').withCpu(capacity[0]).withMemory(capacity[1]).withAllocated(...allocated).build();
    const cycle = new Cycle(aSnapshot([node]));
    const request = aRequest().withCpu(task[0]).withMemory(task[1]).build();
    const raw = leastAllocatedScorer.score(cycle, request, node);
    expect(raw).toBeCloseTo(score, 9);
    expect(leastAllocatedScorer.describe?.(cycle, request, node, raw)).toBe(detail);
  });

  it('only falls as the cycle places tasks on the node', () => {
    const node = aNode().named('a').withCpu(4).withMemory('8Gi').build();
    const cycle = new Cycle(aSnapshot([node]));
    const task = aRequest().withCpu(1).withMemory('2Gi').build();
    const scores: number[] = [];
    for (let i = 0; i < 5; i++) {
      scores.push(leastAllocatedScorer.score(cycle, task, node));
      cycle.reserve(0, task);
    }
    expect(scores.map((s) => Math.round(s * 1e6) / 1e6)).toEqual([75, 50, 25, 0, 0]);
    expect(leastAllocatedScorer.describe?.(cycle, task, node, scores[4]!)).toBe('125% cpu reserved');
  });
});
