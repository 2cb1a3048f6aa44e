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
import type { PartitionStore } from './partition-store.js';

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
    const bytes = await fetchTo(input.url, input.token, dest, input.sha256, options.signal);
    options.onTransfer({ input, bytes, durationMs: Math.round(performance.now() - started) });
  }
}

/** Streams the partition into `dest`, checking its sha256; nothing is left at `dest` unless it matches. */
export async function fetchTo(url: string, token: string, dest: string, expectedSha256: string, signal: AbortSignal): Promise<number> {
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal });
  if (!response.ok || response.body === null) {
    const text = await response.text();
    const message = (parseError(text) ?? text.slice(0, 500)) || `HTTP ${response.status}`;
    throw new AtollError(response.status === 403 ? 'forbidden' : 'unavailable', `the holder refused: ${message}`);
  }
  const partial = `${dest}.${randomBytes(4).toString('hex')}.partial`;
  const hash = createHash('sha256');
  let bytes = 0;
  const measure = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      hash.update(chunk);
      done(null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>), measure, createWriteStream(partial));
    const sha256 = hash.digest('hex');
    if (sha256 !== expectedSha256) throw new AtollError('conflict', `checksum mismatch: expected sha256 ${expectedSha256}, got ${sha256}; the bytes were altered or cut on the way`);
    await rename(partial, dest);
    return bytes;
  } finally {
    await rm(partial, { force: true });
  }
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
