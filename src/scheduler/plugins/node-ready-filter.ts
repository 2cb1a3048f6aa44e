import type { FilterPlugin } from '../framework/plugin.js';
import { SUCCESS, unschedulable } from '../framework/status.js';

/** Only nodes in state `ready` take new work; draining, cordoned and lost nodes do not. */
export const nodeReadyFilter: FilterPlugin = {
  name: 'node-ready',
  scope: 'group',
  filter(_cycle, _task, node) {
    if (node.state === 'ready') return SUCCESS;
    return unschedulable('node_not_ready', `node ${node.state}`, `node is ${node.state}, not ready`);
  },
};
