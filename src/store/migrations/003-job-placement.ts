import { sql, type Kysely } from 'kysely';
import { DEFAULT_PLACEMENT } from '../../core/placement-spec.js';
import type { SqlDialectName } from './index.js';

// Job specs stored before the placement engine carry `constraints` (a label selector) and
// neither `placement` nor `tolerations`. Their selector becomes `placement.require`, which
// means the same thing, and the rest takes the defaults a new spec would get. Specs are stored
// normalised (quantities already in millicores, bytes and ms), so they are rewritten as JSON
// rather than parsed again: parsing would read a stored cpu of 100 (millicores) as 100 cores.

/** Rows rewritten per statement batch, so a large jobs table is not held in memory at once. */
const PAGE = 500;

export async function up(db: Kysely<unknown>, _dialect: SqlDialectName): Promise<void> {
  let after = '';
  for (;;) {
    const rows = await sql<{ id: string; spec: string }>`SELECT id, spec FROM jobs WHERE id > ${after} ORDER BY id LIMIT ${PAGE}`.execute(db);
    if (rows.rows.length === 0) return;
    for (const row of rows.rows) {
      const upgraded = upgradeStoredJobSpec(JSON.parse(row.spec) as Record<string, unknown>);
      if (upgraded !== undefined) await sql`UPDATE jobs SET spec = ${JSON.stringify(upgraded)} WHERE id = ${row.id}`.execute(db);
    }
    after = rows.rows[rows.rows.length - 1]!.id;
  }
}

/** The spec in today's shape, or undefined when it already is. */
export function upgradeStoredJobSpec(spec: Record<string, unknown>): Record<string, unknown> | undefined {
  if ('placement' in spec && !('constraints' in spec)) return undefined;
  const { constraints, ...rest } = spec;
  const require = Array.isArray(constraints) ? constraints : [];
  const placement = (rest.placement as Record<string, unknown> | undefined) ?? DEFAULT_PLACEMENT;
  return { ...rest, placement: { ...placement, require }, tolerations: rest.tolerations ?? [] };
}
