import { rulesOf } from '../compliance.js';
import type { FilterPlugin } from '../framework/plugin.js';
import { SUCCESS, unschedulable } from '../framework/status.js';

/** `placement.avoid`: jurisdictions, providers, regions and sites the job must not run in. */
export const avoidFilter: FilterPlugin = {
  name: 'avoid',
  scope: 'group',
  filter(cycle, task, node) {
    const rules = rulesOf(cycle, task);
    if (rules.unknownAvoided.length > 0) {
      const names = rules.unknownAvoided.join(', ');
      return unschedulable('avoided', `avoids unknown jurisdiction ${names}`, `placement.avoid.jurisdictions names ${names}, which no policy defines any more; no node can be shown to be outside it`);
    }
    if (node.jurisdiction !== null && rules.avoidJurisdictions.has(node.jurisdiction)) {
      return unschedulable('avoided', `avoided jurisdiction ${node.jurisdiction}`, `placement.avoid.jurisdictions excludes ${node.jurisdiction}`);
    }
    if (rules.avoidJurisdictions.size > 0 && node.jurisdiction === null) {
      return unschedulable('avoided', 'avoided: no declared jurisdiction', 'node declares no jurisdiction, so it cannot be shown to be outside placement.avoid.jurisdictions');
    }
    if (rules.avoidProviders.has(node.provider)) {
      return unschedulable('avoided', `avoided provider ${node.provider}`, `placement.avoid.providers excludes ${node.provider}`);
    }
    if (rules.avoidRegions.has(node.region)) {
      return unschedulable('avoided', `avoided region ${node.region}`, `placement.avoid.regions excludes ${node.region}`);
    }
    if (node.site !== '' && rules.avoidSites.has(node.site)) {
      return unschedulable('avoided', `avoided site ${node.site}`, `placement.avoid.sites excludes ${node.site}`);
    }
    return SUCCESS;
  },
};
