import type { Command } from 'commander';
import type { AuditRecord } from '../../core/access.js';
import { action, type CommonFlags, withConnection } from '../common.js';
import { clientFrom } from '../connection.js';
import { printListing, type Column } from '../output.js';

// `atoll audit`: who did or tried what, for cluster admins.

const columns: readonly Column<AuditRecord>[] = [
  { header: 'TIME', value: (e) => new Date(e.time).toISOString() },
  { header: 'ACTOR', value: (e) => (e.role === null ? e.actor : `${e.actor} (${e.role})`) },
  { header: 'ACTION', value: (e) => e.action },
  { header: 'TARGET', value: (e) => e.target ?? '-' },
  { header: 'NAMESPACE', value: (e) => e.namespace ?? '-' },
  { header: 'OUTCOME', value: (e) => `${e.outcome} ${e.status}` },
  { header: 'REASON', value: (e) => (e.reason ?? '-').split('\n')[0]!.slice(0, 100) },
];

export function registerAuditCommand(program: Command): void {
  withConnection(
    program.command('audit')
      .description('the audit log: every change and every refusal, with actor, action, target and outcome')
      .option('--since <duration>', 'only the last 1h, 7d, ...')
      .option('--actor <id>', 'only this token id or node name')
      .option('--outcome <outcome>', 'only ok, denied, refused or failed')
      .option('--namespace <ns>', 'only this namespace')
      .option('--after <seq>', 'only entries after this sequence number')
      .option('--limit <n>', 'at most this many entries', '100'),
  ).action(action(async (flags: CommonFlags & { since?: string; actor?: string; outcome?: string; namespace?: string; after?: string; limit: string }) => {
    const { items } = await clientFrom(flags).listAudit({
      ...(flags.since === undefined ? {} : { since: flags.since }),
      ...(flags.actor === undefined ? {} : { actor: flags.actor }),
      ...(flags.outcome === undefined ? {} : { outcome: flags.outcome }),
      ...(flags.namespace === undefined ? {} : { namespace: flags.namespace }),
      ...(flags.after === undefined ? {} : { after: Number(flags.after) }),
      limit: Number(flags.limit),
    });
    printListing(flags.output, items, columns, 'No audit entries match.');
  }));
}
