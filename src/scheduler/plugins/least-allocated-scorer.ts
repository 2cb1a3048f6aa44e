import type { ScorePlugin } from '../framework/plugin.js';

/**
 * `load`: prefers emptier nodes, as Kubernetes' LeastAllocated does: the mean over cpu and memory
 * of the fraction left free once the task is placed, times 100. Spreads load across the fleet.
 * Monotone: it only falls as the cycle places tasks on the node.
 */
export const leastAllocatedScorer: ScorePlugin = {
  name: 'load',
  scope: 'node',
  score(cycle, task, node) {
    const cpu = freeFraction(node.capacity.cpuMillis, cycle.allocatedCpuMillis(node) + task.resources.cpuMillis);
    const memory = freeFraction(node.capacity.memoryBytes, cycle.allocatedMemoryBytes(node) + task.resources.memoryBytes);
    return ((cpu + memory) / 2) * 100;
  },
  describe(cycle, _task, node) {
    const cpu = cycle.allocatedCpuMillis(node) / Math.max(1, node.capacity.cpuMillis);
    return `${Math.round(cpu * 100)}% cpu reserved`;
  },
};

function freeFraction(capacity: number, used: number): number {
  if (capacity <= 0) return 0;
  return Math.max(0, (capacity - used) / capacity);
}
