import { sql, type Kysely } from 'kysely';

/** Rows rewritten per page, so a large jobs table is not held in memory at once. */
const PAGE = 500;

/**
 * Rewrites every stored job spec that `upgrade` changes (it returns undefined for one already
 * current). Specs are stored normalised (quantities in millicores, bytes and ms), so they are
 * edited as JSON, never parsed again: parsing would read a stored cpu of 100 millicores as 100 cores.
 */
export async function rewriteJobSpecs(db: Kysely<unknown>, upgrade: (spec: Record<string, unknown>) => Record<string, unknown> | undefined): Promise<void> {
  let after = '';
  for (;;) {
    const rows = await sql<{ id: string; spec: string }>`SELECT id, spec FROM jobs WHERE id > ${after} ORDER BY id LIMIT ${PAGE}`.execute(db);
    if (rows.rows.length === 0) return;
    for (const row of rows.rows) {
      const upgraded = upgrade(JSON.parse(row.spec) as Record<string, unknown>);
      if (upgraded !== undefined) await sql`UPDATE jobs SET spec = ${JSON.stringify(upgraded)} WHERE id = ${row.id}`.execute(db);
    }
    after = rows.rows[rows.rows.length - 1]!.id;
  }
}
