import type { Kysely } from 'kysely';
import type { SqlDialectName } from './index.js';

// Node identity: scoped join tokens (pool, labels a node may claim, expiry, single use) and, per
// node, the token it joined with, its current certificate serial and whether it is revoked.

export async function up(db: Kysely<unknown>, _dialect: SqlDialectName): Promise<void> {
  await db.schema
    .createTable('join_tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('hash', 'text', (c) => c.notNull().unique())
    .addColumn('pool', 'text')
    .addColumn('labels', 'text', (c) => c.notNull()) // JSON object
    .addColumn('expires_at', 'bigint')
    .addColumn('single_use', 'integer', (c) => c.notNull())
    .addColumn('used_at', 'bigint')
    .addColumn('used_by', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('revoked_at', 'bigint')
    .execute();
  await db.schema
    .createTable('node_identities')
    .addColumn('node', 'text', (c) => c.primaryKey())
    .addColumn('token_id', 'text', (c) => c.notNull())
    .addColumn('pool', 'text')
    .addColumn('labels', 'text') // JSON object of claimable labels; null: any
    .addColumn('serial', 'text')
    .addColumn('not_after', 'bigint')
    .addColumn('joined_at', 'bigint', (c) => c.notNull())
    .addColumn('revoked_at', 'bigint')
    .execute();
}
