import { describe, expect, it } from 'vitest';
import { Cycle } from '../framework/cycle-state.js';
import type { Status } from '../framework/status.js';
import { aNode, aRequest, aSnapshot } from '../testing/node-builder.js';
import { resourceFitFilter } from './resource-fit-filter.js';

interface Row {
  readonly name: string;
  readonly allocated: readonly [string, string];
  readonly placedEarlier: number;
  readonly task: readonly [string, string];
  readonly expected: Status;
  /** What `explain` says about this node when the rejection is shown. */
  readonly explained?: string;
}

const PASS: Status = { code: 'success' };
const NO_CPU: Status = { code: 'unschedulable', reason: 'insufficient_cpu', summary: 'insufficient cpu', message: 'not enough free cpu' };
const NO_MEMORY: Status = { code: 'unschedulable', reason: 'insufficient_memory', summary: 'insufficient memory', message: 'not enough free memory' };

// Node: 4 cores, 8Gi. Tasks placed earlier in the cycle request 1 core and 1Gi each.
const rows: readonly Row[] = [
  { name: 'fits on an empty node', allocated: ['0', '0'], placedEarlier: 0, task: ['1', '1Gi'], expected: PASS },
  { name: 'fits exactly', allocated: ['3', '7Gi'], placedEarlier: 0, task: ['1', '1Gi'], expected: PASS },
  { name: 'an empty task fits a full node', allocated: ['4', '8Gi'], placedEarlier: 0, task: ['0', '0'], expected: PASS },
  { name: 'cpu short from the snapshot', allocated: ['3.5', '0'], placedEarlier: 0, task: ['1', '1Gi'], expected: NO_CPU, explained: 'needs 1 cpu, 0.5 of 4 free' },
  { name: 'one millicore short', allocated: ['3001m', '0'], placedEarlier: 0, task: ['1', '1Gi'], expected: NO_CPU, explained: 'needs 1 cpu, 0.999 of 4 free' },
  {
    name: 'memory short from the snapshot',
    allocated: ['0', '7.5Gi'],
    placedEarlier: 0,
    task: ['1', '1Gi'],
    expected: NO_MEMORY,
    explained: 'needs 1.0GiB memory, 512MiB of 8.0GiB free',
  },
  { name: 'cpu checked before memory', allocated: ['4', '8Gi'], placedEarlier: 0, task: ['1', '1Gi'], expected: NO_CPU, explained: 'needs 1 cpu, 0 of 4 free' },
  { name: 'fits after earlier placements', allocated: ['1', '1Gi'], placedEarlier: 2, task: ['1', '1Gi'], expected: PASS },
  { name: 'earlier placements in the cycle count', allocated: ['1', '1Gi'], placedEarlier: 3, task: ['1', '1Gi'], expected: NO_CPU, explained: 'needs 1 cpu, 0 of 4 free' },
  {
    name: 'earlier placements count for memory too',
    allocated: ['0', '5Gi'],
    placedEarlier: 3,
    task: ['0.5', '1Gi'],
    expected: NO_MEMORY,
    explained: 'needs 1.0GiB memory, 0B of 8.0GiB free',
  },
  { name: 'over-committed node takes nothing', allocated: ['5', '0'], placedEarlier: 0, task: ['0', '0'], expected: NO_CPU, explained: 'needs 0 cpu, 0 of 4 free' },
];

describe('resourceFitFilter', () => {
  it.each(rows)('$name', ({ allocated, placedEarlier, task, expected, explained }) => {
    const node = aNode().named('a').withCpu(4).withMemory('8Gi').withAllocated(...allocated).build();
    const cycle = new Cycle(aSnapshot([node]));
    const earlier = aRequest().withCpu(1).withMemory('1Gi').build();
    for (let i = 0; i < placedEarlier; i++) cycle.reserve(0, earlier);
    const request = aRequest().withCpu(task[0]).withMemory(task[1]).build();
    const status = resourceFitFilter.filter(cycle, request, node);
    expect(status).toEqual(expected);
    if (status.code === 'unschedulable') expect(resourceFitFilter.explain?.(cycle, request, node, status)).toBe(explained);
  });

  it('keeps rejecting once it rejects: placements only make the node fuller', () => {
    const node = aNode().named('a').withCpu(2).withMemory('8Gi').build();
    const cycle = new Cycle(aSnapshot([node]));
    const task = aRequest().withCpu(1).withMemory('1Gi').build();
    const answers: string[] = [];
    for (let i = 0; i < 4; i++) {
      const status = resourceFitFilter.filter(cycle, task, node);
      answers.push(status.code === 'success' ? 'fits' : status.summary);
      if (status.code === 'success') cycle.reserve(0, task);
    }
    expect(answers).toEqual(['fits', 'fits', 'insufficient cpu', 'insufficient cpu']);
  });
});
