import { describeTaint, tolerates } from '../../core/placement-spec.js';
import type { FilterPlugin } from '../framework/plugin.js';
import { SUCCESS, unschedulable } from '../framework/status.js';

/** A tainted node takes only tasks that tolerate every one of its taints (edge boxes: `edge`). */
export const taintTolerationFilter: FilterPlugin = {
  name: 'taint-toleration',
  scope: 'group',
  filter(_cycle, task, node) {
    for (const taint of node.taints) {
      if (tolerates(task.tolerations, taint)) continue;
      const taintName = describeTaint(taint);
      return unschedulable(
        'untolerated_taint',
        `untolerated taint ${taintName}`,
        `node is tainted ${taintName}; add tolerations: [{key: ${taint.key}}] to the job to run here`,
      );
    }
    return SUCCESS;
  },
};
