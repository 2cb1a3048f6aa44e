import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { KeyObject } from 'node:crypto';
import { AtollError, type ErrorCode } from '../core/errors.js';
import { verifyDataToken, type DataTokenClaims } from '../protocol/data-token.js';
import { sendFile } from './file-sender.js';
import { checkRef, type PartitionRef, type PartitionStore, type StoredPartition } from './partition-store.js';

// The agent's partitions over HTTP, for peers fetching inputs and for clients uploading:
//   GET /v1/data/:namespace/:dataset/:partition   the bytes (token op `read`)
//   PUT /v1/data/:namespace/:dataset/:partition   store the body (token op `write`)
// Every request carries a token the control plane signed; the agent checks it itself, and for a
// read also checks the reader's jurisdiction against the partition's residency class (defence in
// depth: a valid token for a reader outside the class is still refused).

export interface ResidencyRule {
  readonly jurisdictions: ReadonlySet<string>;
  readonly policy: string | null;
}

export interface DataServerOptions {
  readonly store: PartitionStore;
  readonly nodeName: string;
  /** Known once the control plane's welcome arrived; until then every request gets 503. */
  readonly publicKey: () => KeyObject | undefined;
  /** Where a class's data may be read; undefined: the class is unknown here (refused). */
  readonly residency: (residencyClass: string) => ResidencyRule | undefined;
  readonly maxUploadBytes: number;
  readonly now?: () => number;
  readonly onStored: (ref: PartitionRef, entry: StoredPartition) => void;
  readonly onRefused: (refusal: { ref: PartitionRef; for: string; forJurisdiction: string | null; reason: string; policy: string | null }) => void;
  /** A failure that is not a refusal (a disk error, a bug): answered 500 and reported here. */
  readonly onInternalError: (error: unknown) => void;
}

const STATUS: Partial<Record<ErrorCode, number>> = {
  invalid_request: 400, unauthorized: 401, forbidden: 403, not_found: 404, conflict: 409, payload_too_large: 413, unavailable: 503,
};

export class DataServer {
  private readonly server: Server;

  constructor(private readonly options: DataServerOptions) {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        // A client that hung up mid-upload is not a failure of this node: the store kept nothing.
        if (req.destroyed && !(error instanceof AtollError)) return;
        if (!(error instanceof AtollError)) this.options.onInternalError(error);
        reply(res, error);
      });
    });
    // Slow or stuck clients must not hold sockets for ever; uploads of large files still get time.
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 0;
    this.server.maxHeadersCount = 50;
  }

  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        const address = this.server.address();
        resolve({ host, port: typeof address === 'object' && address ? address.port : port });
      });
    });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const ref = parsePath(req.url ?? '');
    const claims = this.authorize(req, ref);
    if (req.method === 'GET' && claims.op === 'read') return this.serve(res, ref, claims);
    if (req.method === 'PUT' && claims.op === 'write') return this.receive(req, res, ref, claims);
    throw new AtollError('forbidden', `a ${claims.op} token does not allow ${req.method ?? 'this method'}`);
  }

  private authorize(req: IncomingMessage, ref: PartitionRef): DataTokenClaims {
    const key = this.options.publicKey();
    if (key === undefined) throw new AtollError('unavailable', 'this agent has not reached the control plane yet; try again shortly');
    const header = req.headers.authorization ?? '';
    if (!header.startsWith('Bearer ')) throw new AtollError('unauthorized', 'missing data token: send `Authorization: Bearer <token>` from the control plane');
    const claims = verifyDataToken(header.slice(7), key, (this.options.now ?? Date.now)());
    const mismatch = claims.node !== this.options.nodeName ? `node ${claims.node}` : claims.namespace !== ref.namespace || claims.dataset !== ref.dataset || claims.partition !== ref.partition ? `${claims.namespace}/${claims.dataset}/${claims.partition}` : undefined;
    if (mismatch !== undefined) throw new AtollError('forbidden', `the token is for ${mismatch}, not for this request`);
    return claims;
  }

  private async serve(res: ServerResponse, ref: PartitionRef, claims: DataTokenClaims): Promise<void> {
    const entry = this.options.store.get(ref);
    if (entry === undefined) throw new AtollError('not_found', `partition ${ref.dataset}/${ref.partition} is not on this node`);
    if (claims.sha256 !== undefined && claims.sha256 !== entry.sha256) throw new AtollError('conflict', `this node holds other content for ${ref.dataset}/${ref.partition} than the token names`);
    if (entry.residencyClass !== null) {
      const rule = this.options.residency(entry.residencyClass);
      const where = claims.forJurisdiction;
      if (rule === undefined || where === null || !rule.jurisdictions.has(where)) {
        const reason = rule === undefined
          ? `residency class ${entry.residencyClass} is not known to this node`
          : `${claims.for} is in ${where ?? 'no jurisdiction'}; residency class ${entry.residencyClass} may only be read in [${[...rule.jurisdictions].sort().join(', ')}]`;
        this.options.onRefused({ ref, for: claims.for, forJurisdiction: where, reason, policy: rule?.policy ?? null });
        throw new AtollError('forbidden', reason);
      }
    }
    // A read error after the head went out can only cut the body short; the reader's checksum catches it.
    await sendFile(res, this.options.store.objectPath(entry.sha256), entry.bytes, { 'content-type': 'application/octet-stream', 'content-length': String(entry.bytes), 'x-atoll-sha256': entry.sha256 });
  }

  private async receive(req: IncomingMessage, res: ServerResponse, ref: PartitionRef, claims: DataTokenClaims): Promise<void> {
    const declared = Number(req.headers['content-length'] ?? Number.NaN);
    if (declared > this.options.maxUploadBytes) throw new AtollError('payload_too_large', `partition of ${declared} bytes is larger than the ${this.options.maxUploadBytes} this node accepts`);
    const entry = await this.options.store.put(ref, req, { maxBytes: this.options.maxUploadBytes, residencyClass: claims.residencyClass ?? null });
    this.options.onStored(ref, entry);
    res.writeHead(201, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ sha256: entry.sha256, bytes: entry.bytes }));
  }
}

function parsePath(url: string): PartitionRef {
  const path = url.split('?')[0]!;
  const parts = path.split('/');
  // ['', 'v1', 'data', namespace, dataset, partition]
  if (parts.length !== 6 || parts[1] !== 'v1' || parts[2] !== 'data') throw new AtollError('not_found', 'expected /v1/data/NAMESPACE/DATASET/PARTITION');
  let decoded: string[];
  try {
    decoded = parts.slice(3).map((p) => decodeURIComponent(p));
  } catch (error) {
    throw new AtollError('invalid_request', 'the path is not valid percent-encoding', { cause: error });
  }
  const ref = { namespace: decoded[0]!, dataset: decoded[1]!, partition: decoded[2]! };
  checkRef(ref);
  return ref;
}

function reply(res: ServerResponse, error: unknown): void {
  const known = error instanceof AtollError;
  const status = known ? (STATUS[error.code] ?? 500) : 500;
  const body = JSON.stringify({ error: { code: known ? error.code : 'internal', message: known ? error.message : 'internal error' } });
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // Close after an error: the rest of a refused upload is not worth reading.
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), connection: 'close' });
  res.end(body);
}
