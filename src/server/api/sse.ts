import type { FastifyReply, FastifyRequest } from 'fastify';

/** Keeps proxies and clients from timing out an idle stream. */
const KEEPALIVE_MS = 15_000;
/**
 * A client that reads slower than events arrive would make the server buffer without bound.
 * Past this much unsent data the stream is ended; the client reconnects with Last-Event-ID and
 * replays from the store at its own pace.
 */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

export interface SseStream {
  send(event: string, data: unknown, id?: number): void;
  end(): void;
  readonly closed: boolean;
  onClose(run: () => void): void;
}

/** Takes over the reply and turns it into a server-sent event stream. */
export function openSse(request: FastifyRequest, reply: FastifyReply): SseStream {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  raw.write(': atoll stream\n\n');
  let closed = false;
  const closers: (() => void)[] = [];
  const keepalive = setInterval(() => raw.write(': keepalive\n\n'), KEEPALIVE_MS);
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(keepalive);
    for (const run of closers) run();
  };
  request.raw.on('close', close);
  const stream: SseStream = {
    send(event, data, id) {
      if (closed) return;
      raw.write(`${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      if (raw.writableLength > MAX_BUFFERED_BYTES) {
        request.log.warn({ buffered: raw.writableLength }, 'ending an event stream whose client reads too slowly');
        close();
        raw.end();
      }
    },
    end() {
      close();
      raw.end();
    },
    get closed() {
      return closed;
    },
    onClose(run) {
      closers.push(run);
    },
  };
  // Tracked per token, so a revocation ends the stream (auth/live-streams.ts).
  if (request.principal !== undefined) request.server.liveStreams?.track(request.principal, stream);
  return stream;
}

/** `follow=true|false` decides; without it, an `Accept: text/event-stream` header asks for a stream. */
export function wantsStream(request: FastifyRequest, follow: boolean | undefined): boolean {
  return follow ?? (request.headers.accept ?? '').includes('text/event-stream');
}

/** Where a stream resumes: the `after` parameter, else the Last-Event-ID a reconnecting EventSource sends. */
export function resumeAfter(request: FastifyRequest, after: number | undefined): number {
  if (after !== undefined) return after;
  const header = request.headers['last-event-id'];
  const id = typeof header === 'string' && /^\d+$/.test(header) ? Number(header) : 0;
  return Number.isSafeInteger(id) ? id : 0;
}
