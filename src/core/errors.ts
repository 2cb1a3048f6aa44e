/** Stable error codes, each answered with one HTTP status (HTTP_STATUS) wherever it meets HTTP. */
export type ErrorCode =
  | 'invalid_spec'
  | 'invalid_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'unavailable'
  | 'internal';

/** The one mapping from error code to HTTP status, for the API, the agents' data servers and the relay. */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  invalid_spec: 400,
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unavailable: 503,
  internal: 500,
};

export interface FieldProblem {
  /** Dotted path into the submitted document, e.g. `resources.memory` or `constraints[0].operator`. */
  readonly path: string;
  readonly message: string;
}

/** A failure with a stable code, a message that says what to do, and optional field problems. */
export class AtollError extends Error {
  readonly code: ErrorCode;
  readonly problems: readonly FieldProblem[];

  constructor(code: ErrorCode, message: string, options: { problems?: readonly FieldProblem[]; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AtollError';
    this.code = code;
    this.problems = options.problems ?? [];
  }
}

export function isAtollError(value: unknown): value is AtollError {
  return value instanceof AtollError;
}

export function notFound(kind: string, id: string): AtollError {
  return new AtollError('not_found', `${kind} "${id}" does not exist; list them with \`atoll ${kind}s\``);
}
