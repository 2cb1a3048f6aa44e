import type { Kysely } from 'kysely';
import type { SqlDialectName } from './index.js';

// API tokens may expire: the dashboard's sign-in sessions do. Existing tokens never expire (null).

export async function up(db: Kysely<unknown>, _dialect: SqlDialectName): Promise<void> {
  await db.schema.alterTable('tokens').addColumn('expires_at', 'bigint').execute();
}
