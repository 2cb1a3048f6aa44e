import type { Kysely } from 'kysely';
import type { SqlDialectName } from './index.js';
import { rewriteJobSpecs } from './rewrite-job-specs.js';

// The data catalog: which partition of which dataset lives on which node, with its size,
// checksum and residency class. Nodes gain the URL their agent serves data on, and stored job
// specs the `inputs` a new spec gets by default (none).

export async function up(db: Kysely<unknown>, _dialect: SqlDialectName): Promise<void> {
  await db.schema.alterTable('nodes').addColumn('data_url', 'text').execute();
  await db.schema
    .createTable('partitions')
    // namespace/dataset/partition: one text key, so every dialect upserts it the same way.
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('namespace', 'text', (c) => c.notNull())
    .addColumn('dataset', 'text', (c) => c.notNull())
    .addColumn('partition', 'text', (c) => c.notNull())
    .addColumn('node', 'text', (c) => c.notNull())
    .addColumn('bytes', 'bigint', (c) => c.notNull())
    .addColumn('sha256', 'text', (c) => c.notNull())
    .addColumn('residency_class', 'text')
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('partitions_dataset').on('partitions').columns(['namespace', 'dataset']).execute();
  await rewriteJobSpecs(db, (spec) => ('inputs' in spec ? undefined : { ...spec, inputs: [] }));
}
