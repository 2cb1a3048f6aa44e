import { isUtf8 } from 'node:buffer';
import type { FastifyInstance } from 'fastify';
import { checkDocument } from '../../core/document-limits.js';
import { AtollError } from '../../core/errors.js';
import { BODY_LIMIT_BYTES } from './error-mapping.js';

/**
 * Replaces Fastify's JSON body parser with one that refuses what the default lets through or
 * turns into a 500: bytes that are not UTF-8 (the default decodes them to U+FFFD and carries on),
 * nesting deep enough to exhaust the stack of a schema that recurses, `prototype` keys (the
 * default catches only `__proto__` and `constructor.prototype`), Infinity from `1e400`, integers
 * past 2^53 and lone surrogates. Every refusal is a 400 naming the field (document-limits.ts).
 */
export function registerJsonBodyParser(app: FastifyInstance): void {
  // Every body the API takes is JSON: a text/plain body would reach the schemas as one string.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: BODY_LIMIT_BYTES }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as Buffer));
    } catch (error) {
      // Handed to the error handler, which answers it (error-mapping.ts).
      done(error as Error, undefined);
    }
  });
}

/** The body as a checked JSON document; throws an AtollError saying what is wrong with it. */
export function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) throw new AtollError('invalid_request', 'request body is empty; send a JSON document or leave out the content-type header');
  if (!isUtf8(body)) throw new AtollError('invalid_request', 'request body is not valid UTF-8');
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (error) {
    // JSON.parse throws only SyntaxError here. Its message can quote the body around the break,
    // and the body may hold a secret: say where it broke, never what is there.
    const position = /at position (\d+)/.exec((error as Error).message)?.[1];
    throw new AtollError('invalid_request', `request body is not valid JSON${position === undefined ? '' : ` (it breaks at character ${position})`}`);
  }
  return checkDocument(value, 'request body');
}
