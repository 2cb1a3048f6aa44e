import type { JobEstimate } from '../../core/estimate.js';
import { formatBytes } from '../../core/quantities.js';
import { renderTable, type Column } from '../output.js';
import { formatDollars } from './spend-command.js';

// `atoll run FILE --estimate` as a table: one row per objective, the job's own first.

type Option = JobEstimate['options'][number];

const columns = (own: string): readonly Column<Option>[] => [
  { header: 'OBJECTIVE', value: (o) => (o.objective === own ? `${o.objective} (the job's)` : o.objective) },
  { header: 'PLACED', value: (o) => String(o.placed), right: true },
  { header: 'WAITING', value: (o) => String(o.unplaceable), right: true },
  { header: 'COST', value: (o) => formatDollars(o.cost.total), right: true },
  { header: 'COMPUTE', value: (o) => formatDollars(o.cost.compute), right: true },
  { header: 'TRANSFER', value: (o) => formatDollars(o.cost.transfer), right: true },
  { header: 'BYTES MOVED', value: (o) => formatBytes(o.bytesMoved), right: true },
  { header: 'WHERE', value: (o) => o.nodes.slice(0, 3).map((n) => `${n.node}×${n.tasks}`).join(' ') + (o.nodes.length > 3 ? ` +${o.nodes.length - 3} more` : '') },
];

export function describeEstimate(estimate: JobEstimate): string {
  const lines = [
    `estimate for ${estimate.name} (namespace ${estimate.namespace}): ${estimate.tasks} task${estimate.tasks === 1 ? '' : 's'} placed on the fleet as it is now; nothing was run`,
    '',
    renderTable(estimate.options, columns(estimate.objective)).trimEnd(),
    '',
    'Cost is each task\'s expected duration (placement.expectedDuration, else timeout, else 1 h) at its share of the node\'s price, plus moving its inputs.',
  ];
  for (const later of estimate.later) lines.push(`not estimated: stage ${later.stage}: ${later.reason}`);
  const waiting = estimate.options.find((o) => o.objective === estimate.objective)?.reasons ?? {};
  if (Object.keys(waiting).length > 0) lines.push(`waiting under ${estimate.objective}: ${Object.entries(waiting).map(([code, n]) => `${n} ${code}`).join(', ')}`);
  return lines.join('\n');
}
