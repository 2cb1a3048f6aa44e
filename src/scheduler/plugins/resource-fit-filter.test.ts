import { describe, expect, it } from 'vitest';
import { Cycle } from '../framework/cycle-state.js';
import type { ReasonCode } from '../framework/status.js';
import { aNode, aRequest, aSnapshot } from '../testing/node-builder.js';
import { resourceFitFilter } from './resource-fit-filter.js';

interface Row {
  readonly name: string;
  readonly allocated: readonly [string, string];
  readonly placedEarlier: number;
  readonly task: readonly [string, string];
  readonly reason: ReasonCode | null;
  readonly message?: string;
}

// Node: 4 cores, 8Gi. Tasks placed earlier in the cycle request 1 core and 1Gi each.
const rows: readonly Row[] = [
  { name: 'fits on an empty node', allocated: ['0', '0'], placedEarlier: 0, task: ['1', '1Gi'], reason: null },
  { name: 'fits exactly', allocated: ['3', '7Gi'], placedEarlier: 0, task: ['1', '1Gi'], reason: null },
  {
    name: 'cpu short from the snapshot',
    allocated: ['3.5', '0'],
    placedEarlier: 0,
    task: ['1', '1Gi'],
    reason: 'insufficient_cpu',
    message: 'needs 1 cpu, 0.5 of 4 free',
  },
  {
    name: 'memory short from the snapshot',
    allocated: ['0', '7.5Gi'],
    placedEarlier: 0,
    task: ['1', '1Gi'],
    reason: 'insufficient_memory',
    message: 'needs 1.0GiB memory, 512MiB of 8.0GiB free',
  },
  { name: 'cpu checked before memory', allocated: ['4', '8Gi'], placedEarlier: 0, task: ['1', '1Gi'], reason: 'insufficient_cpu' },
  { name: 'fits after earlier placements', allocated: ['1', '1Gi'], placedEarlier: 2, task: ['1', '1Gi'], reason: null },
  {
    name: 'earlier placements in the cycle count',
    allocated: ['1', '1Gi'],
    placedEarlier: 3,
    task: ['1', '1Gi'],
    reason: 'insufficient_cpu',
    message: 'needs 1 cpu, 0 of 4 free',
  },
  { name: 'over-committed node takes nothing', allocated: ['5', '0'], placedEarlier: 0, task: ['0', '0'], reason: 'insufficient_cpu' },
];

describe('resourceFitFilter', () => {
  it.each(rows)('$name', ({ allocated, placedEarlier, task, reason, message }) => {
    const node = aNode().named('a').withCpu(4).withMemory('8Gi').withAllocated(...allocated).build();
    const cycle = new Cycle(aSnapshot([node]));
    const earlier = aRequest().withCpu(1).withMemory('1Gi').build();
    for (let i = 0; i < placedEarlier; i++) cycle.reserve(0, earlier);
    const status = resourceFitFilter.filter(cycle, aRequest().withCpu(task[0]).withMemory(task[1]).build(), node);
    if (reason === null) {
      expect(status).toEqual({ code: 'success' });
    } else {
      expect(status).toMatchObject({ code: 'unschedulable', reason });
      if (message !== undefined) expect(status).toMatchObject({ message });
    }
  });
});
