/** Stable error codes. The API edge maps each to one HTTP status (server/api/error-mapping.ts). */
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
