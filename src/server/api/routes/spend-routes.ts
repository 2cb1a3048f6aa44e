import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { durationSchema, NAME_PATTERN } from '../../../core/job-spec.js';
import { SPEND_GROUPS } from '../../../core/spend.js';
import type { ControlPlane } from '../../control-plane.js';
import { parseQuery } from '../params.js';

const spendQuery = z.strictObject({
  by: z.enum(SPEND_GROUPS).optional(),
  /** How far back: a duration like 7d or 12h; left out, everything. */
  since: durationSchema.optional(),
  namespace: z.string().regex(NAME_PATTERN).optional(),
});
const noQuery = z.strictObject({});

export function registerSpendRoutes(app: FastifyInstance, plane: ControlPlane, now: () => number): void {
  app.get('/v1/spend', async (request) => {
    const { by, since, namespace } = parseQuery(spendQuery, request.query);
    return plane.spendReport({
      ...(by === undefined ? {} : { by }), ...(since === undefined ? {} : { since: now() - since }), ...(namespace === undefined ? {} : { namespace }),
    });
  });

  app.get('/v1/budgets', async (request) => {
    parseQuery(noQuery, request.query);
    const items = await plane.budgets.list();
    return { items, total: items.length };
  });

  app.get('/v1/pricing', async (request) => {
    parseQuery(noQuery, request.query);
    return plane.priceBook();
  });

  app.put('/v1/pricing', async (request) => {
    parseQuery(noQuery, request.query);
    return plane.setPriceBook(request.body);
  });
}
