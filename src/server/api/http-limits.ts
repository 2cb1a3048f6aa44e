import { STATUS_CODES, type ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';

// How long a client may take over each part of a request, so a slow or stalled peer (slowloris
// headers, a body sent a byte at a time, an idle connection) holds a socket for a bounded time
// and never blocks anyone else. Node applies these per connection; nothing here waits in line.

export interface HttpTimeouts {
  /** From connect to the end of the request headers; Node answers 408 and closes after this. */
  readonly headersMs: number;
  /** From the request's start to the end of a JSON body (at most 1 MiB); the socket is closed after this. */
  readonly bodyMs: number;
  /** A connection on which nothing moves either way for this long is closed (live streams send a keepalive every 15 s). */
  readonly idleMs: number;
  /** An idle keep-alive connection between requests is closed after this. */
  readonly keepAliveMs: number;
  /** How often Node checks the headers deadline: a slow client is cut between headersMs and headersMs + this. */
  readonly checkIntervalMs: number;
}

export const DEFAULT_HTTP_TIMEOUTS: HttpTimeouts = {
  headersMs: 10_000,
  // 1 MiB in 30 s is 35 KiB/s: slower than any link a node or operator works over.
  bodyMs: 30_000,
  idleMs: 120_000,
  keepAliveMs: 10_000,
  checkIntervalMs: 2_000,
};

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route streams its body itself under its own idle timeout (relayed uploads); bodyMs does not apply. */
    streamsBody?: boolean;
  }
}

/** Fastify options that set Node's HTTP server timeouts, and answer what Node refuses itself in the API's error shape. */
export function httpServerOptions(timeouts: HttpTimeouts): {
  http: ServerOptions;
  connectionTimeout: number;
  keepAliveTimeout: number;
  requestTimeout: number;
  clientErrorHandler: (error: Error & { code?: string }, socket: Socket) => void;
} {
  return {
    http: { headersTimeout: timeouts.headersMs, connectionsCheckingInterval: timeouts.checkIntervalMs },
    connectionTimeout: timeouts.idleMs,
    keepAliveTimeout: timeouts.keepAliveMs,
    // Node's requestTimeout would also cut relayed uploads of large partitions; bodyMs is applied per route instead.
    requestTimeout: 0,
    clientErrorHandler: answerClientError,
  };
}

/**
 * Node's HTTP parser refuses some requests before Fastify sees them (headers too slow or too large,
 * bytes that are not HTTP); they get {error:{code,message}} like every other refusal, then the
 * socket is closed, since the parser cannot find where the next request would start.
 */
function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  // A reset connection has nobody to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'invalid_request', 'the request headers did not arrive in time']
      : error.code === 'HPE_HEADER_OVERFLOW' ? [431, 'payload_too_large', 'the request headers are larger than the 16 KiB allowed']
        : [400, 'invalid_request', 'the request is not valid HTTP/1.1'];
  const body = JSON.stringify({ error: { code, message } });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}

/** Closes the connection of a request whose body has not fully arrived within bodyMs, unless its route streams the body. */
export function limitBodyTime(app: FastifyInstance, timeouts: HttpTimeouts): void {
  app.addHook('onRequest', (request, _reply, done) => {
    const raw = request.raw;
    if (raw.complete || request.routeOptions.config?.streamsBody === true) return done();
    const timer = setTimeout(() => {
      if (raw.complete || raw.destroyed) return;
      request.log.warn({ remote: raw.socket.remoteAddress, url: request.routeOptions.url }, `closing a connection whose request body took longer than ${timeouts.bodyMs} ms`);
      raw.socket.destroy();
    }, timeouts.bodyMs);
    timer.unref();
    raw.once('close', () => clearTimeout(timer));
    raw.once('end', () => clearTimeout(timer));
    done();
  });
}
