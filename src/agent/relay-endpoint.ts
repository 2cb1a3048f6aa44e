import { open, type FileHandle } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import type { Logger } from 'pino';
import { AtollError, HTTP_STATUS } from '../core/errors.js';
import { RELAY_CHUNK_BYTES, RELAY_FRAME_HEADER_BYTES, RELAY_WINDOW_BYTES, type AgentMessage, type ServerMessage } from '../protocol/messages.js';
import { parseRelayFrame } from '../protocol/relay-frame.js';
import type { PartitionAccess } from './partition-access.js';
import { checkRef } from './partition-store.js';

// The holder's end of transfers relayed through the control-plane connection (see the relay
// messages in src/protocol/messages.ts): reads stream a stored partition out as binary frames
// while the control plane grants credit; writes take frames into the store as they arrive and
// grant credit as the store consumes them. Tokens and residency are checked by PartitionAccess,
// exactly as for the agent's own data server.

type RelayMessage = Extract<ServerMessage, { type: 'relay.open' | 'relay.credit' | 'relay.end' | 'relay.cancel' }>;

export interface RelayEndpointOptions {
  readonly access: PartitionAccess;
  readonly send: (message: AgentMessage) => void;
  /** Resolves once the frame has left for the socket, so reads go at the link's pace and heartbeats are not queued behind megabytes of data. */
  readonly sendFrame: (frame: Buffer) => Promise<void>;
  readonly log: Logger;
}

interface OutgoingRead {
  readonly kind: 'read';
  /** Undefined while the file is being opened. */
  file: FileHandle | undefined;
  remaining: number;
  credit: number;
  pumping: boolean;
  closed: boolean;
}

interface IncomingWrite {
  readonly kind: 'write';
  readonly body: PassThrough;
}

export class RelayEndpoint {
  private readonly streams = new Map<number, OutgoingRead | IncomingWrite>();

  /** Relayed transfers in progress. */
  get inProgress(): number {
    return this.streams.size;
  }

  constructor(private readonly options: RelayEndpointOptions) {}

  handle(message: RelayMessage): void {
    switch (message.type) {
      case 'relay.open':
        void this.open(message).catch((error: unknown) => this.fail(message.stream, error));
        return;
      case 'relay.credit': {
        const stream = this.streams.get(message.stream);
        if (stream?.kind !== 'read') return;
        stream.credit += message.bytes;
        void this.pump(message.stream, stream);
        return;
      }
      case 'relay.end': {
        const stream = this.streams.get(message.stream);
        if (stream?.kind === 'write') stream.body.end();
        return;
      }
      case 'relay.cancel':
        this.drop(message.stream, message.reason);
        return;
    }
  }

  /** A binary frame from the control plane: bytes of an upload being relayed here. */
  frame(data: Buffer): void {
    const frame = parseRelayFrame(data);
    const stream = frame === undefined ? undefined : this.streams.get(frame.stream);
    if (frame === undefined || stream?.kind !== 'write') return;
    const size = frame.payload.length;
    // Granted back once the store has taken the bytes, so the control plane never runs ahead of the disk.
    stream.body.write(frame.payload, () => {
      if (this.streams.get(frame.stream) === stream) this.options.send({ type: 'relay.credit', stream: frame.stream, bytes: size });
    });
  }

  /** The connection closed: every relayed transfer stops (the control plane has failed its side). */
  closeAll(): void {
    for (const id of [...this.streams.keys()]) this.drop(id, 'the control-plane connection closed');
  }

  private async open(message: Extract<RelayMessage, { type: 'relay.open' }>): Promise<void> {
    const ref = { namespace: message.namespace, dataset: message.dataset, partition: message.partition };
    checkRef(ref);
    const { access } = this.options;
    const claims = access.authorize(message.authorization, ref, message.op);
    if (message.op === 'read') {
      const entry = access.readable(ref, claims);
      // Registered before the open, so a cancel that arrives meanwhile finds it and closes the file.
      const stream: OutgoingRead = { kind: 'read', file: undefined, remaining: entry.bytes, credit: RELAY_WINDOW_BYTES, pumping: false, closed: false };
      this.streams.set(message.stream, stream);
      const file = await open(access.objectPath(entry), 'r');
      if (stream.closed) {
        await file.close();
        return;
      }
      stream.file = file;
      this.options.send({ type: 'relay.reply', stream: message.stream, status: 200, sha256: entry.sha256, bytes: entry.bytes });
      await this.pump(message.stream, stream);
      return;
    }
    const body = new PassThrough();
    this.streams.set(message.stream, { kind: 'write', body });
    const stored = access.receive(ref, claims, body, message.bytes);
    // The first credit tells the control plane the upload was accepted and its bytes may come.
    this.options.send({ type: 'relay.credit', stream: message.stream, bytes: RELAY_WINDOW_BYTES });
    try {
      const entry = await stored;
      this.options.send({ type: 'relay.reply', stream: message.stream, status: 201, sha256: entry.sha256, bytes: entry.bytes });
    } finally {
      this.streams.delete(message.stream);
    }
  }

  /** Sends the partition's next chunks while credit lasts; ends the stream after the last. */
  private async pump(id: number, stream: OutgoingRead): Promise<void> {
    if (stream.pumping) return;
    stream.pumping = true;
    try {
      while (!stream.closed && stream.file !== undefined && stream.remaining > 0 && stream.credit > 0) {
        // Never more than the credit left: a short read earlier leaves it off the chunk grid.
        const size = Math.min(RELAY_CHUNK_BYTES, stream.remaining, stream.credit);
        const frame = Buffer.allocUnsafe(RELAY_FRAME_HEADER_BYTES + size);
        frame.writeUInt32BE(id, 0);
        const { bytesRead } = await stream.file.read(frame, RELAY_FRAME_HEADER_BYTES, size, null);
        if (bytesRead === 0) throw new Error('the partition file ended before its catalogued size');
        if (stream.closed) return;
        stream.remaining -= bytesRead;
        stream.credit -= bytesRead;
        await this.options.sendFrame(bytesRead === size ? frame : frame.subarray(0, RELAY_FRAME_HEADER_BYTES + bytesRead));
      }
      if (!stream.closed && stream.remaining === 0) {
        this.options.send({ type: 'relay.end', stream: id });
        this.drop(id);
      }
    } catch (error) {
      this.fail(id, error);
    } finally {
      stream.pumping = false;
    }
  }

  /** A refusal before any bytes went becomes the reply; a failure mid-stream cancels it. */
  private fail(id: number, error: unknown): void {
    const known = error instanceof AtollError;
    if (!known) this.options.log.error({ err: error, stream: id }, 'relayed transfer failed');
    const message = error instanceof Error ? error.message : String(error);
    const stream = this.streams.get(id);
    if (stream?.kind === 'read') {
      this.options.send({ type: 'relay.cancel', stream: id, reason: message.slice(0, 2000) });
      this.drop(id);
      return;
    }
    this.drop(id);
    this.options.send({
      type: 'relay.reply', stream: id, status: known ? HTTP_STATUS[error.code] : 500,
      error: { code: known ? error.code : 'internal', message: (known ? message : 'internal error').slice(0, 2000) },
    });
  }

  private drop(id: number, reason?: string): void {
    const stream = this.streams.get(id);
    if (stream === undefined) return;
    this.streams.delete(id);
    if (stream.kind === 'read') {
      stream.closed = true;
      void stream.file?.close().catch((error: unknown) => this.options.log.warn({ err: error }, 'could not close a relayed partition file'));
    } else if (reason !== undefined) {
      stream.body.destroy(new AtollError('unavailable', `the upload was cancelled: ${reason}`));
    }
  }
}
