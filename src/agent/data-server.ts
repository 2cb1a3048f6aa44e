import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { AtollError, HTTP_STATUS } from '../core/errors.js';
import { sendFile } from './file-sender.js';
import type { PartitionAccess } from './partition-access.js';
import { checkRef, type PartitionRef } from './partition-store.js';

// The agent's partitions over HTTP, for peers fetching inputs and for clients uploading:
//   GET /v1/data/:namespace/:dataset/:partition   the bytes (token op `read`)
//   PUT /v1/data/:namespace/:dataset/:partition   store the body (token op `write`)
// What a token allows is decided by PartitionAccess, as for transfers relayed through the
// control plane.

export interface DataServerOptions {
  readonly access: PartitionAccess;
  /** A failure that is not a refusal (a disk error, a bug): answered 500 and reported here. */
  readonly onInternalError: (error: unknown) => void;
  /** A connection on which no byte moves either way for this long is closed (a stalled upload or reader). */
  readonly idleTimeoutMs?: number;
  /**
   * TLS (every fleet but --insecure ones): serve HTTPS with this data server certificate (server
   * auth, SAN = the advertised data host, signed by the cluster CA) and its key. Swapped on
   * renewal with setCertificate; connections already open keep the certificate they started with.
   */
  readonly tls?: DataServerCertificate | 'pending';
}

export interface DataServerCertificate {
  readonly cert: string;
  readonly key: string;
}

/** Long enough for a peer on a congested edge uplink, short enough that stalled peers do not pile up. */
export const DATA_IDLE_TIMEOUT_MS = 30_000;

const METHOD_OPS: Readonly<Record<string, 'read' | 'write'>> = { GET: 'read', PUT: 'write' };

export class DataServer {
  private readonly server: Server | HttpsServer;

  constructor(private readonly options: DataServerOptions) {
    const listener: RequestListener = (req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        // A client that hung up mid-upload is not a failure of this node: the store kept nothing.
        if (req.destroyed && !(error instanceof AtollError)) return;
        if (!(error instanceof AtollError)) this.options.onInternalError(error);
        reply(res, error);
      });
    };
    // 'pending': HTTPS, but no certificate until the node has joined; handshakes fail until setCertificate.
    this.server = options.tls === undefined ? createServer(listener) : createHttpsServer(options.tls === 'pending' ? {} : { cert: options.tls.cert, key: options.tls.key }, listener);
    // Slow or stuck clients must not hold sockets for ever; uploads of large files still get time.
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 0;
    this.server.maxHeadersCount = 50;
    // Without a 'timeout' listener Node destroys the socket; the partial upload is then discarded.
    this.server.timeout = options.idleTimeoutMs ?? DATA_IDLE_TIMEOUT_MS;
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

  /** Whether this server speaks HTTPS (its URL scheme). */
  get secure(): boolean {
    return this.options.tls !== undefined;
  }

  /** A renewed data server certificate, used for new connections from now on. */
  setCertificate(tls: DataServerCertificate): void {
    if (!this.options.tls) throw new Error('this data server serves plain HTTP (--insecure); it has no certificate to replace');
    (this.server as HttpsServer).setSecureContext({ cert: tls.cert, key: tls.key });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const ref = parsePath(req.url ?? '');
    const op = METHOD_OPS[req.method ?? ''];
    if (op === undefined) throw new AtollError('invalid_request', `${req.method ?? 'this method'} is not served here; GET reads a partition, PUT uploads one`);
    const { access } = this.options;
    const claims = access.authorize(req.headers.authorization, ref, op);
    if (op === 'read') {
      const entry = access.readable(ref, claims);
      // A read error after the head went out can only cut the body short; the reader's checksum catches it.
      await sendFile(res, access.objectPath(entry), entry.bytes, { 'content-type': 'application/octet-stream', 'content-length': String(entry.bytes), 'x-atoll-sha256': entry.sha256 });
      return;
    }
    const declared = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
    const entry = await access.receive(ref, claims, req, declared);
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
  const status = known ? HTTP_STATUS[error.code] : 500;
  const body = JSON.stringify({ error: { code: known ? error.code : 'internal', message: known ? error.message : 'internal error' } });
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // Close after an error: the rest of a refused upload is not worth reading.
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), connection: 'close' });
  res.end(body);
}
