import { describeRequirement, matchesRequirement } from '../../core/label-selector.js';
import type { ScorePlugin } from '../framework/plugin.js';

/** `placement.prefer`: the share of the preference weight whose label rule the node meets. */
export const affinityScorer: ScorePlugin = {
  name: 'affinity',
  scope: 'group',
  score(_cycle, task, node) {
    const { prefer } = task.placement;
    if (prefer.length === 0) return 0;
    let total = 0;
    let met = 0;
    for (const { weight, match } of prefer) {
      total += weight;
      if (matchesRequirement(node.labels, match)) met += weight;
    }
    return (met / total) * 100;
  },
  describe(_cycle, task, node) {
    const { prefer } = task.placement;
    if (prefer.length === 0) return undefined;
    const met = prefer.filter((p) => matchesRequirement(node.labels, p.match)).map((p) => describeRequirement(p.match));
    return met.length === 0 ? 'meets no preference' : `meets ${met.join('; ')}`;
  },
};
