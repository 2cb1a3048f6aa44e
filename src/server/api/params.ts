import { z } from 'zod';
import { parseOrThrow } from '../../core/validation.js';

// Query strings and bodies are checked like specs: unknown parameters are errors, and each
// problem names the parameter.

export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
  offset: z.coerce.number().int().min(0).optional(),
};

export const booleanQuery = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

export function parseQuery<S extends z.ZodType>(schema: S, query: unknown): z.output<S> {
  return parseOrThrow(schema, query ?? {}, 'query parameters');
}

export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  return parseOrThrow(schema, body, 'request body');
}
