import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ControlPlane } from '../../control-plane.js';
import { dataNameSchema } from '../../../core/data-spec.js';
import { NAME_PATTERN } from '../../../core/job-spec.js';
import { parseOrThrow } from '../../../core/validation.js';
import { parseQuery } from '../params.js';

const namespaceQuery = z.strictObject({ namespace: z.string().min(1).max(63).optional() });
const removeQuery = z.strictObject({ namespace: z.string().min(1).max(63).optional(), partition: z.string().min(1).max(200).optional() });
const noQuery = z.strictObject({});
const relayParams = z.strictObject({ namespace: z.string().regex(NAME_PATTERN), dataset: dataNameSchema('dataset name'), partition: dataNameSchema('partition name') });
type RelayParams = { Params: { namespace: string; dataset: string; partition: string } };

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

  // Transfers relayed to and from nodes with no reachable data address (server/data-relay.ts).
  // Authorised by the data token the catalog signed, not an API token; the bytes stream through
  // unparsed and unbuffered, so the JSON body limit does not apply.
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null));
    const relayed = '/v1/data/relay/:namespace/:dataset/:partition';
    scope.get<RelayParams>(relayed, { config: { auth: 'none' } }, async (request, reply) => {
      parseQuery(noQuery, request.query);
      // The token first, as everywhere: a caller without one learns nothing about the path.
      const target = plane.relay.target(request.params, request.headers.authorization, 'read');
      const ref = parseOrThrow(relayParams, request.params, 'path');
      reply.hijack();
      plane.relay.read(target, ref, request.headers.authorization!, reply.raw);
    });
    scope.put<RelayParams>(relayed, { config: { auth: 'none' } }, async (request, reply) => {
      parseQuery(noQuery, request.query);
      // The token first, as everywhere: a caller without one learns nothing about the path.
      const target = plane.relay.target(request.params, request.headers.authorization, 'write');
      const ref = parseOrThrow(relayParams, request.params, 'path');
      reply.hijack();
      plane.relay.write(target, ref, request.headers.authorization!, request.raw, reply.raw);
    });
  });
}
