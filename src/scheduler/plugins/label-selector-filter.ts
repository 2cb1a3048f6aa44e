import { describeRequirement, firstUnmetRequirement } from '../../core/label-selector.js';
import type { FilterPlugin } from '../framework/plugin.js';
import { SUCCESS, unschedulable } from '../framework/status.js';

/** The node's labels must satisfy every requirement of `placement.require`. */
export const labelSelectorFilter: FilterPlugin = {
  name: 'label-selector',
  scope: 'group',
  filter(_cycle, task, node) {
    const unmet = firstUnmetRequirement(node.labels, task.placement.require);
    if (unmet === undefined) return SUCCESS;
    const actual = Object.prototype.hasOwnProperty.call(node.labels, unmet.key)
      ? `node has ${unmet.key}=${node.labels[unmet.key]}`
      : `node has no label ${unmet.key}`;
    const rule = describeRequirement(unmet);
    return unschedulable('label_mismatch', `label not ${rule}`, `requires ${rule}; ${actual}`);
  },
};
