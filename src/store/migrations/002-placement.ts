import type { Kysely } from 'kysely';
import type { SqlDialectName } from './index.js';

// Placement: nodes gain taints and measured round-trip times, and cluster policies get a table.
// Existing nodes default to no taints and no measurements until their agent's next hello.
// SQLite adds one column per ALTER TABLE, so each column is its own statement.

export async function up(db: Kysely<unknown>, _dialect: SqlDialectName): Promise<void> {
  await db.schema.alterTable('nodes').addColumn('taints', 'text', (c) => c.notNull().defaultTo('[]')).execute();
  await db.schema.alterTable('nodes').addColumn('rtt_ms', 'text', (c) => c.notNull().defaultTo('{}')).execute();

  await db.schema
    .createTable('policies')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('spec', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
}
