import type { Kysely } from 'kysely';
import { DEFAULT_NODE_LOSSES } from '../../core/job-spec.js';
import type { SqlDialectName } from './index.js';
import { rewriteJobSpecs } from './rewrite-job-specs.js';

// Node lifecycle: an operator's cordon and drain outlive the agent's connection, so they are
// columns of their own rather than values of `state` (which says what the control plane sees
// now). Tasks count the times they lost their node, a budget apart from their own failures,
// and stored specs get that budget's default.

export async function up(db: Kysely<unknown>, _dialect: SqlDialectName): Promise<void> {
  await db.schema.alterTable('nodes').addColumn('cordoned', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('nodes').addColumn('drain_deadline', 'bigint').execute();
  await db.schema.alterTable('tasks').addColumn('losses', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await rewriteJobSpecs(db, (spec) => {
    const retry = spec.retry as Record<string, unknown> | undefined;
    if (retry === undefined || 'nodeLosses' in retry) return undefined;
    return { ...spec, retry: { ...retry, nodeLosses: DEFAULT_NODE_LOSSES } };
  });
}
