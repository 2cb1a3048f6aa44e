import type { Command } from 'commander';
import { ROLES, type Role, type TokenView } from '../../core/access.js';
import { AtollError } from '../../core/errors.js';
import { action, type CommonFlags, withConnection } from '../common.js';
import { clientFrom } from '../connection.js';
import { age, printListing, printObject, type Column } from '../output.js';

// `atoll token`: API tokens with a role, scoped to namespaces or to the whole cluster.

const columns: readonly Column<TokenView>[] = [
  { header: 'ID', value: (t) => t.id },
  { header: 'NAME', value: (t) => t.name ?? '-' },
  { header: 'ROLE', value: (t) => t.role ?? '-' },
  { header: 'NAMESPACES', value: (t) => (t.namespaces === null ? '* (cluster)' : t.namespaces.join(',')) },
  { header: 'AGE', value: (t) => age(t.createdAt) },
  { header: 'REVOKED', value: (t) => (t.revokedAt === null ? '-' : `${age(t.revokedAt)} ago`) },
];

function parseRole(value: string): Role {
  if (!(ROLES as readonly string[]).includes(value)) throw new AtollError('invalid_request', `--role: expected one of ${ROLES.join(', ')}, got ${JSON.stringify(value)}`);
  return value as Role;
}

/** The secret once, on stdout alone for a table, so `$(atoll token create ...)`-style capture is easy to get right. */
function printSecret(format: CommonFlags['output'], answer: { token: TokenView; secret: string }, what: string): void {
  printObject(format, answer, () => [
    `${what} ${answer.token.id} (${answer.token.role}, ${answer.token.namespaces === null ? 'every namespace' : `namespaces ${answer.token.namespaces.join(', ')}`}).`,
    'Its secret, shown this once (the server keeps only a hash):',
    '',
    answer.secret,
  ].join('\n'));
}

export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('API tokens: a role (viewer, operator, admin) in some namespaces or in all of them');

  withConnection(
    token.command('create')
      .argument('<name>', 'a name to tell it apart (lowercase letters, digits, dashes)')
      .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`)
      .option('--namespace <ns...>', 'the namespaces it may act in (repeat or list); left out: every namespace')
      .description('create an API token; its secret is printed once'),
  ).action(action(async (name: string, flags: CommonFlags & { role: string; namespace?: string[] }) => {
    const namespaces = flags.namespace?.flatMap((n) => n.split(',')).filter((n) => n !== '');
    const answer = await clientFrom(flags).createToken({ name, role: parseRole(flags.role), ...(namespaces === undefined ? {} : { namespaces }) });
    printSecret(flags.output, answer, 'created token');
  }));

  withConnection(token.command('list').option('--revoked', 'include revoked tokens').description('API tokens (never their secrets)'))
    .action(action(async (flags: CommonFlags & { revoked?: boolean }) => {
      const listing = await clientFrom(flags).listTokens(flags.revoked ? { revoked: true } : {});
      printListing(flags.output, listing.items, columns, 'No API tokens. Create one with `atoll token create NAME --role viewer`.');
    }));

  withConnection(token.command('revoke').argument('<id>').description('revoke a token; requests and live streams using it stop within seconds'))
    .action(action(async (id: string, flags: CommonFlags) => {
      const revoked = await clientFrom(flags).revokeToken(id);
      printObject(flags.output, revoked, () => `revoked token ${revoked.id}${revoked.name ? ` (${revoked.name})` : ''}`);
    }));

  withConnection(token.command('rotate').argument('<id>').description('a new secret for the same role and namespaces; the old secret stops working (the bootstrap admin token is rewritten in its file)'))
    .action(action(async (id: string, flags: CommonFlags) => {
      const answer = await clientFrom(flags).rotateToken(id);
      printSecret(flags.output, answer, `rotated ${answer.replaced} into token`);
    }));
}
