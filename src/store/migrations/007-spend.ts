import type { Kysely } from 'kysely';
import type { SqlDialectName } from './index.js';

// Spend: the charges ledger (one row per attempt's compute and per transfer made for it) and
// cluster settings (the price book) that every control-plane replica must share.

export async function up(db: Kysely<unknown>, _dialect: SqlDialectName): Promise<void> {
  await db.schema
    .createTable('charges')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('time', 'bigint', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('namespace', 'text', (c) => c.notNull())
    .addColumn('job_id', 'text', (c) => c.notNull())
    .addColumn('attempt_id', 'text', (c) => c.notNull())
    .addColumn('node', 'text', (c) => c.notNull())
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('region', 'text', (c) => c.notNull())
    .addColumn('site', 'text', (c) => c.notNull())
    .addColumn('dollars', 'double precision', (c) => c.notNull())
    .addColumn('bytes', 'bigint', (c) => c.notNull())
    .addColumn('runtime_ms', 'bigint', (c) => c.notNull())
    .addColumn('waste', 'integer', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('charges_time').on('charges').columns(['time']).execute();
  await db.schema.createIndex('charges_job').on('charges').columns(['job_id']).execute();
  await db.schema.createIndex('charges_attempt').on('charges').columns(['attempt_id']).execute();
  await db.schema
    .createTable('settings')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
}
