import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ControlPlane } from '../../control-plane.js';
import { dataNameSchema } from '../../../core/data-spec.js';
import { NAME_PATTERN } from '../../../core/job-spec.js';
import { parseOrThrow } from '../../../core/validation.js';
import { requireNamespace, mayActIn } from '../../auth/access.js';
import { parseQuery } from '../params.js';
import { checkBodyNamespace, note, principalOf } from '../principal.js';

const namespaceQuery = z.strictObject({ namespace: z.string().min(1).max(63).optional() });
const removeQuery = z.strictObject({ namespace: z.string().min(1).max(63).optional(), partition: z.string().min(1).max(200).optional() });
const noQuery = z.strictObject({});
const relayParams = z.strictObject({ namespace: z.string().regex(NAME_PATTERN), dataset: dataNameSchema('dataset name'), partition: dataNameSchema('partition name') });
type RelayParams = { Params: { namespace: string; dataset: string; partition: string } };
const VIEWER = { access: { role: 'viewer' } } as const;
const OPERATOR = { access: { role: 'operator' } } as const;

/** `dataCa`: the data CA's certificate when serving TLS; uploads straight to a data server are told to trust it. */
export function registerDataRoutes(app: FastifyInstance, plane: ControlPlane, dataCa: string | undefined): void {
  app.get('/v1/datasets', { config: VIEWER }, async (request) => {
    const { namespace } = parseQuery(namespaceQuery, request.query);
    const token = principalOf(request);
    if (namespace !== undefined) requireNamespace(token, namespace);
    const items = plane.data.listDatasets(namespace).filter((d) => mayActIn(token, d.namespace));
    return { items, total: items.length };
  });

  app.get<{ Params: { name: string } }>('/v1/datasets/:name', { config: VIEWER }, async (request) => {
    const { namespace } = parseQuery(namespaceQuery, request.query);
    requireNamespace(principalOf(request), namespace ?? 'default');
    return plane.data.dataset(namespace ?? 'default', request.params.name);
  });

  app.delete<{ Params: { name: string } }>('/v1/datasets/:name', { config: OPERATOR }, async (request) => {
    const { namespace, partition } = parseQuery(removeQuery, request.query);
    note(request, { namespace: namespace ?? 'default' });
    requireNamespace(principalOf(request), namespace ?? 'default');
    return plane.data.remove(namespace ?? 'default', request.params.name, partition);
  });

  app.post('/v1/data/uploads', { config: OPERATOR }, async (request, reply) => {
    parseQuery(noQuery, request.query);
    checkBodyNamespace(request, request.body);
    const grant = plane.data.createUpload(request.body);
    const direct = grant.url.startsWith('https:');
    return reply.status(201).send(direct && dataCa !== undefined ? { ...grant, ca: dataCa } : grant);
  });

  app.post('/v1/data/register', { config: OPERATOR }, async (request, reply) => {
    parseQuery(noQuery, request.query);
    checkBodyNamespace(request, request.body);
    return reply.status(201).send(await plane.data.register(request.body));
  });

  // Transfers relayed to and from nodes with no reachable data address (server/data-relay.ts).
  // Authorised by the data token the catalog signed, not an API token; the bytes stream through
  // unparsed and unbuffered, so the JSON body limit does not apply.
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null));
    const relayed = '/v1/data/relay/:namespace/:dataset/:partition';
    scope.get<RelayParams>(relayed, { config: { access: 'none' } }, async (request, reply) => {
      parseQuery(noQuery, request.query);
      // The token first, as everywhere: a caller without one learns nothing about the path.
      const target = plane.relay.target(request.params, request.headers.authorization, 'read');
      const ref = parseOrThrow(relayParams, request.params, 'path');
      reply.hijack();
      plane.relay.read(target, ref, request.headers.authorization!, reply.raw);
    });
    scope.put<RelayParams>(relayed, { config: { access: 'none', streamsBody: true } }, async (request, reply) => {
      parseQuery(noQuery, request.query);
      // The token first, as everywhere: a caller without one learns nothing about the path.
      const target = plane.relay.target(request.params, request.headers.authorization, 'write');
      const ref = parseOrThrow(relayParams, request.params, 'path');
      reply.hijack();
      plane.relay.write(target, ref, request.headers.authorization!, request.raw, reply.raw);
    });
  });
}
