import type { FastifyRequest } from 'fastify';
import { AtollError } from '../../core/errors.js';
import type { TokenRecord } from '../../store/store.js';
import { requireNamespace } from '../auth/access.js';
import type { AuditNote } from './audit-hook.js';

/** The token the request hook authenticated; a route that declares access always has one. */
export function principalOf(request: FastifyRequest): TokenRecord {
  if (request.principal === undefined) throw new AtollError('unauthorized', 'this route needs a token');
  return request.principal;
}

/**
 * The namespace a body (a job spec, an upload or register request) asks for, checked against the
 * caller's token before the body is parsed: `default` when it names none, as the schemas default.
 * A namespace that is not a string is left to the schema to refuse.
 */
export function checkBodyNamespace(request: FastifyRequest, body: unknown): void {
  const given = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)['namespace'] : undefined;
  const namespace = given === undefined ? 'default' : given;
  if (typeof namespace !== 'string') return;
  note(request, { namespace });
  requireNamespace(principalOf(request), namespace);
}

/** Adds to what the audit entry of the request says. */
export function note(request: FastifyRequest, more: AuditNote): void {
  request.auditNote = { ...request.auditNote, ...more };
}
