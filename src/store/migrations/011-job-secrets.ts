import type { Kysely } from 'kysely';
import type { SqlDialectName } from './index.js';
import { rewriteJobSpecs } from './rewrite-job-specs.js';

// Job secrets: their sealed values live in their own table, apart from the job's spec (which
// shows only the redacted placeholder), and are deleted when the job finishes. Stored specs
// learn the new field, empty: jobs accepted before it had no secrets.

export async function up(db: Kysely<unknown>, _dialect: SqlDialectName): Promise<void> {
  await db.schema
    .createTable('job_secrets')
    .addColumn('job_id', 'text', (c) => c.primaryKey())
    .addColumn('sealed', 'text', (c) => c.notNull())
    .execute();
  await rewriteJobSpecs(db, (spec) => {
    const stages = spec['stages'] as Record<string, unknown>[] | undefined;
    if (stages === undefined || stages.every((stage) => 'secrets' in stage)) return undefined;
    return { ...spec, stages: stages.map((stage) => ('secrets' in stage ? stage : { ...stage, secrets: {} })) };
  });
}
