import { complianceOf } from '../compliance.js';
import type { FilterPlugin } from '../framework/plugin.js';
import { SUCCESS, unschedulable } from '../framework/status.js';

/**
 * Data a task reads may only be read where its residency class allows (cluster policy
 * `residencyClasses`): the node's jurisdiction must be allowed for every input's class. An input
 * that left the catalog, or a class no policy defines, rules out every node.
 */
export const dataResidencyFilter: FilterPlugin = {
  name: 'data-residency',
  scope: 'group',
  filter(cycle, task, node) {
    if (task.inputs === undefined || task.inputs.length === 0) return SUCCESS;
    const classes = complianceOf(cycle).residencyClasses();
    for (const input of task.inputs) {
      const name = `${input.dataset}/${input.partition}`;
      if (input.missing === true) return unschedulable('input_missing', `input ${name} missing`, `input ${name} is no longer in the data catalog; put it back or cancel the job`);
      if (input.residencyClass === null) continue;
      const rule = classes.get(input.residencyClass);
      if (rule === undefined) {
        return unschedulable('data_residency', `data class ${input.residencyClass} unknown`, `input ${name} has residency class ${input.residencyClass}, which no policy defines`);
      }
      if (node.jurisdiction === null || !rule.jurisdictions.has(node.jurisdiction)) {
        return unschedulable(
          'data_residency',
          `data class ${input.residencyClass} not allowed`,
          `node is in ${node.jurisdiction ?? 'no jurisdiction'}; input ${name} has residency class ${input.residencyClass}, which policy ${rule.policy} allows only in [${[...rule.jurisdictions].sort().join(', ')}]`,
        );
      }
    }
    return SUCCESS;
  },
};
