import type { Command } from 'commander';
import type { JoinTokenInfo } from '../../client/client.js';
import { AtollError } from '../../core/errors.js';
import { action, type CommonFlags, withConnection } from '../common.js';
import { clientFrom } from '../connection.js';
import { age, dash, printListing, printObject, type Column } from '../output.js';

const columns: readonly Column<JoinTokenInfo>[] = [
  { header: 'ID', value: (t) => t.id },
  { header: 'POOL', value: (t) => dash(t.pool) },
  { header: 'LABELS', value: (t) => dash(Object.entries(t.labels).map(([k, v]) => `${k}=${v}`).join(',') || null) },
  { header: 'EXPIRES', value: (t) => (t.expiresAt === null ? 'never' : new Date(t.expiresAt).toISOString()) },
  { header: 'SINGLE-USE', value: (t) => (t.singleUse ? (t.usedAt === null ? 'yes, unused' : `used by ${t.usedBy ?? '?'}`) : 'no') },
  { header: 'STATE', value: (t) => (t.revokedAt !== null ? 'revoked' : t.expiresAt !== null && t.expiresAt <= Date.now() ? 'expired' : 'live') },
  { header: 'AGE', value: (t) => age(t.createdAt) },
];

/** `key=value` into a map; a flag without `=` is refused naming it. */
function parseLabel(value: string, all: Record<string, string>): Record<string, string> {
  const at = value.indexOf('=');
  if (at <= 0) throw new AtollError('invalid_request', `--label: expected key=value, got ${JSON.stringify(value)}`);
  return { ...all, [value.slice(0, at)]: value.slice(at + 1) };
}

export function registerJoinTokenCommands(program: Command): void {
  const group = program.command('join-token').description('make, list and revoke the tokens agents join with (admin)');

  withConnection(
    group
      .command('create')
      .description('make a join token; it is printed once, keep it secret')
      .option('--pool <pool>', 'the node must carry the label pool=<pool>')
      .option('--label <key=value>', 'a label the node may claim (repeatable); with --pool or --label, a node may claim no others', parseLabel, {} as Record<string, string>)
      .option('--expires <duration>', 'refuse joins after this long, e.g. 1h or 7d')
      .option('--single-use', 'refuse every join after the first'),
  ).action(action(async (flags: CommonFlags & { pool?: string; label: Record<string, string>; expires?: string; singleUse?: boolean }) => {
    const created = await clientFrom(flags).createJoinToken({
      ...(flags.pool === undefined ? {} : { pool: flags.pool }),
      ...(Object.keys(flags.label).length === 0 ? {} : { labels: flags.label }),
      ...(flags.expires === undefined ? {} : { expiresIn: flags.expires }),
      ...(flags.singleUse ? { singleUse: true } : {}),
    });
    printObject(flags.output, created, () => `${created.token}\n(join token ${created.id}; shown once: give it to the agent with --join-token-file or $ATOLL_JOIN_TOKEN)`);
  }));

  withConnection(group.command('list').description('list join tokens (never their secrets)'))
    .action(action(async (flags: CommonFlags) => {
      const { items } = await clientFrom(flags).listJoinTokens();
      printListing(flags.output, items, columns, 'No join tokens made with `atoll join-token create` (the cluster token is <data-dir>/join.token).');
    }));

  withConnection(group.command('revoke').argument('<id>').description('refuse every later join with this token (nodes that joined with it stay)'))
    .action(action(async (id: string, flags: CommonFlags) => {
      const revoked = await clientFrom(flags).revokeJoinToken(id);
      printObject(flags.output, revoked, () => `join token ${revoked.id} revoked`);
    }));
}
