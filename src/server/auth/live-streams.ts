import type { SseStream } from '../api/sse.js';

declare module 'fastify' {
  interface FastifyInstance {
    liveStreams?: LiveStreams;
  }
}

/**
 * The live event and log streams open per token, so revoking a token ends its streams at once
 * rather than whenever the client next reconnects (a stream can stay open for days).
 */
export class LiveStreams {
  private readonly byToken = new Map<string, Set<SseStream>>();

  track(tokenId: string, stream: SseStream): void {
    const set = this.byToken.get(tokenId) ?? new Set<SseStream>();
    this.byToken.set(tokenId, set.add(stream));
    stream.onClose(() => {
      set.delete(stream);
      if (set.size === 0 && this.byToken.get(tokenId) === set) this.byToken.delete(tokenId);
    });
  }

  /** Ends every stream the token opened; returns how many. */
  endFor(tokenId: string): number {
    const set = this.byToken.get(tokenId);
    if (set === undefined) return 0;
    const streams = [...set];
    for (const stream of streams) {
      stream.send('revoked', { message: 'the token this stream was opened with was revoked' });
      stream.end();
    }
    return streams.length;
  }

  count(tokenId: string): number {
    return this.byToken.get(tokenId)?.size ?? 0;
  }
}
