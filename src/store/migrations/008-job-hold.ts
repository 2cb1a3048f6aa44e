import type { Kysely } from 'kysely';
import type { SqlDialectName } from './index.js';

// Jobs accepted over a budget that queues wait, held by that budget's policy, until there is budget again.

export async function up(db: Kysely<unknown>, _dialect: SqlDialectName): Promise<void> {
  await db.schema.alterTable('jobs').addColumn('held_by', 'text').execute();
}
