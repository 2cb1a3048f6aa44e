import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { AtollError } from '../../../core/errors.js';
import type { ControlPlane } from '../../control-plane.js';
import { booleanQuery, parseQuery } from '../params.js';

const noQuery = z.strictObject({});
// Policies bind the whole cluster: every token may read them (they say why work waits); cluster admins change them.
const VIEWER = { access: { role: 'viewer' } } as const;
const CLUSTER_ADMIN = { access: { role: 'admin', cluster: true } } as const;
const applyQuery = z.strictObject({ dryRun: booleanQuery.optional() });

/**
 * The path names the policy. The body may leave `name` out (the path's is used) but may not
 * name another policy: a PUT that silently wrote somewhere else would be worse than a refusal.
 */
function withPathName(body: unknown, name: string): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return body;
  const given = (body as Record<string, unknown>).name;
  if (given === undefined) return { ...body, name };
  if (given !== name) {
    const message = `${JSON.stringify(given)} differs from the name in the path, "${name}"; make them equal or leave name out of the body`;
    throw new AtollError('invalid_spec', `invalid policy:\n  name: ${message}`, { problems: [{ path: 'name', message }] });
  }
  return body;
}

export function registerPolicyRoutes(app: FastifyInstance, plane: ControlPlane): void {
  app.get('/v1/policies', { config: VIEWER }, async (request) => {
    parseQuery(noQuery, request.query);
    const items = plane.listPolicies();
    return { items, total: items.length };
  });

  app.get<{ Params: { name: string } }>('/v1/policies/:name', { config: VIEWER }, async (request) => {
    parseQuery(noQuery, request.query);
    return plane.getPolicy(request.params.name);
  });

  app.put<{ Params: { name: string } }>('/v1/policies/:name', { config: CLUSTER_ADMIN }, async (request, reply) => {
    const { dryRun } = parseQuery(applyQuery, request.query);
    const result = await plane.applyPolicy(withPathName(request.body, request.params.name), { dryRun: dryRun === true });
    return reply.status(result.created && !result.dryRun ? 201 : 200).send(result);
  });

  app.delete<{ Params: { name: string } }>('/v1/policies/:name', { config: CLUSTER_ADMIN }, async (request) => {
    parseQuery(noQuery, request.query);
    return plane.deletePolicy(request.params.name);
  });
}
