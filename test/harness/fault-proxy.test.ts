import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FaultProxy } from './fault-proxy.js';

// The proxy against a real echo server over loopback sockets.

let echo: Server;
let echoPort: number;
let proxy: FaultProxy;
const clients: Socket[] = [];
/** The echo server's side of every connection, so a test can close them as the target. */
const echoSockets = new Set<Socket>();

beforeEach(async () => {
  echoSockets.clear();
  echo = createServer((socket) => {
    echoSockets.add(socket);
    // An error here is the test tearing the connection down; the echo has nothing to report.
    socket.on('data', (d) => socket.write(d)).on('error', () => echoSockets.delete(socket));
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', () => resolve()));
  const address = echo.address();
  echoPort = typeof address === 'object' && address ? address.port : 0;
  proxy = await FaultProxy.start({ port: echoPort });
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await proxy.close();
  await new Promise<void>((resolve) => echo.close(() => resolve()));
});

/** A client through the proxy that collects what it receives and notices its close. */
async function dial(): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  const socket = connect({ host: '127.0.0.1', port: proxy.port });
  clients.push(socket);
  let data = '';
  socket.on('data', (d: Buffer) => (data += d.toString()));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return { socket, received: () => data, closed };
}

async function until(check: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`test: gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('FaultProxy', () => {
  it('forwards both ways while healthy', async () => {
    const c = await dial();
    c.socket.write('hello');
    await until(() => c.received() === 'hello', 'the echo');
  });

  it('holds every byte while partitioned and delivers them on heal', async () => {
    const c = await dial();
    proxy.blackhole();
    c.socket.write('during');
    await pause(150);
    expect(c.received()).toBe('');
    // A connection opened during the partition is accepted but reaches nothing yet.
    const late = await dial();
    late.socket.write('late');
    await pause(50);
    expect(late.received()).toBe('');
    proxy.heal();
    await until(() => c.received() === 'during', 'the held bytes');
    await until(() => late.received() === 'late', 'the late connection to reach the target');
  });

  it('tells neither side of a close during a partition until it heals', async () => {
    const c = await dial();
    await until(() => echoSockets.size === 1, 'the connection to reach the target');
    proxy.blackhole();
    let closedSeen = false;
    void c.closed.then(() => (closedSeen = true));
    // The target drops every connection; the client must not learn of it yet.
    for (const socket of echoSockets) socket.destroy();
    await pause(100);
    expect(closedSeen).toBe(false);
    proxy.heal();
    await c.closed;
  });

  it('resets connections on drop and refuses new ones until healed', async () => {
    const c = await dial();
    proxy.drop();
    await c.closed;
    const refused = connect({ host: '127.0.0.1', port: proxy.port });
    clients.push(refused);
    refused.on('error', () => {});
    await new Promise<void>((resolve) => refused.once('close', () => resolve()));
    proxy.heal();
    const again = await dial();
    again.socket.write('back');
    await until(() => again.received() === 'back', 'the echo after heal');
  });

  it('delays every chunk by the set time', async () => {
    proxy.delay(120);
    const c = await dial();
    const started = performance.now();
    c.socket.write('slow');
    await until(() => c.received() === 'slow', 'the delayed echo');
    // Both directions are delayed, so the round trip takes at least twice the delay.
    expect(performance.now() - started).toBeGreaterThanOrEqual(230);
  });
});
