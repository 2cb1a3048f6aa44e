import type { Command } from 'commander';
import { formatBytes, formatCpu } from '../../core/quantities.js';
import type { NodeRecord, NodeView } from '../../core/types.js';
import { action, type CommonFlags, withConnection } from '../common.js';
import { clientFrom } from '../connection.js';
import { age, dash, printListing, printObject, renderTable, type Column } from '../output.js';

const columns: readonly Column<NodeRecord>[] = [
  { header: 'NAME', value: (n) => n.name },
  { header: 'STATE', value: stateOf },
  { header: 'PROVIDER', value: (n) => n.provider },
  { header: 'REGION', value: (n) => n.region },
  { header: 'ZONE/SITE', value: (n) => dash(n.site || n.zone) },
  { header: 'KIND', value: (n) => n.kind },
  { header: 'JURIS', value: (n) => dash(n.jurisdiction) },
  { header: 'CPU', value: (n) => `${formatCpu(n.usage.cpuMillis)}/${formatCpu(n.capacity.cpuMillis)}`, right: true },
  { header: 'MEMORY', value: (n) => formatBytes(n.capacity.memoryBytes), right: true },
  { header: '$/HOUR', value: (n) => ('price' in n ? (n as NodeView).price.hour : n.priceHour).toFixed(3), right: true },
  { header: 'RUNNING', value: (n) => String(n.usage.runningAttempts), right: true },
  { header: 'SEEN', value: (n) => `${age(n.lastSeenAt)} ago` },
];

/** The state, with a cordon that only shows once the agent is back: `unreachable,cordoned`. */
function stateOf(node: NodeRecord): string {
  const held = node.drainDeadline !== null ? 'draining' : node.cordoned ? 'cordoned' : undefined;
  return held === undefined || held === node.state ? node.state : `${node.state},${held}`;
}

/** Round trips by region, nearest first: `eu-west-3 0.21 ms, us-east-1 81 ms`. */
export function formatRtt(rttMs: Readonly<Record<string, number>>): string {
  const entries = Object.entries(rttMs).sort(([ra, a], [rb, b]) => a - b || ra.localeCompare(rb));
  if (entries.length === 0) return '-';
  const ms = (v: number) => (v < 1 ? v.toFixed(2) : v < 10 ? v.toFixed(1) : v.toFixed(0));
  return entries.map(([region, v]) => `${region} ${ms(v)} ms`).join(', ');
}

export function registerNodesCommands(program: Command): void {
  withConnection(program.command('nodes').description('list the fleet: one row per node with its location and state'))
    .option('--state <state>', 'only nodes in this state (ready, unreachable, down, ...)')
    .action(action(async (flags: CommonFlags & { state?: string }) => {
      const { items } = await clientFrom(flags).listNodes(flags.state ? { state: flags.state } : {});
      printListing(flags.output, items, columns, 'No nodes have joined yet. Start one with `atoll agent --server URL --join-token TOKEN --name NAME ...` or run `npm start`.');
    }));

  const node = program.command('node').description('show one node, or drain, cordon or uncordon it');
  withConnection(node.command('show', { isDefault: true }).argument('<name>').description('show one node (also `atoll node NAME`)'))
    .action(action(async (name: string, flags: CommonFlags) => {
      printNode(flags, await clientFrom(flags).getNode(name));
    }));

  withConnection(node.command('cordon').argument('<name>').description('take the node out of placement; what runs there carries on'))
    .action(action(async (name: string, flags: CommonFlags) => {
      printNode(flags, await clientFrom(flags).cordonNode(name));
    }));

  withConnection(node.command('uncordon').argument('<name>').description('let the node take new work again (also ends a drain)'))
    .action(action(async (name: string, flags: CommonFlags) => {
      printNode(flags, await clientFrom(flags).uncordonNode(name));
    }));

  withConnection(node.command('revoke').argument('<name>').description('revoke the node: its certificate stops working, its connection closes, and it can rejoin only with a join token made after this'))
    .action(action(async (name: string, flags: CommonFlags) => {
      const revoked = await clientFrom(flags).revokeNode(name);
      printObject(flags.output, revoked, () => `node ${revoked.node} revoked at ${new Date(revoked.revokedAt ?? 0).toISOString()}`);
    }));

  withConnection(
    node
      .command('drain')
      .argument('<name>')
      .description('cordon the node and move its work off: attempts may finish until the deadline, then run elsewhere')
      .option('--deadline <duration>', 'how long running attempts may go on (0 moves them now)', '5m'),
  ).action(action(async (name: string, flags: CommonFlags & { deadline: string }) => {
    printNode(flags, await clientFrom(flags).drainNode(name, { deadline: flags.deadline }));
  }));
}

function describePrice(price: NodeView['price']): string {
  const hour = `$${price.hour.toFixed(4)}/h`;
  if (price.from === 'book') return `${hour} from the price book${price.source === null ? '' : ` (${price.source})`}`;
  if (price.from === 'node') return `${hour} as the node declared it (no price-book rule covers it)`;
  return 'unpriced: no price-book rule covers it and it declared no price';
}

function printNode(flags: CommonFlags, node: NodeRecord): void {
  printObject(flags.output, node, () => {
    const labels = Object.entries(node.labels).map(([k, v]) => `${k}=${v}`).join(', ');
    return [
      renderTable([node], columns),
      '',
      `location:  ${node.lat ?? '-'}, ${node.lon ?? '-'}`,
      `labels:    ${labels || '-'}`,
      `rtt:       ${formatRtt(node.rttMs)}`,
      `agent:     ${node.agentVersion}, joined ${age(node.joinedAt)} ago`,
      ...('price' in node ? [`price:     ${describePrice((node as NodeView).price)}`] : []),
      `data:      ${node.dataUrl ?? 'relayed through the control plane (no reachable data address)'}`,
      ...(node.drainDeadline === null ? [] : [`drain:     attempts still running are moved at ${new Date(node.drainDeadline).toISOString()}`]),
    ].join('\n');
  });
}
