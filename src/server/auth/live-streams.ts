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

  /** `expiresAt`: the token's own end (a sign-in session): its streams end then too. */
  track(token: { readonly id: string; readonly expiresAt: number | null }, stream: SseStream, now = Date.now()): void {
    const tokenId = token.id;
    const set = this.byToken.get(tokenId) ?? new Set<SseStream>();
    this.byToken.set(tokenId, set.add(stream));
    // setTimeout holds at most about 24.8 days; a session is far shorter.
    const expiry = token.expiresAt === null ? undefined : setTimeout(() => {
      stream.send('expired', { message: 'the token this stream was opened with expired; sign in again' });
      stream.end();
    }, Math.min(Math.max(0, token.expiresAt - now), 2 ** 31 - 1));
    stream.onClose(() => {
      clearTimeout(expiry);
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
