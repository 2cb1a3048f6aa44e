import { sql, type Kysely } from 'kysely';
import { SINGLE_STAGE_NAME } from '../../core/job-spec.js';
import type { StageState } from '../../core/states.js';
import type { StageRun } from '../../core/types.js';
import type { SqlDialectName } from './index.js';
import { rewriteJobSpecs } from './rewrite-job-specs.js';

// Jobs as DAGs of stages. Stored specs move from the single-stage form (command, tasks, inputs...
// at the top) to `stages: [...]` with one stage named "main"; tasks learn their stage; jobs keep
// each stage's progress.

const PAGE = 500;

const STAGE_STATE_OF_JOB: Readonly<Record<string, StageState>> = {
  pending: 'running', running: 'running', succeeded: 'succeeded', failed: 'failed', cancelled: 'cancelled',
};

export async function up(db: Kysely<unknown>, _dialect: SqlDialectName): Promise<void> {
  await db.schema.alterTable('tasks').addColumn('stage', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('jobs').addColumn('stages', 'text', (c) => c.notNull().defaultTo('[]')).execute();
  await rewriteJobSpecs(db, (spec) => {
    if ('stages' in spec) return undefined;
    const { name, namespace, ...stage } = spec;
    return { name, namespace, stages: [{ ...stage, name: SINGLE_STAGE_NAME, dependsOn: [] }] };
  });
  let after = '';
  for (;;) {
    // One-word aliases: the store's camel-case plugin would rename snake_case result keys.
    const rows = await sql<{ id: string; state: string; tasks: number; created: number; started: number | null; finished: number | null; reason: string | null }>`
      SELECT id, state, task_count AS tasks, created_at AS created, started_at AS started, finished_at AS finished, reason
      FROM jobs WHERE id > ${after} ORDER BY id LIMIT ${PAGE}`.execute(db);
    if (rows.rows.length === 0) return;
    for (const row of rows.rows) {
      const run: StageRun = {
        name: SINGLE_STAGE_NAME, state: STAGE_STATE_OF_JOB[row.state] ?? 'running', firstTask: 0, tasks: Number(row.tasks),
        // The job's tasks were all created with it: its one stage started when the job was submitted.
        startedAt: Number(row.created), finishedAt: row.finished === null ? null : Number(row.finished), reason: row.reason,
      };
      await sql`UPDATE jobs SET stages = ${JSON.stringify([run])} WHERE id = ${row.id}`.execute(db);
    }
    after = rows.rows[rows.rows.length - 1]!.id;
  }
}
