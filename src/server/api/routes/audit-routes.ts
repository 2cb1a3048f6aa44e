import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { durationSchema, NAME_PATTERN } from '../../../core/job-spec.js';
import type { Store } from '../../../store/store.js';
import type { AuditLog } from '../../audit/audit-log.js';
import { parseQuery } from '../params.js';

const auditQuery = z.strictObject({
  after: z.coerce.number().int().min(0).optional(),
  /** How far back: a duration like 1h or 7d. */
  since: durationSchema.optional(),
  actor: z.string().min(1).max(200).optional(),
  outcome: z.enum(['ok', 'denied', 'refused', 'failed']).optional(),
  namespace: z.string().regex(NAME_PATTERN).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
});

/** The audit log for cluster admins: it spans every namespace and names every actor. */
export function registerAuditRoutes(app: FastifyInstance, store: Store, audit: AuditLog, now: () => number): void {
  app.get('/v1/audit', { config: { access: { role: 'admin', cluster: true } } }, async (request) => {
    const query = parseQuery(auditQuery, request.query);
    // Entries of requests answered just now are still in the writer's batch: a reader sees them too.
    await audit.flush();
    const items = await store.listAudit({
      ...(query.after === undefined ? {} : { afterSeq: query.after }),
      ...(query.since === undefined ? {} : { since: now() - query.since }),
      ...(query.actor === undefined ? {} : { actor: query.actor }),
      ...(query.outcome === undefined ? {} : { outcome: query.outcome }),
      ...(query.namespace === undefined ? {} : { namespace: query.namespace }),
      limit: query.limit ?? 1000,
    });
    return { items };
  });
}
