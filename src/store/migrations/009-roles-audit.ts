import { sql, type Kysely } from 'kysely';
import type { SqlDialectName } from './index.js';

// API tokens get a role and the namespaces they may act in (null: every namespace); the bootstrap
// admin token becomes an API token with the admin role. The audit log: who did or tried what.

export async function up(db: Kysely<unknown>, dialect: SqlDialectName): Promise<void> {
  await db.schema.alterTable('tokens').addColumn('role', 'text').execute();
  await db.schema.alterTable('tokens').addColumn('namespaces', 'text').execute();
  await db.schema.alterTable('tokens').addColumn('name', 'text').execute();
  await sql`UPDATE tokens SET kind = 'api', role = 'admin', name = 'bootstrap-admin' WHERE kind = 'admin'`.execute(db);
  await db.schema
    .createTable('audit')
    .addColumn('seq', dialect === 'postgres' ? 'bigserial' : 'integer', (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
    .addColumn('time', 'bigint', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('actor_kind', 'text', (c) => c.notNull())
    .addColumn('role', 'text')
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target', 'text')
    .addColumn('namespace', 'text')
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('status', 'integer', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('remote', 'text')
    .execute();
  await db.schema.createIndex('audit_time').on('audit').columns(['time']).execute();
}
