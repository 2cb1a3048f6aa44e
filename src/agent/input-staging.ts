import { createHash, randomBytes } from 'node:crypto';
import { constants, renameSync, rmSync, writeFileSync } from 'node:fs';
import { copyFile, mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { AtollError } from '../core/errors.js';
import type { AttemptAssignment, AttemptInput } from '../protocol/messages.js';
import { BlockWriter } from './block-writer.js';
import { SMALL_FILE_BYTES } from './file-io.js';
import type { RunningAttempt } from './drivers/driver.js';
import { notStarted } from './drivers/exec-driver.js';
import { hasherFor } from './hash-worker.js';
import type { HttpGetResponse, PeerTrust } from './http-get.js';
import { nodeHttpGet } from './node-http-get.js';
import { checkRef, type PartitionStore } from './partition-store.js';
import { plainHttpGet } from './plain-http-get.js';

// Before a task that reads data starts, its partitions are put in $ATOLL_INPUT_DIR/<dataset>/
// <partition>: copied from this node's store when it holds them, else fetched from the holder
// with the read token the control plane signed, hashed on the way and refused on a mismatch.

/** A partition that moved over the network for an attempt, for the transfer ledger. */
export interface Transfer {
  readonly input: AttemptInput;
  readonly bytes: number;
  readonly durationMs: number;
}

/** Inputs fetched at once: small partitions are bound by per-request latency, not bandwidth. */
const PARALLEL_FETCHES = 8;

/** Fills `inputDir`; rejects with a reason for the task when an input cannot be had intact. */
export async function stageInputs(options: {
  readonly inputs: readonly AttemptInput[];
  readonly inputDir: string;
  readonly nodeName: string;
  /** The control plane's URL: an input relayed through it has a path on it as its URL. */
  readonly serverUrl: string;
  /** The cluster CA, trusted for the relay when the control plane serves https. */
  readonly serverCa?: string | undefined;
  /** The data CA, trusted for holders' data servers (https in a TLS fleet). */
  readonly dataCa?: string | undefined;
  readonly store: PartitionStore;
  readonly signal: AbortSignal;
  readonly onTransfer: (transfer: Transfer) => void;
}): Promise<void> {
  // Checked up front: the names become paths on this node and must stay inside the input dir.
  for (const input of options.inputs) checkRef(input);
  for (const dataset of new Set(options.inputs.map((i) => i.dataset))) await mkdir(join(options.inputDir, dataset), { recursive: true });
  // The first failure stops the other fetches; every worker has stopped before this returns, so the
  // caller may clear the input dir without a fetch still writing into it.
  const halt = new AbortController();
  const signal = AbortSignal.any([options.signal, halt.signal]);
  let next = 0;
  const worker = async (): Promise<void> => {
    try {
      while (next < options.inputs.length) {
        signal.throwIfAborted();
        await stageOne(options.inputs[next++]!, { ...options, signal });
      }
    } catch (error) {
      halt.abort(error);
      throw error;
    }
  };
  const outcomes = await Promise.allSettled(Array.from({ length: Math.min(PARALLEL_FETCHES, options.inputs.length) }, worker));
  const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  // The input that failed first says why; the others only stopped because of it.
  if (failed !== undefined) throw halt.signal.aborted ? halt.signal.reason : failed.reason;
}

async function stageOne(input: AttemptInput, options: Parameters<typeof stageInputs>[0]): Promise<void> {
  const dest = join(options.inputDir, input.dataset, input.partition);
  if (input.node === options.nodeName) {
    const held = options.store.get(input);
    if (held?.sha256 !== input.sha256) throw new AtollError('conflict', `input ${input.dataset}/${input.partition} is not in this node's store as catalogued (sha256 ${input.sha256})`);
    // A copy (a reflink where the file system can), so a task that writes to it cannot harm the store.
    await copyFile(options.store.objectPath(held.sha256), dest, constants.COPYFILE_FICLONE);
    return;
  }
  if (input.url === null || input.token === null) throw new AtollError('unavailable', `input ${input.dataset}/${input.partition} is on ${input.node}, which the control plane gave no way to reach`);
  const started = performance.now();
  const url = new URL(input.url, options.serverUrl);
  // A path on the control plane is the relay; anything else is the holder's own data server, which must prove it is that node.
  const relayed = url.origin === new URL(options.serverUrl).origin;
  const ca = relayed ? options.serverCa : options.dataCa;
  const trust = ca === undefined ? undefined : { ca, ...(relayed ? {} : { node: input.node }) };
  const bytes = await fetchTo(url.href, input.token, dest, { sha256: input.sha256, bytes: input.bytes }, options.signal, trust);
  options.onTransfer({ input, bytes, durationMs: Math.round(performance.now() - started) });
}

/** Every fetch gets at least this long, plus a second per megabyte: a stalled holder cannot hold an attempt for ever. */
const FETCH_BASE_MS = 60_000;
const FETCH_MS_PER_MB = 1000;
/** The most of a refusal's body read: the holder's message, not whatever a hostile peer sends. */
const MAX_ERROR_BODY_BYTES = 4096;
/** From this size on a partition comes over the lean client: per-byte costs outweigh a kept-alive connection. */
const LEAN_GET_MIN_BYTES = 8 << 20;

/**
 * Fetches the partition into `dest`, checking its size and sha256; nothing is left at `dest` unless
 * both match. Redirects are refused, so the token goes to the holder and nowhere else. Three paths
 * by size: a small one is checked in memory and written whole; a larger one goes through the block
 * writer, hashed as it comes; from 8 MiB on it comes over the lean client, straight into the
 * writer's blocks, hashed on one worker thread and written from another.
 */
export async function fetchTo(url: string, token: string, dest: string, expected: { readonly sha256: string; readonly bytes: number }, signal: AbortSignal, trust?: PeerTrust): Promise<number> {
  const limitMs = Math.ceil(FETCH_BASE_MS + (expected.bytes / 1e6) * FETCH_MS_PER_MB);
  const deadline = AbortSignal.timeout(limitMs);
  const stop = AbortSignal.any([signal, deadline]);
  const target = new URL(url);
  const get = expected.bytes >= LEAN_GET_MIN_BYTES && target.protocol === 'http:' ? plainHttpGet : nodeHttpGet;
  const tooLarge = () => new AtollError('conflict', `the holder sent more than the ${expected.bytes} bytes catalogued; the transfer was stopped`);
  let response: HttpGetResponse | undefined;
  try {
    response = await get(target, { authorization: `Bearer ${token}` }, stop, trust);
    if (response.status !== 200) throw await refusal(response);
    if (response.contentLength !== null && response.contentLength > expected.bytes) throw tooLarge();
    if (expected.bytes <= SMALL_FILE_BYTES) return await keepSmall(response, dest, expected, tooLarge);
    const partial = `${dest}.${randomBytes(4).toString('hex')}.partial`;
    const writer = await BlockWriter.create(partial, { hasher: hasherFor(expected.bytes), limit: expected.bytes, tooLarge });
    let kept = false;
    try {
      await response.readBody(writer);
      const { bytes, sha256 } = await writer.finish();
      if (sha256 !== expected.sha256) throw mismatch(expected.sha256, sha256);
      await writer.close();
      await rename(partial, dest);
      kept = true;
      return bytes;
    } finally {
      if (!kept) await writer.discard();
    }
  } catch (error) {
    // Stopped from outside: the caller's reason, or the deadline's, says more than a broken connection.
    if (signal.aborted) throw signal.reason;
    if (deadline.aborted) throw new AtollError('unavailable', `the fetch from ${target.origin} did not finish within ${limitMs} ms`, { cause: error });
    throw error;
  } finally {
    response?.close();
  }
}

/** A small partition's body, read into memory and checked before any byte reaches the disk, then written whole (see SMALL_FILE_BYTES). */
async function keepSmall(response: HttpGetResponse, dest: string, expected: { readonly sha256: string; readonly bytes: number }, tooLarge: () => AtollError): Promise<number> {
  const body = Buffer.allocUnsafe(expected.bytes);
  let size = 0;
  await response.readBody({
    write(chunk) {
      if (size + chunk.length > body.length) throw tooLarge();
      body.set(chunk, size);
      size += chunk.length;
      return undefined;
    },
  });
  const sha256 = createHash('sha256').update(body.subarray(0, size)).digest('hex');
  if (sha256 !== expected.sha256) throw mismatch(expected.sha256, sha256);
  const partial = `${dest}.${randomBytes(4).toString('hex')}.partial`;
  try {
    writeFileSync(partial, body.subarray(0, size), { flag: 'wx' });
    renameSync(partial, dest);
  } catch (error) {
    rmSync(partial, { force: true });
    throw error;
  }
  return size;
}

function mismatch(expected: string, got: string): AtollError {
  return new AtollError('conflict', `checksum mismatch: expected sha256 ${expected}, got ${got}; the bytes were altered or cut on the way`);
}

/** Why the holder did not send the partition, in its own words where it gave them. */
async function refusal(response: HttpGetResponse): Promise<AtollError> {
  if (response.status >= 300 && response.status < 400) {
    return new AtollError('unavailable', `the holder answered with a redirect (HTTP ${response.status} to ${response.location ?? 'nowhere'}); redirects are not followed, so the token goes to the holder only`);
  }
  // An unreadable refusal is still a refusal: its status says enough.
  const text = await response.readText(MAX_ERROR_BODY_BYTES).catch(() => '');
  const message = (parseError(text) ?? text.slice(0, 500)) || `HTTP ${response.status}`;
  return new AtollError(response.status === 403 ? 'forbidden' : 'unavailable', `the holder refused: ${message}`);
}

function parseError(text: string): string | undefined {
  try {
    return (JSON.parse(text) as { error?: { message?: string } }).error?.message;
  } catch {
    // The holder answered with something other than its JSON error: the raw text says more.
    return undefined;
  }
}

/**
 * The attempt as the agent tracks it: inputs are staged first, then the driver starts it. A
 * cancel during staging stops the fetches and reports the attempt cancelled, never started.
 */
export function withStagedInputs(assignment: AttemptAssignment, stage: (signal: AbortSignal) => Promise<void>, start: () => RunningAttempt): RunningAttempt {
  const halt = new AbortController();
  let inner: RunningAttempt | undefined;
  let cancelled: string | null = null;
  const result = stage(halt.signal).then(
    () => {
      if (cancelled !== null) return notStarted('cancelled', cancelled);
      inner = start();
      return inner.result;
    },
    (error: unknown) => {
      if (cancelled !== null) return notStarted('cancelled', cancelled);
      return notStarted('failed', `could not stage the task's inputs: ${error instanceof Error ? error.message : String(error)}`);
    },
  );
  return {
    attemptId: assignment.attemptId,
    result,
    cancel(reason: string) {
      cancelled ??= reason;
      halt.abort(new Error(reason));
      inner?.cancel(reason);
    },
  };
}
