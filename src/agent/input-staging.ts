import { randomBytes } from 'node:crypto';
import { constants, createWriteStream } from 'node:fs';
import { copyFile, mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { pipeline } from 'node:stream/promises';
import { AtollError } from '../core/errors.js';
import type { AttemptAssignment, AttemptInput } from '../protocol/messages.js';
import type { RunningAttempt } from './drivers/driver.js';
import { notStarted } from './drivers/exec-driver.js';
import { hashingMeter } from './hashing-meter.js';
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

/** Inputs fetched at once: small partitions are bound by per-request latency, not bandwidth. */
const PARALLEL_FETCHES = 8;

/** Fills `inputDir`; rejects with a reason for the task when an input cannot be had intact. */
export async function stageInputs(options: {
  readonly inputs: readonly AttemptInput[];
  readonly inputDir: string;
  readonly nodeName: string;
  /** The control plane's URL: an input relayed through it has a path on it as its URL. */
  readonly serverUrl: string;
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
  const bytes = await fetchTo(new URL(input.url, options.serverUrl).href, input.token, dest, { sha256: input.sha256, bytes: input.bytes }, options.signal);
  options.onTransfer({ input, bytes, durationMs: Math.round(performance.now() - started) });
}

/** Every fetch gets at least this long, plus a second per megabyte: a stalled holder cannot hold an attempt for ever. */
const FETCH_BASE_MS = 60_000;
const FETCH_MS_PER_MB = 1000;
/** The most of a refusal's body read: the holder's message, not whatever a hostile peer sends. */
const MAX_ERROR_BODY_BYTES = 4096;

/**
 * Streams the partition into `dest`, checking its size and sha256 as it comes; nothing is left at
 * `dest` unless both match. Redirects are refused, so the token goes to the holder and nowhere
 * else. node:http rather than fetch: on this path fetch's web streams cost about twice the CPU.
 */
export async function fetchTo(url: string, token: string, dest: string, expected: { readonly sha256: string; readonly bytes: number }, signal: AbortSignal): Promise<number> {
  const deadline = AbortSignal.timeout(Math.ceil(FETCH_BASE_MS + (expected.bytes / 1e6) * FETCH_MS_PER_MB));
  const stop = AbortSignal.any([signal, deadline]);
  const response = await get(url, token, stop);
  if (response.statusCode !== 200) {
    const text = await readAtMost(response, MAX_ERROR_BODY_BYTES);
    const message = (parseError(text) ?? text.slice(0, 500)) || `HTTP ${response.statusCode}`;
    throw new AtollError(response.statusCode === 403 ? 'forbidden' : 'unavailable', `the holder refused: ${message}`);
  }
  const partial = `${dest}.${randomBytes(4).toString('hex')}.partial`;
  const meter = hashingMeter(expected.bytes, () => new AtollError('conflict', `the holder sent more than the ${expected.bytes} bytes catalogued; the transfer was stopped`));
  let kept = false;
  try {
    await pipeline(response, meter.stream, createWriteStream(partial, { highWaterMark: 1 << 20 }), { signal: stop });
    const sha256 = meter.sha256();
    if (sha256 !== expected.sha256) throw new AtollError('conflict', `checksum mismatch: expected sha256 ${expected.sha256}, got ${sha256}; the bytes were altered or cut on the way`);
    await rename(partial, dest);
    kept = true;
    return meter.bytes();
  } finally {
    if (!kept) await rm(partial, { force: true });
  }
}

/** The holder's answer to a GET with the token; rejects if the connection fails or `signal` aborts first. */
function get(url: string, token: string, signal: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(target, { headers: { authorization: `Bearer ${token}` }, signal }, resolve);
    req.on('error', (error) => reject(new AtollError('unavailable', `could not fetch from ${target.origin}: ${error.message}`, { cause: error })));
    req.end();
  });
}

/** Up to `limit` bytes of the body as text; the rest is not read. */
async function readAtMost(response: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response) {
    chunks.push(chunk as Buffer);
    size += (chunk as Buffer).length;
    if (size >= limit) break;
  }
  response.destroy();
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
