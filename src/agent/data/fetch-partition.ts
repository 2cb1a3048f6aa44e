import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { partitionId } from '../../core/data-spec.js';
import { AtollError, type ErrorCode } from '../../core/errors.js';
import type { PartitionRef, PartitionStore } from './partition-store.js';

// A partition this node needs, fetched from the node that holds it with the read token the
// control plane signed, streamed straight into the local store. The store hashes the bytes as
// they arrive and keeps nothing unless they match the catalogued sha256, so a tampered, truncated
// or substituted transfer is caught here whatever the holder or the network did.

export interface FetchPartitionOptions {
  /** The holder's full partition URL: `<dataUrl>/v1/data/NS/DS/P`. */
  readonly url: string;
  readonly token: string;
  readonly store: PartitionStore;
  /** Where to keep it locally (usually the same ref as on the holder). */
  readonly ref: PartitionRef;
  readonly expectedSha256: string;
  readonly residencyClass: string | null;
  readonly maxBytes: number;
  /** Cancels the transfer; nothing is kept. */
  readonly signal?: AbortSignal;
}

export interface FetchedPartition {
  readonly sha256: string;
  readonly bytes: number;
  readonly durationMs: number;
}

const CODE_BY_STATUS: Readonly<Record<number, ErrorCode>> = {
  400: 'invalid_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 409: 'conflict', 413: 'payload_too_large',
};

/** Fetches the partition into `store`; rejects with an AtollError that says why when it cannot be had intact. */
export async function fetchPartition(options: FetchPartitionOptions): Promise<FetchedPartition> {
  const { url, ref, expectedSha256, maxBytes } = options;
  const what = `partition ${partitionId(ref)} from ${url}`;
  const started = performance.now();
  let response: Response;
  try {
    response = await fetch(url, { headers: { authorization: `Bearer ${options.token}` }, redirect: 'error', ...(options.signal ? { signal: options.signal } : {}) });
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason;
    throw new AtollError('unavailable', `could not reach the holder of ${what}: ${causeText(error)}; it is retried when the task is`, { cause: error });
  }
  if (!response.ok || response.body === null) {
    const message = await errorMessage(response);
    throw new AtollError(CODE_BY_STATUS[response.status] ?? 'unavailable', `the holder refused ${what} (HTTP ${response.status}): ${message}`);
  }
  // Cheap early refusals; the hash and byte count in the store are what actually decide.
  const advertised = response.headers.get('x-atoll-sha256');
  const length = Number(response.headers.get('content-length'));
  const early = advertised !== null && advertised !== expectedSha256
    ? new AtollError('conflict', `checksum mismatch: expected ${expectedSha256}, the holder of ${what} serves ${advertised}; the catalog or the holder is out of date, nothing was kept`)
    : length > maxBytes ? new AtollError('payload_too_large', `${what} has ${length} bytes, more than the ${maxBytes} this node accepts`) : undefined;
  if (early !== undefined) {
    await response.body.cancel().catch(() => undefined);
    throw early;
  }
  try {
    const stored = await options.store.put(ref, Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), {
      expectedSha256, maxBytes, residencyClass: options.residencyClass,
    });
    return { sha256: stored.sha256, bytes: stored.bytes, durationMs: Math.round(performance.now() - started) };
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason;
    if (error instanceof AtollError) throw error;
    throw new AtollError('unavailable', `the transfer of ${what} was cut (${causeText(error)}); nothing was kept`, { cause: error });
  }
}

async function errorMessage(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    const message = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
    if (typeof message === 'string') return message;
  } catch {
    // Not our JSON error (a proxy's page, say): the raw text says more than nothing.
  }
  return text.slice(0, 500) || response.statusText || 'no reason given';
}

function causeText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // fetch wraps the network error ("fetch failed"); the cause names it (ECONNREFUSED, ...).
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}
