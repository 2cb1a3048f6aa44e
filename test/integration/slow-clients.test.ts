import { readFileSync } from 'node:fs';
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { tempDir, trustGlobally } from '../harness/processes.js';

// Slow and stalled clients on real sockets, over TLS as every client talks to the server: each is
// cut off by its timeout while other clients are served as usual. Timeouts are shortened here;
// the defaults are in http-limits.ts.

interface RawClient {
  readonly socket: Socket;
  /** Resolves with what the server sent once it closed the connection. */
  readonly closed: Promise<string>;
  stop(): void;
}

describe('slow clients', () => {
  let server: RunningServer;
  let admin: string;
  let port: number;
  let ca: string;

  beforeAll(async () => {
    server = await startServer({
      host: '127.0.0.1', port: 0, dataDir: tempDir('slow'), logLevel: 'silent',
      httpTimeouts: { headersMs: 1000, bodyMs: 1500, idleMs: 3000, keepAliveMs: 1000, checkIntervalMs: 250 },
    });
    admin = readFileSync(server.tokens.adminTokenFile, 'utf8').trim();
    port = Number(new URL(server.url).port);
    ca = readFileSync(server.caFile, 'utf8');
    trustGlobally(ca);
  });

  afterAll(async () => {
    await server?.close();
  });

  /** A raw TLS client that sends `first`, then `drip` every 200 ms until the server closes. */
  const rawClient = (first: string, drip?: string): Promise<RawClient> =>
    new Promise((resolve, reject) => {
      const socket = connectTls({ port, host: '127.0.0.1', ca, servername: 'localhost' });
      let received = '';
      let timer: NodeJS.Timeout | undefined;
      const closed = new Promise<string>((done) => {
        socket.on('data', (data) => (received += data.toString()));
        socket.on('close', () => {
          clearInterval(timer);
          done(received);
        });
      });
      // A reset from the server is how some cut-offs end; the close above reports it.
      socket.on('error', () => undefined);
      socket.once('secureConnect', () => {
        socket.write(first);
        if (drip !== undefined) timer = setInterval(() => socket.writable && socket.write(drip), 200);
        resolve({ socket, closed, stop: () => clearInterval(timer) });
      });
      socket.once('error', reject);
    });

  /** The server still answers others promptly enough to pass: health and an authenticated read. */
  const othersAreServed = async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.url}/v1/jobs`, { headers: { authorization: `Bearer ${admin}` } })).status).toBe(200);
  };

  const jobsBefore = async () => (await (await fetch(`${server.url}/v1/jobs`, { headers: { authorization: `Bearer ${admin}` } })).text());

  it('cuts off a client that sends headers a line at a time (slowloris)', async () => {
    const client = await rawClient('GET /healthz HTTP/1.1\r\nHost: x\r\n', 'X-Slow: 1\r\n');
    await othersAreServed();
    const answer = await client.closed;
    // Node gives up with a 408 when it can still write; either way the connection is gone.
    expect(answer === '' || (answer.startsWith('HTTP/1.1 408') && answer.includes('"code":"invalid_request"'))).toBe(true);
  });

  it('cuts off a client that opens a TCP connection and never starts TLS', async () => {
    const socket = connectTcp(port, '127.0.0.1');
    socket.on('error', () => undefined);
    const closed = new Promise<void>((done) => socket.on('close', () => done()));
    await othersAreServed();
    await closed;
    expect(socket.destroyed).toBe(true);
  });

  it('cuts off a client that completes TLS and sends nothing', async () => {
    const client = await rawClient('');
    await othersAreServed();
    await client.closed;
    expect(client.socket.destroyed).toBe(true);
  });

  it('cuts off a body that trickles in a byte at a time, and nothing is created', async () => {
    const before = await jobsBefore();
    const body = JSON.stringify({ name: 'trickle', command: ['true'] });
    const client = await rawClient(
      `POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${admin}\r\nContent-Type: application/json\r\nContent-Length: ${body.length + 100_000}\r\n\r\n`,
      ' ',
    );
    await othersAreServed();
    const answer = await client.closed;
    expect(answer).not.toContain('201');
    expect(await jobsBefore()).toBe(before);
  });

  it('cuts off an upload that stalls half way, and nothing is created', async () => {
    const before = await jobsBefore();
    const client = await rawClient(
      `POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${admin}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"name":"stall",`,
    );
    await othersAreServed();
    await client.closed;
    expect(await jobsBefore()).toBe(before);
  });

  it('closes an idle keep-alive connection after its request was answered', async () => {
    const client = await rawClient(`GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n`);
    const answer = await client.closed;
    expect(answer).toMatch(/^HTTP\/1.1 200/);
  });

  it.each<{ what: string; request: string; status: number }>([
    { what: 'headers over 16 KiB', request: `GET /v1/jobs HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, status: 431 },
    { what: 'bytes that are not HTTP', request: '\u0000\u0001 garbage\r\n\r\n', status: 400 },
  ])('answers $what, refused by Node before any route, with the API\'s error body', async ({ request, status }) => {
    const client = await rawClient(request);
    const answer = await client.closed;
    expect(answer.startsWith(`HTTP/1.1 ${status} `)).toBe(true);
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { error: { code: string; message: string } };
    expect(body.error.message.length).toBeGreaterThan(0);
    await othersAreServed();
  });
});
