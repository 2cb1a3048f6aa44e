import type { KeyObject } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../core/clock.js';
import { AtollError, HTTP_STATUS } from '../core/errors.js';
import { verifyDataToken } from '../protocol/data-token.js';
import { RELAY_CHUNK_BYTES, RELAY_WINDOW_BYTES, type AgentMessage } from '../protocol/messages.js';
import { parseRelayFrame, relayFrame } from '../protocol/relay-frame.js';
import type { AgentLink, AgentLinks } from './agent-links.js';

// Transfers to and from a node with no reachable data address, carried over its agent's
// WebSocket: a reader GETs (a client PUTs) /v1/data/relay/NS/DATASET/PARTITION here with the data
// token the control plane signed for that node, and the bytes cross the agent's connection as
// binary frames under credit-based flow control (see the relay messages in protocol/messages.ts).
// The token is checked here, so a stranger cannot open streams to an agent, and again by the
// agent, which alone knows what it holds and decides residency (defence in depth).

/** How long the holder has to answer an opened stream, and the longest a stream may then go without a byte or a credit, before it fails. */
const IDLE_TIMEOUT_MS = 15_000;
/** Relayed transfers open at once per node: each holds a file or an upload open on the agent. */
export const MAX_RELAYED_PER_NODE = 32;

type RelayReply = Extract<AgentMessage, { type: 'relay.reply' | 'relay.credit' | 'relay.end' | 'relay.cancel' }>;

export interface RelayTarget {
  readonly node: string;
  readonly link: AgentLink;
}

interface RelayedStream {
  readonly target: RelayTarget;
  readonly op: 'read' | 'write';
  readonly res: ServerResponse;
  /** The upload's body, for a write. */
  readonly req?: IncomingMessage;
  /** Bytes the other side may still send (read: the agent; write: this side). */
  credit: number;
  /** A read's size once the holder answered 200; bytes relayed so far. */
  expected: number;
  relayed: number;
  answered: boolean;
  timer: NodeJS.Timeout | undefined;
}

export class DataRelay {
  private nextId = 1;
  private readonly streams = new Map<number, RelayedStream>();

  /** Relayed transfers in progress. */
  get inProgress(): number {
    return this.streams.size;
  }

  constructor(
    private readonly links: AgentLinks,
    private readonly options: { readonly publicKey: KeyObject; readonly clock: Clock },
  ) {}

  /** The holder's connection, if `authorization` carries a valid token for `op` on `ref`; throws the refusal otherwise. */
  target(ref: { namespace: string; dataset: string; partition: string }, authorization: string | undefined, op: 'read' | 'write'): RelayTarget {
    const header = authorization ?? '';
    if (!header.startsWith('Bearer ')) throw new AtollError('unauthorized', 'missing data token: send `Authorization: Bearer <token>` from the control plane');
    const claims = verifyDataToken(header.slice(7), this.options.publicKey, this.options.clock.now());
    if (claims.namespace !== ref.namespace || claims.dataset !== ref.dataset || claims.partition !== ref.partition) {
      throw new AtollError('forbidden', `the token is for ${claims.namespace}/${claims.dataset}/${claims.partition}, not for this request`);
    }
    if (claims.op !== op) throw new AtollError('forbidden', `a ${claims.op} token does not allow a ${op}`);
    const link = this.links.get(claims.node);
    if (link === undefined) throw new AtollError('unavailable', `node ${claims.node} is not connected to the control plane; its data can be relayed once its agent is back`);
    const open = [...this.streams.values()].filter((s) => s.target.link === link).length;
    if (open >= MAX_RELAYED_PER_NODE) throw new AtollError('unavailable', `node ${claims.node} already has ${open} relayed transfers in progress; retry shortly`);
    return { node: claims.node, link };
  }

  /** Streams the holder's bytes into `res` (headers once the holder has checked the token itself). */
  read(target: RelayTarget, ref: { namespace: string; dataset: string; partition: string }, authorization: string, res: ServerResponse): void {
    const id = this.open(target, { op: 'read', res, credit: RELAY_WINDOW_BYTES });
    res.on('close', () => this.abandon(id, res, 'the reader hung up'));
    target.link.send({ type: 'relay.open', stream: id, op: 'read', ...ref, authorization });
  }

  /** Streams `req`'s body to the holder once it accepted the upload, and answers with what it stored. */
  write(target: RelayTarget, ref: { namespace: string; dataset: string; partition: string }, authorization: string, req: IncomingMessage, res: ServerResponse): void {
    const id = this.open(target, { op: 'write', res, req, credit: 0 });
    req.pause();
    req.on('data', (chunk: Buffer) => this.forward(id, chunk));
    req.on('end', () => {
      if (this.streams.get(id)?.req === req) target.link.send({ type: 'relay.end', stream: id });
    });
    res.on('close', () => this.abandon(id, res, 'the uploader hung up'));
    const declared = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
    target.link.send({ type: 'relay.open', stream: id, op: 'write', ...ref, authorization, ...(Number.isSafeInteger(declared) ? { bytes: declared } : {}) });
  }

  /** A relay message from `node`'s agent; one about a stream it does not carry is ignored. */
  onMessage(node: string, message: RelayReply): void {
    const stream = this.streams.get(message.stream);
    if (stream === undefined || stream.target.node !== node) {
      // A stream this side gave up on (timed out, client gone): the holder stops its end too.
      if (message.type !== 'relay.cancel' && stream === undefined) this.links.get(node)?.send({ type: 'relay.cancel', stream: message.stream, reason: 'no such relayed transfer here' });
      return;
    }
    this.touch(message.stream, stream);
    switch (message.type) {
      case 'relay.reply':
        return this.onReply(message.stream, stream, message);
      case 'relay.credit':
        if (stream.op !== 'write') return this.fail(message.stream, 'credit for a read');
        stream.credit += message.bytes;
        if (stream.credit > 0) stream.req?.resume();
        return;
      case 'relay.end':
        if (stream.op !== 'read' || !stream.answered || stream.relayed !== stream.expected) return this.fail(message.stream, `the holder ended after ${stream.relayed} of ${stream.expected} bytes`);
        this.forget(message.stream, stream);
        stream.res.end();
        return;
      case 'relay.cancel':
        return this.fail(message.stream, message.reason, false);
    }
  }

  /** A binary frame from `node`'s agent: bytes of a read being relayed. */
  onFrame(node: string, data: Buffer): void {
    const frame = parseRelayFrame(data);
    const stream = frame === undefined ? undefined : this.streams.get(frame.stream);
    if (frame === undefined || stream === undefined || stream.target.node !== node) return;
    const { payload } = frame;
    this.touch(frame.stream, stream);
    if (stream.op !== 'read' || !stream.answered) return this.fail(frame.stream, 'bytes before the holder accepted the read');
    if (payload.length > stream.credit) return this.fail(frame.stream, 'the holder sent more than its credit');
    if (stream.relayed + payload.length > stream.expected) return this.fail(frame.stream, `the holder sent more than the ${stream.expected} bytes it announced`);
    stream.credit -= payload.length;
    stream.relayed += payload.length;
    // Credit goes back once the reader's socket took the bytes: a slow reader slows the holder.
    stream.res.write(payload, (error) => {
      if (error === undefined || error === null) {
        if (this.streams.get(frame.stream) !== stream) return;
        this.touch(frame.stream, stream);
        stream.credit += payload.length;
        stream.target.link.send({ type: 'relay.credit', stream: frame.stream, bytes: payload.length });
      }
    });
  }

  /** The node's connection closed: its relayed transfers fail. */
  disconnected(link: AgentLink): void {
    for (const [id, stream] of this.streams) if (stream.target.link === link) this.fail(id, 'the holder\'s connection closed', false);
  }

  close(): void {
    for (const id of [...this.streams.keys()]) this.fail(id, 'the control plane is shutting down', false);
  }

  private open(target: RelayTarget, init: Pick<RelayedStream, 'op' | 'res' | 'req' | 'credit'>): number {
    const id = this.nextId;
    this.nextId = this.nextId >= 2 ** 32 - 1 ? 1 : this.nextId + 1;
    const stream: RelayedStream = { target, ...init, expected: 0, relayed: 0, answered: false, timer: undefined };
    this.streams.set(id, stream);
    this.touch(id, stream);
    return id;
  }

  /** The stream moved: its idle deadline starts again. */
  private touch(id: number, stream: RelayedStream): void {
    clearTimeout(stream.timer);
    stream.timer = setTimeout(() => this.fail(id, `node ${stream.target.node} sent nothing for ${IDLE_TIMEOUT_MS / 1000} s`), IDLE_TIMEOUT_MS);
  }

  private onReply(id: number, stream: RelayedStream, message: Extract<RelayReply, { type: 'relay.reply' }>): void {
    if (message.error !== undefined || message.status >= 300) {
      this.forget(id, stream);
      // After a 200 the body was under way: cutting it short is all that is left to say.
      if (stream.res.headersSent) stream.res.destroy();
      return answer(stream, message.status, { error: message.error ?? { code: 'internal', message: `the holder answered ${message.status}` } });
    }
    if (stream.op === 'write') {
      this.forget(id, stream);
      return answer(stream, 201, { sha256: message.sha256, bytes: message.bytes });
    }
    if (stream.answered || message.bytes === undefined || message.sha256 === undefined) return this.fail(id, 'the holder\'s answer to a read lacks its size or checksum');
    stream.answered = true;
    stream.expected = message.bytes;
    stream.res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(message.bytes), 'x-atoll-sha256': message.sha256 });
    if (message.bytes === 0) {
      this.forget(id, stream);
      stream.res.end();
    }
  }

  /** Upload bytes toward the holder, in frames of at most a chunk, pausing when credit runs out. */
  private forward(id: number, chunk: Buffer): void {
    const stream = this.streams.get(id);
    if (stream === undefined) return;
    this.touch(id, stream);
    for (let offset = 0; offset < chunk.length; offset += RELAY_CHUNK_BYTES) {
      stream.target.link.sendFrame(relayFrame(id, chunk.subarray(offset, offset + RELAY_CHUNK_BYTES)));
    }
    stream.credit -= chunk.length;
    if (stream.credit <= 0) stream.req?.pause();
  }

  /** The client went away before the transfer finished: the holder stops too. */
  private abandon(id: number, res: ServerResponse, reason: string): void {
    const stream = this.streams.get(id);
    if (stream === undefined || stream.res !== res) return;
    this.fail(id, reason);
  }

  /** Forgets a finished stream and its timer. */
  private forget(id: number, stream: RelayedStream): void {
    this.streams.delete(id);
    clearTimeout(stream.timer);
  }

  /**
   * Ends the stream: a request not yet answered gets 502/503 with the reason, one mid-body is cut
   * short (the reader's checksum catches it); the holder is told unless it is the one that quit.
   */
  private fail(id: number, reason: string, tellHolder = true): void {
    const stream = this.streams.get(id);
    if (stream === undefined) return;
    this.forget(id, stream);
    if (tellHolder) stream.target.link.send({ type: 'relay.cancel', stream: id, reason });
    if (stream.res.headersSent) stream.res.destroy();
    else answer(stream, HTTP_STATUS.unavailable, { error: { code: 'unavailable', message: `relayed transfer from node ${stream.target.node} failed: ${reason}` } });
  }
}

/** The final answer to a relayed request; an upload's unread body is not waited for. */
function answer(stream: RelayedStream, status: number, body: unknown): void {
  const { res } = stream;
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...(stream.req?.complete === false ? { connection: 'close' } : {}) });
  res.end(text);
}
