import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuditRecord, NewAudit, TokenRecord } from '../../store/store.js';
import type { AuditLog } from '../audit/audit-log.js';

/** What a handler adds to its request's audit entry when the path alone does not say it. */
export interface AuditNote {
  /** The object acted on, when the path does not name it (a new job's id). */
  target?: string;
  namespace?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The token that authenticated the request, once the request hook has checked it. */
    principal?: TokenRecord;
    auditNote?: AuditNote;
    /** The message of the error answered, for the audit entry of a refusal. */
    refusal?: string;
  }
}

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function outcomeOf(status: number): AuditRecord['outcome'] {
  if (status < 400) return 'ok';
  if (status === 401 || status === 403) return 'denied';
  return status < 500 ? 'refused' : 'failed';
}

/** The actor fields for a token (or nobody). */
export function actorOf(token: TokenRecord | undefined): Pick<NewAudit, 'actor' | 'actorKind' | 'role'> {
  if (token === undefined) return { actor: 'anonymous', actorKind: 'anonymous', role: null };
  if (token.kind === 'node') return { actor: token.node ?? token.id, actorKind: 'node', role: null };
  return { actor: token.id, actorKind: 'token', role: token.role };
}

/** Every mutating request and every refused one goes to the audit log, once answered. */
export function auditRequests(app: FastifyInstance, audit: AuditLog): void {
  app.addHook('onResponse', async (request, reply) => {
    const status = reply.statusCode;
    if (READS.has(request.method) && status < 400) return;
    audit.record(entryFor(request, status));
  });
}

function entryFor(request: FastifyRequest, status: number): Omit<NewAudit, 'time'> {
  const params = (request.params ?? {}) as Record<string, unknown>;
  const named = ['id', 'name', 'namespace', 'dataset', 'partition'].map((k) => params[k]).filter((v): v is string => typeof v === 'string');
  const query = (request.query ?? {}) as Record<string, unknown>;
  const route = request.routeOptions.url ?? request.url.split('?')[0]!.slice(0, 200);
  return {
    ...actorOf(request.principal),
    action: `${request.method} ${route}`,
    target: request.auditNote?.target ?? (named.length > 0 ? named.join('/') : null),
    namespace: request.auditNote?.namespace ?? (typeof query['namespace'] === 'string' ? query['namespace'] : null),
    outcome: outcomeOf(status), status,
    reason: status >= 400 ? request.refusal ?? null : null,
    remote: request.ip,
  };
}
