import { rejectionFor, rulesOf } from '../compliance.js';
import type { FilterPlugin } from '../framework/plugin.js';
import { SUCCESS, unschedulable } from '../framework/status.js';

/** Cluster policies binding the job's namespace: denied jurisdictions and provider allow-lists. */
export const policyFilter: FilterPlugin = {
  name: 'policy',
  scope: 'group',
  filter(cycle, task, node) {
    const rules = rulesOf(cycle, task);
    for (const denial of rules.denials) {
      // A node that declares no jurisdiction cannot prove it is outside the denied ones.
      if (node.jurisdiction === null || denial.jurisdictions.has(node.jurisdiction)) {
        const where = node.jurisdiction ?? 'no declared jurisdiction';
        return rejectionFor(rules, `deny|${denial.policy}|${where}`, () =>
          unschedulable('policy_denied', `denied by policy ${denial.policy}`, `policy "${denial.policy}" denies ${where} for namespace ${task.namespace}`),
        );
      }
    }
    for (const allow of rules.providerAllowLists) {
      if (!allow.providers.has(node.provider)) {
        return rejectionFor(rules, `allow|${allow.policy}|${node.provider}`, () => unschedulable(
          'policy_denied',
          `denied by policy ${allow.policy}`,
          `policy "${allow.policy}" allows only providers ${[...allow.providers].join(', ')} for namespace ${task.namespace}; node is on ${node.provider}`,
        ));
      }
    }
    return SUCCESS;
  },
};
