import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { AtollError, HTTP_STATUS } from '../../src/core/errors.js';
import { PartitionAccess } from '../../src/agent/partition-access.js';
import { PartitionStore } from '../../src/agent/partition-store.js';
import { RelayEndpoint } from '../../src/agent/relay-endpoint.js';
import { generateDataSigningKeys, signDataToken } from '../../src/protocol/data-token.js';
import { agentMessage, RELAY_WINDOW_BYTES, serverMessage, type AgentMessage, type ServerMessage } from '../../src/protocol/messages.js';
import { AgentLinks, type AgentLink } from '../../src/server/agent-links.js';
import { DataRelay } from '../../src/server/data-relay.js';

// The two ends of a relayed transfer in one process: the control plane's relay and the agent's
// relay endpoint joined by a "connection" that passes every message through the protocol's
// schemas (as JSON) and every frame as bytes, behind a real HTTP server on loopback. What the
// process-level test (data-relay.test.ts) cannot steer: flow control, hang-ups, a lost holder.

const keys = generateDataSigningKeys();
const SIZE = 48 * 2 ** 20 + 12_345;
const CONTENT = Buffer.alloc(SIZE);
for (let i = 0; i < SIZE; i += 4096) CONTENT.writeUInt32BE(i, i);
const SHA = createHash('sha256').update(CONTENT).digest('hex');
const REF = { namespace: 'default', dataset: 'readings', partition: 'lyon' };

let store: PartitionStore;
let relay: DataRelay;
let endpoint: RelayEndpoint;
let link: AgentLink;
let http: Server;
let base: string;
/** Bytes of frames the holder has sent. */
let sentByHolder: number;

beforeEach(async () => {
  store = await PartitionStore.open(mkdtempSync(join(tmpdir(), 'atoll-relay-')));
  await store.put(REF, Readable.from([CONTENT]), { maxBytes: SIZE, residencyClass: null });
  sentByHolder = 0;
  const links = new AgentLinks();
  relay = new DataRelay(links, { publicKey: keys.publicKey, clock: systemClock });
  const access = new PartitionAccess({
    store, nodeName: 'edge-lyon', maxUploadBytes: SIZE, publicKey: () => keys.publicKey,
    residency: () => undefined, onStored: () => {}, onRefused: () => {},
  });
  // Delivered on a later turn, as a socket would.
  const toServer = (message: AgentMessage) => setImmediate(() => relay.onMessage('edge-lyon', agentMessage.parse(JSON.parse(JSON.stringify(message))) as Parameters<DataRelay['onMessage']>[1]));
  endpoint = new RelayEndpoint({
    access, log: pino({ level: 'silent' }), send: toServer,
    sendFrame: async (frame) => {
      sentByHolder += frame.length - 4;
      setImmediate(() => relay.onFrame('edge-lyon', frame));
    },
  });
  link = {
    send: (message: ServerMessage) => setImmediate(() => endpoint.handle(serverMessage.parse(JSON.parse(JSON.stringify(message))) as Parameters<RelayEndpoint['handle']>[0])),
    sendFrame: (frame) => setImmediate(() => endpoint.frame(frame)),
    close: () => {},
    terminate: () => {},
  };
  links.set('edge-lyon', link);
  http = createServer((req, res) => {
    try {
      const op = req.method === 'GET' ? 'read' : 'write';
      const target = relay.target(REF, req.headers.authorization, op);
      if (op === 'read') relay.read(target, REF, req.headers.authorization!, res);
      else relay.write(target, REF, req.headers.authorization!, req, res);
    } catch (error) {
      res.writeHead(error instanceof AtollError ? HTTP_STATUS[error.code] : 500).end(String(error));
    }
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()));
  const address = http.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

afterEach(async () => {
  relay.close();
  endpoint.closeAll();
  http.closeAllConnections();
  await new Promise<void>((resolve) => http.close(() => resolve()));
});

const token = (op: 'read' | 'write') => signDataToken({ op, ...REF, node: 'edge-lyon', for: 'reader', forJurisdiction: 'FR', exp: Date.now() + 60_000 }, keys.privateKey);

/** A GET whose body is left unread until the caller reads it. */
const open = (): Promise<IncomingMessage> =>
  new Promise((resolve, reject) => {
    const req = request(`${base}/relay`, { headers: { authorization: `Bearer ${token('read')}` } }, resolve);
    req.on('error', reject);
    req.end();
  });

const until = async (check: () => boolean, what: string): Promise<void> => {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

describe('DataRelay with RelayEndpoint', () => {
  it('relays a partition much larger than its window, byte for byte', async () => {
    const response = await open();
    expect(response.statusCode).toBe(200);
    expect(response.headers['x-atoll-sha256']).toBe(SHA);
    const hash = createHash('sha256');
    for await (const chunk of response) hash.update(chunk as Buffer);
    expect(hash.digest('hex')).toBe(SHA);
    expect(relay.inProgress).toBe(0);
    expect(endpoint.inProgress).toBe(0);
  });

  it('stops the holder while the reader does not read: no more than the window beyond what the sockets hold', async () => {
    const response = await open();
    response.pause();
    // Let the transfer run into the stalled reader.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const stalledAt = sentByHolder;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(sentByHolder).toBe(stalledAt);
    expect(sentByHolder).toBeGreaterThanOrEqual(RELAY_WINDOW_BYTES);
    expect(sentByHolder).toBeLessThan(SIZE / 2);
    // Reading on lets it finish.
    const hash = createHash('sha256');
    for await (const chunk of response) hash.update(chunk as Buffer);
    expect(hash.digest('hex')).toBe(SHA);
  });

  it('stops the holder and closes its file when the reader hangs up mid-transfer', async () => {
    const response = await open();
    response.once('data', () => response.destroy());
    await until(() => relay.inProgress === 0 && endpoint.inProgress === 0, 'both ends to drop the stream');
    const stoppedAt = sentByHolder;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(sentByHolder).toBe(stoppedAt);
    expect(sentByHolder).toBeLessThan(SIZE);
  });

  it('cuts the reader\'s body short when the holder\'s connection is lost mid-transfer', async () => {
    const response = await open();
    let received = 0;
    const ended = new Promise<string>((resolve) => {
      response.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > RELAY_WINDOW_BYTES) relay.disconnected(link);
      });
      response.on('end', () => resolve('end'));
      response.on('error', () => resolve('error'));
      response.on('aborted', () => resolve('aborted'));
    });
    expect(await ended).not.toBe('end');
    expect(received).toBeLessThan(SIZE);
    expect(relay.inProgress).toBe(0);
  });

  it('relays an upload into the holder\'s store and answers with what it stored', async () => {
    const upload = CONTENT.subarray(0, 9 * 2 ** 20 + 1);
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${base}/relay`, { method: 'PUT', headers: { authorization: `Bearer ${token('write')}`, 'content-length': String(upload.length) } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end(upload);
    });
    expect(answer.status).toBe(201);
    const sha = createHash('sha256').update(upload).digest('hex');
    expect(JSON.parse(answer.body)).toEqual({ sha256: sha, bytes: upload.length });
    expect(store.get(REF)).toMatchObject({ sha256: sha, bytes: upload.length });
  });
});
