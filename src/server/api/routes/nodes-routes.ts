import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ControlPlane } from '../../control-plane.js';
import { parseQuery } from '../params.js';

const nodesQuery = z.strictObject({
  state: z.enum(['ready', 'unreachable', 'down', 'draining', 'cordoned', 'left']).optional(),
});
const noQuery = z.strictObject({});

export function registerNodeRoutes(app: FastifyInstance, plane: ControlPlane): void {
  app.get('/v1/nodes', async (request) => {
    const query = parseQuery(nodesQuery, request.query);
    const items = plane.listNodes().filter((n) => query.state === undefined || n.state === query.state);
    return { items, total: items.length };
  });

  app.get<{ Params: { name: string } }>('/v1/nodes/:name', async (request) => {
    parseQuery(noQuery, request.query);
    return plane.getNode(request.params.name);
  });
}
