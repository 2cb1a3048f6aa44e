import { formatBytes, formatCpu } from '../../core/quantities.js';
import type { FilterPlugin } from '../framework/plugin.js';
import { SUCCESS, unschedulable } from '../framework/status.js';

// Shared answers: this filter runs for every node of every class each cycle, and a full fleet
// rejects most of them. The words for a rejection are built only when it is shown (explain).
const INSUFFICIENT_CPU = Object.freeze(unschedulable('insufficient_cpu', 'insufficient cpu', 'not enough free cpu'));
const INSUFFICIENT_MEMORY = Object.freeze(unschedulable('insufficient_memory', 'insufficient memory', 'not enough free memory'));

/**
 * The task's cpu and memory must fit in what the node has free: capacity minus the snapshot's
 * reservations minus what this cycle already placed there. Monotone, since placements only add.
 */
export const resourceFitFilter: FilterPlugin = {
  name: 'resource-fit',
  scope: 'node',
  filter(cycle, task, node) {
    if (task.resources.cpuMillis > node.capacity.cpuMillis - cycle.allocatedCpuMillis(node)) return INSUFFICIENT_CPU;
    if (task.resources.memoryBytes > node.capacity.memoryBytes - cycle.allocatedMemoryBytes(node)) return INSUFFICIENT_MEMORY;
    return SUCCESS;
  },
  explain(cycle, task, node, status) {
    if (status.reason === 'insufficient_cpu') {
      const free = Math.max(0, node.capacity.cpuMillis - cycle.allocatedCpuMillis(node));
      return `needs ${formatCpu(task.resources.cpuMillis)} cpu, ${formatCpu(free)} of ${formatCpu(node.capacity.cpuMillis)} free`;
    }
    const free = Math.max(0, node.capacity.memoryBytes - cycle.allocatedMemoryBytes(node));
    return `needs ${formatBytes(task.resources.memoryBytes)} memory, ${formatBytes(free)} of ${formatBytes(node.capacity.memoryBytes)} free`;
  },
};
