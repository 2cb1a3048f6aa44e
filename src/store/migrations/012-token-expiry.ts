import type { Kysely } from 'kysely';
import type { SqlDialectName } from './index.js';

// Dashboard sign-in sessions: API tokens that expire, made from another token (their parent),
// whose revocation or rotation ends them too. Existing tokens never expire and have no parent.

export async function up(db: Kysely<unknown>, _dialect: SqlDialectName): Promise<void> {
  await db.schema.alterTable('tokens').addColumn('expires_at', 'bigint').execute();
  await db.schema.alterTable('tokens').addColumn('parent_id', 'text').execute();
}
