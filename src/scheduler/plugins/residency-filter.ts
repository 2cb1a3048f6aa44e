import { rejectionFor, rulesOf } from '../compliance.js';
import type { FilterPlugin } from '../framework/plugin.js';
import { SUCCESS, unschedulable } from '../framework/status.js';

/** `placement.residency`: the node's jurisdiction must be one the job allows. */
export const residencyFilter: FilterPlugin = {
  name: 'residency',
  scope: 'group',
  filter(cycle, task, node) {
    const rules = rulesOf(cycle, task);
    if (rules.residency === undefined) return SUCCESS;
    if (node.jurisdiction !== null && rules.residency.has(node.jurisdiction)) return SUCCESS;
    // One answer per jurisdiction and job: most of a large fleet may be turned down here.
    return rejectionFor(rules, `residency|${node.jurisdiction}`, () => {
      const summary = `jurisdiction not in ${rules.residencyLabel}`;
      if (node.jurisdiction === null) return unschedulable('jurisdiction_not_allowed', summary, `node declares no jurisdiction; the job allows only ${rules.residencyLabel}`);
      return unschedulable('jurisdiction_not_allowed', summary, `node is in ${node.jurisdiction}; the job allows only ${rules.residencyLabel}`);
    });
  },
};

