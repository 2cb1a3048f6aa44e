import { isConnectedNodeState } from '../../core/states.js';
import type { FilterPlugin } from '../framework/plugin.js';
import { SUCCESS, unschedulable } from '../framework/status.js';

/**
 * A task can only start once it can get its inputs: every partition's holder must be connected
 * (ready, or cordoned or draining, which still serve data). While one is unreachable, down or gone
 * the task waits and says which, instead of being placed only to fail on the fetch. The answer is
 * the same for every node, so the reason counts say "all N nodes" and point at the holder.
 */
export const dataHolderFilter: FilterPlugin = {
  name: 'data-holder',
  scope: 'group',
  filter(cycle, task) {
    if (task.inputs === undefined) return SUCCESS;
    for (const input of task.inputs) {
      if (input.missing === true) continue; // the residency filter says so, with its own reason
      const holder = cycle.nodeNamed(input.node);
      if (holder !== undefined && isConnectedNodeState(holder.state)) continue;
      const where = holder === undefined ? `node ${input.node}, which is not in the fleet` : `node ${input.node}, which is ${holder.state}`;
      return unschedulable(
        'input_unavailable',
        `input holder ${input.node} ${holder?.state ?? 'gone'}`,
        `input ${input.dataset}/${input.partition} is held only by ${where}; the task waits until it is back (or remove the partition and put it on another node)`,
      );
    }
    return SUCCESS;
  },
};
