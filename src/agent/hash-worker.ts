import { createHash, type Hash } from 'node:crypto';
import { writeSync } from 'node:fs';
import { Worker, type MessagePort } from 'node:worker_threads';

// sha256 of what a transfer receives, block by block. For a large partition the hashing runs on
// a worker thread: on the event loop it costs about 1.3 CPU-seconds per GiB that the socket then
// waits for. The worker also writes each block to the file right after hashing it, while the
// block is in its cache: measured on loopback, that beat hashing there and writing from the
// thread pool (a second thread reading each block), and hashing on the event loop. Blocks live in
// SharedArrayBuffers (buffer-pool.ts), so the worker reads them where they are; the caller keeps
// a block unchanged until its update settles.

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

/** From this size on a partition is hashed (and written) off the event loop; below it the hop to the worker costs more than it saves. */
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

/**
 * How much of a block the worker hashes before writing it. Measured here: hashing 1 GiB and
 * writing it in 1 MiB pieces cost 1.3-2.5 s of kernel time in the writes, in 128 KiB pieces
 * 0.2-0.6 s (the writes alone, 0.3 s); the cliff was between 256 and 512 KiB. A piece that was
 * just hashed is still in the core's cache when the kernel copies it into the page cache.
 */
const PIECE_BYTES = 128 * 1024;

type ToWorker =
  | { readonly id: number; readonly op: 'update'; readonly memory: SharedArrayBuffer | ArrayBuffer; readonly offset: number; readonly length: number; readonly target: BlockTarget | undefined }
  | { readonly id: number; readonly op: 'digest' | 'drop' };

type FromWorker =
  | { readonly id: number; readonly op: 'updated' }
  | { readonly id: number; readonly op: 'digest'; readonly hex: string }
  | { readonly id: number; readonly op: 'failed'; readonly message: string };

/**
 * The worker's side: one sha256 per session id, fed in message order. It runs from its source
 * text (see spawn), so it must not use anything from this module's scope, and defines no named
 * functions (a bundler's name-keeping helper would not exist in the worker).
 */
function hashWorkerMain(port: MessagePort, create: typeof createHash, write: typeof writeSync, pieceBytes: number): void {
  const hashes = new Map<number, Hash>();
  port.on('message', (message: ToWorker) => {
    try {
      if (message.op === 'update') {
        let hash = hashes.get(message.id);
        if (hash === undefined) {
          hash = create('sha256');
          hashes.set(message.id, hash);
        }
        const bytes = new Uint8Array(message.memory, message.offset, message.length);
        const target = message.target;
        // Piece by piece, each written right after it is hashed (see PIECE_BYTES).
        for (let at = 0; at < bytes.length; at += pieceBytes) {
          const piece = bytes.subarray(at, Math.min(at + pieceBytes, bytes.length));
          hash.update(piece);
          // A write may be short (a signal, a nearly full disk): the rest follows.
          for (let done = 0; target !== undefined && done < piece.length; ) done += write(target.fd, piece, done, piece.length - done, target.position + at + done);
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
 * One worker thread shared by every hashing transfer of the process, started on first use. It
 * holds the process open only while a hash is in progress; if it dies, the hashes in progress
 * fail and the next one starts a new worker.
 */
class HashWorkerThread {
  private worker: Worker | undefined;
  private readonly sessions = new Map<number, Session>();
  private nextId = 1;

  open(): BlockHasher {
    const worker = this.start();
    const id = this.nextId++;
    const session: Session = { replies: [], failure: undefined };
    this.sessions.set(id, session);
    if (this.sessions.size === 1) worker.ref();
    const end = (): void => {
      if (!this.sessions.delete(id)) return;
      // Nothing waits for answers to a hash given up (the worker's, if any, are dropped).
      for (const reply of session.replies.splice(0)) reply.reject(new Error('the hash was given up'));
      if (this.worker === worker) {
        worker.postMessage({ id, op: 'drop' } satisfies ToWorker);
        if (this.sessions.size === 0) worker.unref();
      }
    };
    const ask = (message: ToWorker, transfer: ArrayBuffer[] = []): Promise<string | undefined> => {
      if (session.failure !== undefined) return Promise.reject(session.failure);
      if (!this.sessions.has(id)) return Promise.reject(new Error('the hash was already finished or given up'));
      return new Promise((resolve, reject) => {
        session.replies.push({ resolve, reject });
        worker.postMessage(message, transfer);
      });
    };
    return {
      writes: true,
      update: async (block, length, target) => {
        if (block.buffer instanceof SharedArrayBuffer) {
          await ask({ id, op: 'update', memory: block.buffer, offset: block.byteOffset, length, target });
          return;
        }
        // Not a pooled block: the worker gets its own copy of the bytes.
        const copy = new Uint8Array(block.subarray(0, length)).buffer;
        await ask({ id, op: 'update', memory: copy, offset: 0, length, target }, [copy]);
      },
      digest: async () => {
        try {
          const hex = await ask({ id, op: 'digest' });
          if (hex === undefined) throw new Error('the hash worker answered a digest without one');
          return hex;
        } finally {
          // The worker forgot the session with its digest; only this side is left to clear.
          if (this.sessions.delete(id) && this.sessions.size === 0 && this.worker === worker) worker.unref();
        }
      },
      dispose: end,
    };
  }

  private start(): Worker {
    if (this.worker !== undefined) return this.worker;
    // From source text rather than a file: the same code runs from dist/ and from the TypeScript
    // sources under test, where no compiled hash-worker.js sits next to this module.
    const source = `const { parentPort } = require('node:worker_threads');\nconst { createHash } = require('node:crypto');\nconst { writeSync } = require('node:fs');\n(${hashWorkerMain.toString()})(parentPort, createHash, writeSync, ${PIECE_BYTES});\n`;
    const worker = new Worker(source, { eval: true, name: 'atoll-hash' });
    worker.unref();
    worker.on('message', (message: FromWorker) => {
      const session = this.sessions.get(message.id);
      const reply = session?.replies.shift();
      if (reply === undefined) return;
      if (message.op === 'failed') reply.reject(new Error(`hashing or writing a block failed: ${message.message}`));
      else reply.resolve(message.op === 'digest' ? message.hex : undefined);
    });
    const die = (error: Error): void => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      for (const session of this.sessions.values()) {
        session.failure = error;
        for (const reply of session.replies.splice(0)) reply.reject(error);
      }
      this.sessions.clear();
    };
    worker.on('error', (error) => die(new Error(`the hash worker failed: ${error.message}`, { cause: error })));
    worker.on('exit', (code) => die(new Error(`the hash worker exited (code ${code})`)));
    this.worker = worker;
    return worker;
  }

  /** Stops the worker (tests: a worker that dies mid-hash); hashes in progress fail. */
  async terminate(): Promise<void> {
    await this.worker?.terminate();
  }
}

const thread = new HashWorkerThread();

/** Hashes, and writes to the target given, on the shared worker thread. */
export function workerHasher(): BlockHasher {
  return thread.open();
}

/** For tests: stops the shared worker as if it had crashed. */
export function terminateHashWorker(): Promise<void> {
  return thread.terminate();
}
