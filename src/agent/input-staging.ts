import { createHash, randomBytes } from 'node:crypto';
import { constants, createWriteStream } from 'node:fs';
import { copyFile, mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AtollError } from '../core/errors.js';
import type { AttemptAssignment, AttemptInput } from '../protocol/messages.js';
import type { RunningAttempt } from './drivers/driver.js';
import { notStarted } from './drivers/exec-driver.js';
import { checkRef, type PartitionStore } from './partition-store.js';

// Before a task that reads data starts, its partitions are put in $ATOLL_INPUT_DIR/<dataset>/
// <partition>: copied from this node's store when it holds them, else fetched from the holder
// with the read token the control plane signed, hashed on the way and refused on a mismatch.

/** A partition that moved over the network for an attempt, for the transfer ledger. */
export interface Transfer {
  readonly input: AttemptInput;
  readonly bytes: number;
  readonly durationMs: number;
}

/** Fills `inputDir`; rejects with a reason for the task when an input cannot be had intact. */
export async function stageInputs(options: {
  readonly inputs: readonly AttemptInput[];
  readonly inputDir: string;
  readonly nodeName: string;
  readonly store: PartitionStore;
  readonly signal: AbortSignal;
  readonly onTransfer: (transfer: Transfer) => void;
}): Promise<void> {
  for (const input of options.inputs) {
    options.signal.throwIfAborted();
    // The names become paths on this node: never trust them to stay inside the input dir.
    checkRef(input);
    const dir = join(options.inputDir, input.dataset);
    await mkdir(dir, { recursive: true });
    const dest = join(dir, input.partition);
    if (input.node === options.nodeName) {
      const held = options.store.get(input);
      if (held?.sha256 !== input.sha256) throw new AtollError('conflict', `input ${input.dataset}/${input.partition} is not in this node's store as catalogued (sha256 ${input.sha256})`);
      // A copy (a reflink where the file system can), so a task that writes to it cannot harm the store.
      await copyFile(options.store.objectPath(held.sha256), dest, constants.COPYFILE_FICLONE);
      continue;
    }
    if (input.url === null || input.token === null) throw new AtollError('unavailable', `input ${input.dataset}/${input.partition} is on ${input.node}, which serves no data address`);
    const started = performance.now();
    const bytes = await fetchTo(input.url, input.token, dest, { sha256: input.sha256, bytes: input.bytes }, options.signal);
    options.onTransfer({ input, bytes, durationMs: Math.round(performance.now() - started) });
  }
}

/** Every fetch gets at least this long, plus a second per megabyte: a stalled holder cannot hold an attempt for ever. */
const FETCH_BASE_MS = 60_000;
const FETCH_MS_PER_MB = 1000;
/** The most of a refusal's body read: the holder's message, not whatever a hostile peer sends. */
const MAX_ERROR_BODY_BYTES = 4096;

/**
 * Streams the partition into `dest`, checking its size and sha256 as it comes; nothing is left at
 * `dest` unless both match. Redirects are refused, so the token goes to the holder and nowhere else.
 */
export async function fetchTo(url: string, token: string, dest: string, expected: { readonly sha256: string; readonly bytes: number }, signal: AbortSignal): Promise<number> {
  const deadline = AbortSignal.timeout(Math.ceil(FETCH_BASE_MS + (expected.bytes / 1e6) * FETCH_MS_PER_MB));
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` }, redirect: 'error', signal: AbortSignal.any([signal, deadline]) });
  if (!response.ok || response.body === null) {
    const text = await readAtMost(response, MAX_ERROR_BODY_BYTES);
    const message = (parseError(text) ?? text.slice(0, 500)) || `HTTP ${response.status}`;
    throw new AtollError(response.status === 403 ? 'forbidden' : 'unavailable', `the holder refused: ${message}`);
  }
  const partial = `${dest}.${randomBytes(4).toString('hex')}.partial`;
  const hash = createHash('sha256');
  let bytes = 0;
  const measure = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      if (bytes > expected.bytes) {
        done(new AtollError('conflict', `the holder sent more than the ${expected.bytes} bytes catalogued; the transfer was stopped`));
        return;
      }
      hash.update(chunk);
      done(null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>), measure, createWriteStream(partial));
    const sha256 = hash.digest('hex');
    if (sha256 !== expected.sha256) throw new AtollError('conflict', `checksum mismatch: expected sha256 ${expected.sha256}, got ${sha256}; the bytes were altered or cut on the way`);
    await rename(partial, dest);
    return bytes;
  } finally {
    await rm(partial, { force: true });
  }
}

/** Up to `limit` bytes of the body as text; the rest is not read. */
async function readAtMost(response: Response, limit: number): Promise<string> {
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < limit) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.length;
  }
  await reader.cancel();
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
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
