import type { Kysely } from 'kysely';
import { DEFAULT_PLACEMENT } from '../../core/placement-spec.js';
import type { SqlDialectName } from './index.js';
import { rewriteJobSpecs } from './rewrite-job-specs.js';

// Job specs stored before the placement engine carry `constraints` (a label selector) and
// neither `placement` nor `tolerations`. Their selector becomes `placement.require`, which
// means the same thing, and the rest takes the defaults a new spec would get.

export async function up(db: Kysely<unknown>, _dialect: SqlDialectName): Promise<void> {
  await rewriteJobSpecs(db, upgradeStoredJobSpec);
}

/** The spec in today's shape, or undefined when it already is. */
export function upgradeStoredJobSpec(spec: Record<string, unknown>): Record<string, unknown> | undefined {
  if ('placement' in spec && !('constraints' in spec)) return undefined;
  const { constraints, ...rest } = spec;
  const require = Array.isArray(constraints) ? constraints : [];
  const placement = (rest.placement as Record<string, unknown> | undefined) ?? DEFAULT_PLACEMENT;
  return { ...rest, placement: { ...placement, require }, tolerations: rest.tolerations ?? [] };
}
