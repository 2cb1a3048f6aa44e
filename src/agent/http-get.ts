import { AtollError } from '../core/errors.js';

// The seam between fetching a partition and the HTTP client that does it: node:http for small
// partitions (its kept-alive connections save a handshake per file), a lean client on a raw socket
// for large ones (node-http-get.ts, plain-http-get.ts). Neither follows redirects. Both describe a
// failed connection the same way (the helpers at the end).

/** Where a body goes: the block writer. */
export interface BodySink {
  /** Takes a chunk; a promise means the chunk is still in use and nothing more may come until it settles. */
  write(chunk: Uint8Array): Promise<void> | undefined;
  /**
   * Optional, for a client that can read straight into the sink's memory: the free space to fill
   * next, or null while there is none. Asked again before each read; the same space until `commit`.
   */
  reserve?(): Uint8Array | null;
  /** `n` bytes were read into the start of what `reserve` gave. */
  commit?(n: number): void;
  /** Settles once `reserve` has space again. */
  ready?(): Promise<void>;
}

/** A response whose head has arrived; the body is read by one of `readBody` or `readText`. */
export interface HttpGetResponse {
  readonly status: number;
  /** Content-Length, when the response has one. */
  readonly contentLength: number | null;
  /** Location, for saying where a refused redirect pointed. */
  readonly location: string | null;
  /** Feeds the body to `sink`; rejects if the connection ends before the whole body came. Resolves with its size. */
  readBody(sink: BodySink): Promise<number>;
  /** At most `limit` bytes of the body as text; the rest is not read. */
  readText(limit: number): Promise<string>;
  /** Lets go of the connection; a body not read to its end is dropped with it. Safe to call more than once. */
  close(): void;
}

/** Sends a GET with `headers`; resolves once the response head is in. `signal` stops it at any point, body included. */
export type HttpGet = (url: URL, headers: Readonly<Record<string, string>>, signal: AbortSignal, trust?: PeerTrust) => Promise<HttpGetResponse>;

/** For https: whom to trust at the other end. */
export interface PeerTrust {
  /** The only CA to trust: the cluster CA for the control plane (the relay), the data CA for a holder. */
  readonly ca: string;
  /** The holder expected to answer: its data server certificate must name it. Unset for the control plane. */
  readonly node?: string;
}

/** The connection failed; says where to. */
export function unreachable(url: URL, error: Error): AtollError {
  return new AtollError('unavailable', `could not fetch from ${url.origin}: ${error.message}`, { cause: error });
}

/** The connection ended before the body was complete. */
export function cutShort(url: URL, received: number, expected: number | null, cause?: unknown): AtollError {
  const of = expected === null ? '' : ` of ${expected}`;
  const why = cause instanceof Error ? ` (${cause.message})` : '';
  return new AtollError('unavailable', `the connection to ${url.origin} ended after ${received}${of} bytes of the body${why}`, { cause });
}
