import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ControlPlane } from '../../control-plane.js';
import { parseQuery } from '../params.js';

const namespaceQuery = z.strictObject({ namespace: z.string().min(1).max(63).optional() });
const removeQuery = z.strictObject({ namespace: z.string().min(1).max(63).optional(), partition: z.string().min(1).max(200).optional() });
const noQuery = z.strictObject({});

export function registerDataRoutes(app: FastifyInstance, plane: ControlPlane): void {
  app.get('/v1/datasets', async (request) => {
    const { namespace } = parseQuery(namespaceQuery, request.query);
    const items = plane.data.listDatasets(namespace);
    return { items, total: items.length };
  });

  app.get<{ Params: { name: string } }>('/v1/datasets/:name', async (request) => {
    const { namespace } = parseQuery(namespaceQuery, request.query);
    return plane.data.dataset(namespace ?? 'default', request.params.name);
  });

  app.delete<{ Params: { name: string } }>('/v1/datasets/:name', async (request) => {
    const { namespace, partition } = parseQuery(removeQuery, request.query);
    return plane.data.remove(namespace ?? 'default', request.params.name, partition);
  });

  app.post('/v1/data/uploads', async (request, reply) => {
    parseQuery(noQuery, request.query);
    return reply.status(201).send(plane.data.createUpload(request.body));
  });

  app.post('/v1/data/register', async (request, reply) => {
    parseQuery(noQuery, request.query);
    return reply.status(201).send(await plane.data.register(request.body));
  });
}
