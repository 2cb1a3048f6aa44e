import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { durationSchema, NAME_PATTERN } from '../../../core/job-spec.js';
import { SPEND_GROUPS } from '../../../core/spend.js';
import type { ControlPlane } from '../../control-plane.js';
import { AtollError } from '../../../core/errors.js';
import { mayActIn, requireNamespace } from '../../auth/access.js';
import { parseQuery } from '../params.js';
import { principalOf } from '../principal.js';

const spendQuery = z.strictObject({
  by: z.enum(SPEND_GROUPS).optional(),
  /** How far back: a duration like 7d or 12h; left out, everything. */
  since: durationSchema.optional(),
  namespace: z.string().regex(NAME_PATTERN).optional(),
  /** `day`: split each group by UTC day, for spend over time. */
  per: z.enum(['day']).optional(),
});
const noQuery = z.strictObject({});
const VIEWER = { access: { role: 'viewer' } } as const;

export function registerSpendRoutes(app: FastifyInstance, plane: ControlPlane, now: () => number): void {
  app.get('/v1/spend', { config: VIEWER }, async (request) => {
    const { by, since, namespace: asked, per } = parseQuery(spendQuery, request.query);
    if (per === 'day' && by === 'day') throw new AtollError('invalid_request', 'per: by=day is already per day; use per=day with by=provider, region, site, namespace or job');
    const token = principalOf(request);
    // A scoped token sees its namespace's spend: the one it names, or its only one.
    const namespace = asked ?? (token.namespaces?.length === 1 ? token.namespaces[0] : undefined);
    if (namespace !== undefined) requireNamespace(token, namespace);
    else if (token.namespaces !== null) {
      throw new AtollError('forbidden', `token ${token.id} may see the spend of namespaces ${token.namespaces.join(', ')} only; name one with namespace=`);
    }
    return plane.spendReport({
      ...(by === undefined ? {} : { by }), ...(since === undefined ? {} : { since: now() - since }), ...(namespace === undefined ? {} : { namespace }),
      ...(per === 'day' ? { perDay: true } : {}),
    });
  });

  app.get('/v1/budgets', { config: VIEWER }, async (request) => {
    parseQuery(noQuery, request.query);
    const token = principalOf(request);
    const items = (await plane.budgets.list()).filter((b) => mayActIn(token, b.namespace));
    return { items, total: items.length };
  });

  app.get('/v1/pricing', { config: VIEWER }, async (request) => {
    parseQuery(noQuery, request.query);
    return plane.priceBook();
  });

  app.put('/v1/pricing', { config: { access: { role: 'admin', cluster: true } } }, async (request) => {
    parseQuery(noQuery, request.query);
    return plane.setPriceBook(request.body);
  });
}
