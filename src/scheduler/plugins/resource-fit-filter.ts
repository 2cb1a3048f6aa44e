import { formatBytes, formatCpu } from '../../core/quantities.js';
import type { FilterPlugin } from '../framework/plugin.js';
import { SUCCESS, unschedulable } from '../framework/status.js';

/**
 * The task's cpu and memory must fit in what the node has free: capacity minus the snapshot's
 * reservations minus what this cycle already placed there. Monotone, since placements only add.
 */
export const resourceFitFilter: FilterPlugin = {
  name: 'resource-fit',
  scope: 'node',
  filter(cycle, task, node) {
    const freeCpu = node.capacity.cpuMillis - cycle.allocatedCpuMillis(node);
    if (task.resources.cpuMillis > freeCpu) {
      const free = formatCpu(Math.max(0, freeCpu));
      return unschedulable(
        'insufficient_cpu',
        `needs ${formatCpu(task.resources.cpuMillis)} cpu, ${free} of ${formatCpu(node.capacity.cpuMillis)} free`,
      );
    }
    const freeMemory = node.capacity.memoryBytes - cycle.allocatedMemoryBytes(node);
    if (task.resources.memoryBytes > freeMemory) {
      const free = formatBytes(Math.max(0, freeMemory));
      return unschedulable(
        'insufficient_memory',
        `needs ${formatBytes(task.resources.memoryBytes)} memory, ${free} of ${formatBytes(node.capacity.memoryBytes)} free`,
      );
    }
    return SUCCESS;
  },
};
