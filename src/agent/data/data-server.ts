import type { KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AtollError, type ErrorCode } from '../../core/errors.js';
import { verifyDataToken, type DataTokenClaims } from '../../protocol/data-token.js';
import { checkPartitionRef, type PartitionEntry, type PartitionRef, type PartitionStore } from './partition-store.js';

// The agent's partitions over HTTP, for peers fetching inputs and clients uploading:
//   GET /v1/data/:namespace/:dataset/:partition   the bytes            (token op `read`)
//   PUT /v1/data/:namespace/:dataset/:partition   store the body       (token op `write`)
// The control plane signs every token; this agent checks it itself with the control plane's
// public key, and for a read also checks the reader's jurisdiction against the partition's
// residency class: a valid token for a reader outside the class is still refused (defence in
// depth against a control-plane bug or a stolen token).

export interface DataRefusal {
  readonly ref: PartitionRef;
  /** The token's `for`: the node (or `client`) that asked. */
  readonly for: string;
  readonly forJurisdiction: string | null;
  readonly residencyClass: string;
  readonly reason: string;
  readonly policy: string | null;
}

export interface DataServerOptions {
  readonly store: PartitionStore;
  readonly nodeName: string;
  readonly host: string;
  /** 0 picks a free port; read the result from `address`. */
  readonly port: number;
  /** The control plane's data-token key; a getter, or `setPublicKey` later: requests get 503 until it is known. */
  readonly publicKey?: KeyObject | (() => KeyObject | undefined);
  /** Countries where data of the class may be read; undefined: the class is unknown here, so reads are refused. */
  readonly allowedJurisdictions: (residencyClass: string) => ReadonlySet<string> | undefined;
  /** The policy that defines a class, for refusal reports. */
  readonly policyOf?: (residencyClass: string) => string | null;
  readonly maxUploadBytes: number;
  /** A connection that moves no bytes for this long is cut (a stalled upload keeps nothing). Default 2 minutes. */
  readonly idleTimeoutMs?: number;
  readonly now?: () => number;
  readonly onStored?: (ref: PartitionRef, entry: PartitionEntry) => void;
  /** A read refused for residency; for the event log. */
  readonly onRefused?: (refusal: DataRefusal) => void;
  /** A failure that is not the client's fault (disk, bug): answered 500 and reported here. */
  readonly onError?: (error: unknown) => void;
}

const STATUS: Readonly<Record<ErrorCode, number>> = {
  invalid_spec: 400, invalid_request: 400, unauthorized: 401, forbidden: 403, not_found: 404,
  conflict: 409, payload_too_large: 413, unavailable: 503, internal: 500,
};

const PREFIX = '/v1/data/';

export class DataServer {
  private readonly server: Server;
  private readonly options: DataServerOptions;
  private key: KeyObject | (() => KeyObject | undefined) | undefined;
  private bound: { host: string; port: number } | undefined;

  private constructor(options: DataServerOptions) {
    this.options = options;
    this.key = options.publicKey;
    this.server = createServer({ maxHeaderSize: 16 * 1024 }, (req, res) => {
      this.handle(req, res).catch((error: unknown) => this.fail(req, res, error));
    });
    // A slow or silent client must not hold a socket for ever; a large upload still has all the time it needs.
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 0;
    this.server.maxHeadersCount = 50;
    this.server.setTimeout(options.idleTimeoutMs ?? 120_000, (socket) => socket.destroy());
  }

  /** Listens on `host:port`; resolves once bound. */
  static async start(options: DataServerOptions): Promise<DataServer> {
    const server = new DataServer(options);
    await new Promise<void>((resolve, reject) => {
      server.server.once('error', reject);
      server.server.listen(options.port, options.host, () => {
        server.server.off('error', reject);
        resolve();
      });
    });
    const address = server.server.address() as AddressInfo;
    server.bound = { host: address.address, port: address.port };
    return server;
  }

  /** Where it listens (the port the OS chose when asked for 0). */
  get address(): { readonly host: string; readonly port: number } {
    if (this.bound === undefined) throw new AtollError('internal', 'data server is not listening');
    return this.bound;
  }

  /** `http://host:port`, without a trailing slash. */
  get url(): string {
    const { host, port } = this.address;
    return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  /** The control plane's key, from its `welcome`. */
  setPublicKey(key: KeyObject): void {
    this.key = key;
  }

  /** Stops listening and cuts open connections, transfers included. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'PUT') {
      res.setHeader('allow', 'GET, PUT');
      res.setHeader('connection', 'close');
      const message = `${req.method ?? 'this method'} is not served here; GET reads a partition, PUT uploads one`;
      sendJson(res, 405, { error: { code: 'invalid_request', message } });
      return;
    }
    const ref = parsePath(req.url ?? '');
    const claims = this.authorize(req, ref, req.method === 'GET' ? 'read' : 'write');
    if (req.method === 'GET') await this.serve(res, ref, claims);
    else await this.receive(req, res, ref, claims);
  }

  private authorize(req: IncomingMessage, ref: PartitionRef, op: DataTokenClaims['op']): DataTokenClaims {
    const key = typeof this.key === 'function' ? this.key() : this.key;
    if (key === undefined) throw new AtollError('unavailable', 'this agent has not heard from the control plane yet, so it cannot check data tokens; try again shortly');
    const match = /^Bearer +(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (match === null) throw new AtollError('unauthorized', 'missing data token: send `Authorization: Bearer <token>` with a token from the control plane');
    const claims = verifyDataToken(match[1]!, key, (this.options.now ?? Date.now)());
    const wrong =
      claims.op !== op ? `a ${claims.op} token, but ${req.method} needs a ${op} token`
        : claims.node !== this.options.nodeName ? `a token for node ${claims.node}, but this is ${this.options.nodeName}`
          : claims.namespace !== ref.namespace || claims.dataset !== ref.dataset || claims.partition !== ref.partition
            ? `a token for ${claims.namespace}/${claims.dataset}/${claims.partition}, not ${ref.namespace}/${ref.dataset}/${ref.partition}`
            : undefined;
    if (wrong !== undefined) throw new AtollError('forbidden', `${wrong}; ask the control plane for a token for this request`);
    return claims;
  }

  private async serve(res: ServerResponse, ref: PartitionRef, claims: DataTokenClaims): Promise<void> {
    const entry = this.options.store.get(ref);
    if (entry === undefined) throw new AtollError('not_found', `partition ${ref.namespace}/${ref.dataset}/${ref.partition} is not on node ${this.options.nodeName}`);
    if (claims.sha256 !== undefined && claims.sha256 !== entry.sha256) {
      throw new AtollError('conflict', `node ${this.options.nodeName} holds other content for ${ref.dataset}/${ref.partition} (sha256 ${entry.sha256}) than the token names (${claims.sha256}); the catalog is out of date`);
    }
    if (entry.residencyClass !== null) this.checkResidency(ref, entry.residencyClass, claims);
    const opened = await this.options.store.open(ref);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(opened.bytes), 'x-atoll-sha256': opened.sha256 });
    // A failure after the headers went out can only cut the body short, which the reader's checksum catches.
    await pipeline(opened.stream, res).catch(() => res.destroy());
  }

  private checkResidency(ref: PartitionRef, residencyClass: string, claims: DataTokenClaims): void {
    const allowed = this.options.allowedJurisdictions(residencyClass);
    const where = claims.forJurisdiction;
    if (allowed !== undefined && where !== null && allowed.has(where)) return;
    const reason = allowed === undefined
      ? `residency class ${residencyClass} is not known to node ${this.options.nodeName}, so its data is served to no one`
      : `${claims.for} is in ${where ?? 'no known jurisdiction'}, but residency class ${residencyClass} may only be read in [${[...allowed].sort().join(', ')}]`;
    this.options.onRefused?.({ ref, for: claims.for, forJurisdiction: where, residencyClass, reason, policy: this.options.policyOf?.(residencyClass) ?? null });
    throw new AtollError('forbidden', `${reason}; run the task on a node inside the class`);
  }

  private async receive(req: IncomingMessage, res: ServerResponse, ref: PartitionRef, claims: DataTokenClaims): Promise<void> {
    const max = this.options.maxUploadBytes;
    const declared = Number(req.headers['content-length']);
    if (declared > max) throw new AtollError('payload_too_large', `an upload of ${declared} bytes is more than the ${max} this node accepts; split it into smaller partitions`);
    const header = req.headers['x-atoll-sha256'];
    const expected = claims.sha256 ?? (typeof header === 'string' ? header.toLowerCase() : undefined);
    // The store ends its source when it refuses the bytes; a go-between keeps the socket open for the answer.
    const body = new PassThrough();
    req.on('error', (error) => body.destroy(error));
    req.on('close', () => {
      if (!req.complete) body.destroy(new AtollError('invalid_request', 'the client closed the connection mid-upload; nothing was kept'));
    });
    req.pipe(body);
    const entry = await this.options.store.put(ref, body, {
      maxBytes: max, residencyClass: claims.residencyClass ?? null, ...(expected === undefined ? {} : { expectedSha256: expected }),
    });
    this.options.onStored?.(ref, entry);
    sendJson(res, 201, { sha256: entry.sha256, bytes: entry.bytes });
  }

  private fail(req: IncomingMessage, res: ServerResponse, error: unknown): void {
    // The client went away mid-request: nobody to answer, nothing wrong with this node.
    if (!req.complete && req.socket.destroyed) return;
    const known = error instanceof AtollError;
    if (!known) this.options.onError?.(error);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const status = known ? STATUS[error.code] : 500;
    const body = { error: { code: known ? error.code : 'internal', message: known ? error.message : 'internal error; see the agent log' } };
    // An upload refused before its body was read: close rather than read the rest of it.
    if (!req.complete) res.setHeader('connection', 'close');
    sendJson(res, status, body);
  }
}

/** The ref in `/v1/data/NS/DS/P`; anything else under /v1/data/ is a 400, outside it a 404. */
function parsePath(url: string): PartitionRef {
  const path = url.split('?', 1)[0]!;
  if (!path.startsWith(PREFIX)) throw new AtollError('not_found', 'nothing here; partitions are at /v1/data/NAMESPACE/DATASET/PARTITION');
  const parts = path.slice(PREFIX.length).split('/');
  if (parts.length !== 3) throw new AtollError('invalid_request', 'expected /v1/data/NAMESPACE/DATASET/PARTITION, each part percent-encoded');
  let decoded: string[];
  try {
    decoded = parts.map((part) => decodeURIComponent(part));
  } catch (error) {
    throw new AtollError('invalid_request', 'the path is not valid percent-encoding', { cause: error });
  }
  const ref = { namespace: decoded[0]!, dataset: decoded[1]!, partition: decoded[2]! };
  checkPartitionRef(ref);
  return ref;
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}
