import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AtollError, HTTP_STATUS, type ErrorCode } from '../../core/errors.js';

/** Largest request body accepted (job specs are a few KiB). */
export const BODY_LIMIT_BYTES = 1024 * 1024;

// The one place where errors become HTTP statuses (DESIGN.md: map at the edge only).

export interface ErrorBody {
  readonly error: { readonly code: ErrorCode; readonly message: string; readonly problems?: readonly { path: string; message: string }[] };
}

export function toAtollError(error: unknown): AtollError {
  if (error instanceof AtollError) return error;
  const fastifyError = error as Partial<FastifyError>;
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AtollError('payload_too_large', `request body is larger than the ${BODY_LIMIT_BYTES / 1024 / 1024} MiB allowed`);
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AtollError('invalid_request', `request body is not valid JSON: ${fastifyError.message ?? ''}`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AtollError('invalid_request', 'send the request body as application/json');
    default:
      break;
  }
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode < 500) {
    return new AtollError('invalid_request', fastifyError.message ?? 'bad request');
  }
  return new AtollError('internal', 'internal error; the server log has the details', { cause: error });
}

export function sendError(request: FastifyRequest, reply: FastifyReply, error: unknown): FastifyReply {
  const atollError = toAtollError(error);
  const status = HTTP_STATUS[atollError.code];
  if (status >= 500) request.log.error({ err: error }, 'request failed');
  request.refusal = atollError.message;
  const body: ErrorBody = {
    error: {
      code: atollError.code,
      message: atollError.message,
      ...(atollError.problems.length > 0 ? { problems: atollError.problems } : {}),
    },
  };
  return reply.status(status).send(body);
}
