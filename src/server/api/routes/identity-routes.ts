import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseDurationMs } from '../../../core/quantities.js';
import type { NodeIdentity } from '../../tls/node-identity.js';
import { parseBody } from '../params.js';

const createJoinTokenSchema = z.strictObject({
  pool: z.string().min(1).max(253).optional(),
  labels: z.record(z.string().min(1).max(253), z.string().max(253)).optional(),
  /** A duration such as 1h or 30m. */
  expiresIn: z.string().refine((v) => (parseDurationMs(v) ?? 0) > 0, 'expected a duration like 30m, 1h or 7d').optional(),
  singleUse: z.boolean().optional(),
});

/** Join tokens and node revocation (admin only, the default for routes). */
export function registerIdentityRoutes(app: FastifyInstance, identity: NodeIdentity): void {
  app.post('/v1/join-tokens', async (request, reply) => {
    const body = parseBody(createJoinTokenSchema, request.body ?? {});
    const created = await identity.createJoinToken({
      ...(body.pool === undefined ? {} : { pool: body.pool }),
      ...(body.labels === undefined ? {} : { labels: body.labels }),
      ...(body.expiresIn === undefined ? {} : { expiresInMs: parseDurationMs(body.expiresIn)! }),
      ...(body.singleUse === undefined ? {} : { singleUse: body.singleUse }),
    });
    return reply.status(201).send(created);
  });

  app.get('/v1/join-tokens', async () => {
    const items = await identity.listJoinTokens();
    return { items, total: items.length };
  });

  app.delete<{ Params: { id: string } }>('/v1/join-tokens/:id', async (request) => identity.revokeJoinToken(request.params.id));

  app.get('/v1/node-identities', async () => {
    const items = identity.listIdentities();
    return { items, total: items.length };
  });

  app.post<{ Params: { name: string } }>('/v1/nodes/:name/revoke', async (request) => identity.revokeNode(request.params.name));
}
