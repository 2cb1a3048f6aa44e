import { createHash, type Hash } from 'node:crypto';
import { writeSync } from 'node:fs';
import { Worker, type MessagePort } from 'node:worker_threads';
import { WRITE_PIECE_BYTES } from './buffer-pool.js';

// sha256 of what a transfer receives, block by block. For a large partition the hashing runs on
// a worker thread (on the event loop it costs about 1.3 CPU-seconds per GiB that the socket then
// waits for), and the writing on a second one, so hashing and writing a block overlap: together
// on one thread they were the slowest stage of a 1 GiB fetch. Blocks live in SharedArrayBuffers
// (buffer-pool.ts), so both threads read a block where it is; the caller keeps it unchanged until
// its update settles. Both threads run the same code (blockWorkerMain).

/** Where an update also writes its bytes: an open file descriptor and the offset in the file. */
export interface BlockTarget {
  readonly fd: number;
  readonly position: number;
}

/** Hashes a stream of blocks in the order given. */
export interface BlockHasher {
  /** Whether `update` writes the block to a target too, so its caller does not. */
  readonly writes: boolean;
  /**
   * Adds the first `length` bytes of `block` (and, for a hasher that writes, writes them to
   * `target`); when a promise comes back, `block` must stay unchanged until it settles.
   */
  update(block: Uint8Array, length: number, target?: BlockTarget): Promise<void> | undefined;
  /** The hex sha256 of everything added; the hasher is spent afterwards. */
  digest(): Promise<string>;
  /** Gives up on the hash (a failed transfer); safe to call more than once or after digest. */
  dispose(): void;
}

/** From this size on a partition is hashed and written off the event loop; below it the hops to the workers cost more than they save. */
export const WORKER_HASH_MIN_BYTES = 8 << 20;

/** The hasher for a partition of `bytes` (the expected size, or the size on disk). */
export function hasherFor(bytes: number): BlockHasher {
  return bytes >= WORKER_HASH_MIN_BYTES ? workerHasher() : inlineHasher();
}

/** Hashes on the calling thread, and writes nothing. */
export function inlineHasher(): BlockHasher {
  const hash = createHash('sha256');
  return {
    writes: false,
    update(block, length) {
      hash.update(block.subarray(0, length));
      return undefined;
    },
    digest: () => Promise.resolve(hash.digest('hex')),
    dispose: () => undefined,
  };
}

type ToWorker =
  | {
      readonly id: number;
      readonly op: 'update';
      readonly memory: SharedArrayBuffer;
      readonly offset: number;
      readonly length: number;
      readonly hash: boolean;
      readonly target: BlockTarget | undefined;
    }
  | { readonly id: number; readonly op: 'digest' | 'drop' };

type FromWorker =
  | { readonly id: number; readonly op: 'updated' }
  | { readonly id: number; readonly op: 'digest'; readonly hex: string }
  | { readonly id: number; readonly op: 'failed'; readonly message: string };

/**
 * A worker's side: a sha256 per session id fed in message order, and writes in pieces of
 * `pieceBytes` (see WRITE_PIECE_BYTES). It runs from its source text (see BlockThread.start), so it
 * must not use anything from this module's scope, and defines no named functions (a bundler's
 * name-keeping helper would not exist in the worker).
 */
function blockWorkerMain(port: MessagePort, create: typeof createHash, write: typeof writeSync, pieceBytes: number): void {
  const hashes = new Map<number, Hash>();
  port.on('message', (message: ToWorker) => {
    try {
      if (message.op === 'update') {
        let hash = hashes.get(message.id);
        if (message.hash && hash === undefined) {
          hash = create('sha256');
          hashes.set(message.id, hash);
        }
        const bytes = new Uint8Array(message.memory, message.offset, message.length);
        if (message.hash) hash!.update(bytes);
        const target = message.target;
        for (let at = 0; target !== undefined && at < bytes.length; ) {
          // A write may be short (a signal, a nearly full disk): the rest follows.
          at += write(target.fd, bytes, at, Math.min(pieceBytes, bytes.length - at), target.position + at);
        }
        port.postMessage({ id: message.id, op: 'updated' } satisfies FromWorker);
      } else if (message.op === 'digest') {
        const hex = (hashes.get(message.id) ?? create('sha256')).digest('hex');
        hashes.delete(message.id);
        port.postMessage({ id: message.id, op: 'digest', hex } satisfies FromWorker);
      } else {
        hashes.delete(message.id);
      }
    } catch (error) {
      hashes.delete(message.id);
      port.postMessage({ id: message.id, op: 'failed', message: error instanceof Error ? error.message : String(error) } satisfies FromWorker);
    }
  });
}

interface Reply {
  readonly resolve: (hex: string | undefined) => void;
  readonly reject: (error: Error) => void;
}

interface Session {
  /** Replies still to come, in the order the requests went out. */
  readonly replies: Reply[];
  failure: Error | undefined;
}

/**
 * One worker thread shared by every large transfer of the process, started on first use. It holds
 * the process open only while a session is open; if it dies, the sessions in progress fail and the
 * next one starts a new worker.
 */
class BlockThread {
  private worker: Worker | undefined;
  private readonly sessions = new Map<number, Session>();

  constructor(private readonly name: string) {}

  begin(id: number): void {
    const worker = this.start();
    this.sessions.set(id, { replies: [], failure: undefined });
    if (this.sessions.size === 1) worker.ref();
  }

  /** Sends `message` for session `id`; settles with the worker's answer to it. */
  ask(id: number, message: ToWorker): Promise<string | undefined> {
    const session = this.sessions.get(id);
    if (session?.failure !== undefined) return Promise.reject(session.failure);
    if (session === undefined || this.worker === undefined) return Promise.reject(new Error('the hash was already finished or given up'));
    const worker = this.worker;
    return new Promise((resolve, reject) => {
      session.replies.push({ resolve, reject });
      worker.postMessage(message);
    });
  }

  /** Closes the session; with `drop`, also tells the worker to forget it and fails what still waits. */
  end(id: number, drop: boolean): void {
    const session = this.sessions.get(id);
    if (session === undefined) return;
    this.sessions.delete(id);
    if (drop) {
      for (const reply of session.replies.splice(0)) reply.reject(new Error('the hash was given up'));
      this.worker?.postMessage({ id, op: 'drop' } satisfies ToWorker);
    }
    if (this.sessions.size === 0) this.worker?.unref();
  }

  /** Stops the worker (tests: a worker that dies mid-transfer); sessions in progress fail. */
  async terminate(): Promise<void> {
    await this.worker?.terminate();
  }

  private start(): Worker {
    if (this.worker !== undefined) return this.worker;
    // From source text rather than a file: the same code runs from dist/ and from the TypeScript
    // sources under test, where no compiled module sits next to this one.
    const source = `const { parentPort } = require('node:worker_threads');\nconst { createHash } = require('node:crypto');\nconst { writeSync } = require('node:fs');\n(${blockWorkerMain.toString()})(parentPort, createHash, writeSync, ${WRITE_PIECE_BYTES});\n`;
    const worker = new Worker(source, { eval: true, name: this.name });
    worker.unref();
    worker.on('message', (message: FromWorker) => {
      const reply = this.sessions.get(message.id)?.replies.shift();
      if (reply === undefined) return;
      if (message.op === 'failed') reply.reject(new Error(`${this.name} failed on a block: ${message.message}`));
      else reply.resolve(message.op === 'digest' ? message.hex : undefined);
    });
    const die = (error: Error): void => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      for (const session of this.sessions.values()) {
        session.failure = error;
        for (const reply of session.replies.splice(0)) reply.reject(error);
      }
    };
    worker.on('error', (error) => die(new Error(`the ${this.name} worker failed: ${error.message}`, { cause: error })));
    worker.on('exit', (code) => die(new Error(`the ${this.name} worker exited (code ${code})`)));
    this.worker = worker;
    return worker;
  }
}

const hashing = new BlockThread('hash');
const writing = new BlockThread('write');
let nextSession = 1;

/** Hashes on one shared worker thread and writes to the target given on another, both reading each block at once. */
export function workerHasher(): BlockHasher {
  const id = nextSession++;
  hashing.begin(id);
  writing.begin(id);
  return {
    writes: true,
    async update(block, length, target) {
      let memory: SharedArrayBuffer;
      let offset = 0;
      if (block.buffer instanceof SharedArrayBuffer) {
        memory = block.buffer;
        offset = block.byteOffset;
      } else {
        // Not a pooled block: both workers get one shared copy.
        memory = new SharedArrayBuffer(length);
        new Uint8Array(memory).set(block.subarray(0, length));
      }
      const base = { id, op: 'update', memory, offset, length } as const;
      // Settled only when both are done with the block, so its memory and the file are free again.
      const [hashed, written] = await Promise.allSettled([
        hashing.ask(id, { ...base, hash: true, target: undefined }),
        target === undefined ? undefined : writing.ask(id, { ...base, hash: false, target }),
      ]);
      if (hashed.status === 'rejected') throw hashed.reason;
      if (written.status === 'rejected') throw written.reason;
    },
    async digest() {
      try {
        const hex = await hashing.ask(id, { id, op: 'digest' });
        if (hex === undefined) throw new Error('the hash worker answered a digest without one');
        return hex;
      } finally {
        // The hash worker forgot the session with its digest.
        hashing.end(id, false);
        writing.end(id, true);
      }
    },
    dispose() {
      hashing.end(id, true);
      writing.end(id, true);
    },
  };
}

/** For tests: stops the shared workers as if they had crashed. */
export async function terminateHashWorker(): Promise<void> {
  await Promise.all([hashing.terminate(), writing.terminate()]);
}
