import { connect, type Socket } from 'node:net';
import { AtollError } from '../core/errors.js';
import { cutShort, unreachable, type BodySink, type HttpGet, type HttpGetResponse } from './http-get.js';

// A GET for large partitions on a raw TCP socket: one request per connection (`Connection: close`),
// a body framed by Content-Length only (no chunked encoding), no redirects. It reads the status
// line and the few headers it needs, then has the kernel put the body straight into the sink's
// blocks (the socket's `onread` buffer is asked for before each read), so the bytes are copied once
// on their way to the block writer: node:http's parser, stream and per-chunk allocations cost more
// CPU than moving the bytes. http: only; https goes through node-http-get.ts.

/** The most a response head may take; a holder's is a few hundred bytes. */
const MAX_HEAD_BYTES = 16 * 1024;
/** Reads that do not go into the sink's memory (the head, an error text) land here. */
const SCRATCH_BYTES = 64 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');

export const plainHttpGet: HttpGet = (url, headers, signal) => {
  if (url.protocol !== 'http:') return Promise.reject(new AtollError('invalid_request', `plain GET speaks http only, not ${url.protocol}`));
  return new Promise((resolve, reject) => new PlainGet(url, headers, signal, resolve, reject));
};

interface Head {
  readonly status: number;
  readonly contentLength: number | null;
  readonly location: string | null;
  readonly chunked: boolean;
}

type Phase =
  | { readonly name: 'head'; readonly resolve: (response: HttpGetResponse) => void; readonly reject: (error: Error) => void; readonly bytes: Buffer[] }
  | { readonly name: 'idle' }
  | { readonly name: 'body'; readonly sink: BodySink; readonly limit: number; readonly toEnd: boolean; readonly resolve: () => void; readonly reject: (error: Error) => void }
  | { readonly name: 'done' };

class PlainGet implements HttpGetResponse {
  status = 0;
  contentLength: number | null = null;
  location: string | null = null;
  private chunked = false;
  private phase: Phase;
  private readonly socket: Socket;
  private readonly scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
  /** Body bytes that came with the head, handed on once the body is asked for. */
  private early: Buffer | null = null;
  private received = 0;
  /** Why the connection ended early, once it has. */
  private failure: Error | undefined;
  private readonly onAbort: () => void;

  constructor(
    private readonly url: URL,
    headers: Readonly<Record<string, string>>,
    private readonly signal: AbortSignal,
    resolve: (response: HttpGetResponse) => void,
    reject: (error: Error) => void,
  ) {
    this.phase = { name: 'head', resolve, reject, bytes: [] };
    const lines = [`GET ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`, 'Connection: close', ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)];
    if (lines.some((line) => /[\r\n]/.test(line))) throw new AtollError('invalid_request', 'a request header holds a line break');
    this.onAbort = () => this.fail(this.signal.reason instanceof Error ? this.signal.reason : new Error(String(this.signal.reason)));
    this.socket = connect({
      host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: Number(url.port || 80),
      noDelay: true,
      onread: { buffer: () => this.nextReadTarget(), callback: (n, target) => this.onRead(n, target) },
    });
    this.socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    this.socket.on('end', () => this.onEnd());
    this.socket.on('error', (error) => this.fail(unreachable(url, error)));
    if (signal.aborted) this.onAbort();
    else signal.addEventListener('abort', this.onAbort, { once: true });
  }

  readBody(sink: BodySink): Promise<number> {
    if (this.chunked) return Promise.reject(new AtollError('unavailable', `${this.url.origin} sent a chunked body; a partition must come with a Content-Length`));
    if (this.contentLength === null) return Promise.reject(new AtollError('unavailable', `${this.url.origin} sent no Content-Length; a partition must come with one`));
    return this.read(sink, this.contentLength, false).then(() => this.received);
  }

  async readText(limit: number): Promise<string> {
    // Without a Content-Length the body runs to the connection's end (asked for with `Connection: close`);
    // a chunked one is unframed after: its framing counts against the limit too.
    const want = Math.min(limit, this.contentLength ?? limit);
    const chunks: Buffer[] = [];
    await this.read({ write: (chunk) => void chunks.push(Buffer.from(chunk)) }, want, this.contentLength === null);
    this.close();
    const body = Buffer.concat(chunks);
    return (this.chunked ? unchunk(body) : body).subarray(0, limit).toString('utf8');
  }

  close(): void {
    if (this.phase.name !== 'done') this.fail(new Error('the response was closed'));
  }

  private read(sink: BodySink, limit: number, toEnd: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.phase.name !== 'idle') {
        reject(this.failure ?? new Error('the body was already read'));
        return;
      }
      this.phase = { name: 'body', sink, limit, toEnd, resolve, reject };
      const early = this.early;
      this.early = null;
      if ((early === null || this.take(early)) && this.phase.name === 'body') {
        if (this.received >= limit) this.finish();
        else this.socket.resume();
      }
    });
  }

  /** Where the next socket read goes: the sink's free space while a body is read into a sink that offers it, else the scratch buffer. */
  private nextReadTarget(): Uint8Array {
    const phase = this.phase;
    if (phase.name === 'body' && phase.sink.reserve !== undefined) {
      const space = phase.sink.reserve();
      const left = phase.limit - this.received;
      // Never more than the body has left: bytes past it must not land in the sink.
      if (space !== null && left > 0) return space.length > left ? space.subarray(0, left) : space;
    }
    return this.scratch;
  }

  /** `n` bytes came, into `target` (from nextReadTarget); false pauses the socket. */
  private onRead(n: number, target: Uint8Array): boolean {
    const phase = this.phase;
    if (target !== this.scratch) return phase.name === 'body' ? this.tookInPlace(phase, n) : false;
    const data = this.scratch.subarray(0, n);
    if (phase.name === 'head') return this.onHeadBytes(phase, data);
    if (phase.name === 'body') return this.take(data);
    // Nobody is reading (the body was not asked for yet, or is done).
    return false;
  }

  /** `n` body bytes were read into the sink's own space. */
  private tookInPlace(phase: Extract<Phase, { name: 'body' }>, n: number): boolean {
    try {
      phase.sink.commit!(n);
    } catch (error) {
      this.fail(error as Error);
      return false;
    }
    this.received += n;
    if (this.received >= phase.limit) {
      this.finish();
      return false;
    }
    if (phase.sink.reserve!() !== null) return true;
    // Every block is out: pause until one is back (the read after that goes to scratch once).
    phase.sink.ready!().then(() => {
      if (this.phase === phase) this.socket.resume();
    }, (error: Error) => this.fail(error));
    return false;
  }

  private onHeadBytes(phase: Extract<Phase, { name: 'head' }>, data: Buffer): boolean {
    phase.bytes.push(Buffer.from(data));
    const all = phase.bytes.length === 1 ? phase.bytes[0]! : Buffer.concat(phase.bytes);
    const end = all.indexOf(HEAD_END);
    if (end < 0) {
      if (all.length > MAX_HEAD_BYTES) this.fail(new AtollError('unavailable', `${this.url.origin} sent a response head longer than ${MAX_HEAD_BYTES} bytes`));
      return true;
    }
    let head: Head;
    try {
      head = parseHead(all.subarray(0, end).toString('latin1'), this.url);
    } catch (error) {
      this.fail(error as Error);
      return false;
    }
    this.status = head.status;
    this.contentLength = head.contentLength;
    this.location = head.location;
    this.chunked = head.chunked;
    const rest = all.subarray(end + HEAD_END.length);
    this.early = rest.length > 0 ? rest : null;
    this.phase = { name: 'idle' };
    phase.resolve(this);
    // Paused until the body is asked for.
    return false;
  }

  /** Hands body bytes to the sink, up to the limit; false when the socket must pause (or the body is done). */
  private take(data: Buffer): boolean {
    const phase = this.phase;
    if (phase.name !== 'body') return false;
    const wanted = Math.min(data.length, phase.limit - this.received);
    let full: Promise<void> | undefined;
    try {
      full = phase.sink.write(wanted === data.length ? data : data.subarray(0, wanted));
    } catch (error) {
      this.fail(error as Error);
      return false;
    }
    this.received += wanted;
    if (full !== undefined) {
      // The sink still reads from the scratch buffer: no more socket reads into it until it is done.
      full.then(() => {
        if (this.phase !== phase) return;
        if (this.received >= phase.limit) this.finish();
        else this.socket.resume();
      }, (error: Error) => this.fail(error));
      return false;
    }
    if (this.received < phase.limit) return true;
    this.finish();
    return false;
  }

  private onEnd(): void {
    const phase = this.phase;
    if (phase.name === 'head') this.fail(new AtollError('unavailable', `${this.url.origin} closed the connection before it answered`));
    else if (phase.name === 'body' && phase.toEnd) this.finish();
    else this.fail(cutShort(this.url, this.received, this.contentLength));
  }

  /** The body is complete (or all that was wanted of it): the connection is not needed any more. */
  private finish(): void {
    const phase = this.phase;
    this.phase = { name: 'done' };
    this.signal.removeEventListener('abort', this.onAbort);
    this.socket.destroy();
    if (phase.name === 'body') phase.resolve();
  }

  private fail(error: Error): void {
    const phase = this.phase;
    if (phase.name === 'done') return;
    this.phase = { name: 'done' };
    this.failure = error;
    this.signal.removeEventListener('abort', this.onAbort);
    this.socket.destroy();
    if (phase.name === 'head' || phase.name === 'body') phase.reject(error);
  }
}

function parseHead(text: string, url: URL): Head {
  const [statusLine = '', ...lines] = text.split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(statusLine);
  if (status === null) throw new AtollError('unavailable', `${url.origin} did not answer with HTTP/1.x: ${JSON.stringify(statusLine.slice(0, 80))}`);
  let contentLength: number | null = null;
  let location: string | null = null;
  let chunked = false;
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new AtollError('unavailable', `${url.origin} sent a malformed header line: ${JSON.stringify(line.slice(0, 80))}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-length') {
      const length = /^\d{1,15}$/.test(value) ? Number(value) : Number.NaN;
      // Two different lengths make the framing ambiguous (request smuggling's trick): refused.
      if (Number.isNaN(length) || (contentLength !== null && contentLength !== length)) throw new AtollError('unavailable', `${url.origin} sent an invalid Content-Length: ${JSON.stringify(value.slice(0, 40))}`);
      contentLength = length;
    } else if (name === 'transfer-encoding') {
      chunked ||= value.toLowerCase() !== 'identity';
    } else if (name === 'location') {
      location = value;
    }
  }
  return { status: Number(status[1]), contentLength: chunked ? null : contentLength, location, chunked };
}

/** The data of a chunked body, as far as `framed` holds it (a refusal's text: a cut-off end is fine). */
function unchunk(framed: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = framed.indexOf('\r\n', at);
    if (lineEnd < 0) break;
    const size = Number.parseInt(framed.subarray(at, lineEnd).toString('latin1').split(';')[0]!, 16);
    if (!(size > 0)) break;
    parts.push(framed.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}
