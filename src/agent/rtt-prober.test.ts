import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type ConnectTimer, RttProber, splitHostPort, timeTcpConnect } from './rtt-prober.js';

// Real connects go to 127.0.0.1 only; timeouts use an injected connect, since a listening socket
// on loopback always completes the handshake.

interface LoopbackServer {
  readonly port: number;
  /** Connections accepted so far. */
  accepted(): number;
  /** Connections the client has closed again. */
  closed(): number;
  close(): Promise<void>;
}

async function loopbackServer(): Promise<LoopbackServer> {
  let accepted = 0;
  let closed = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => {
      closed += 1;
      sockets.delete(socket);
    });
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no address');
  return {
    port: address.port,
    accepted: () => accepted,
    closed: () => closed,
    close: () => new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

/** A loopback port nobody listens on: bound by the OS, then released. */
async function refusedPort(): Promise<number> {
  const server = await loopbackServer();
  await server.close();
  return server.port;
}

async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Answers with the given times in turn; a number below 0 fails that try. */
function scripted(times: number[]): ConnectTimer & { calls: string[] } {
  const calls: string[] = [];
  const fn = async (host: string, port: number) => {
    calls.push(`${host}:${port}`);
    const next = times.shift();
    if (next === undefined || next < 0) throw new Error('connect ECONNREFUSED');
    return next;
  };
  return Object.assign(fn, { calls });
}

/** Never connects; rejects only when told to give up. Counts tries started and given up. */
function hanging() {
  const counts = { started: 0, aborted: 0 };
  const connect: ConnectTimer = (_host, _port, signal) => new Promise((_resolve, reject) => {
    counts.started += 1;
    signal.addEventListener('abort', () => {
      counts.aborted += 1;
      reject(signal.reason as Error);
    }, { once: true });
  });
  return { connect, counts };
}

function debugLog() {
  const lines: { details: object; message: string }[] = [];
  return { lines, debug: (details: object, message: string) => void lines.push({ details, message }) };
}

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

describe('timeTcpConnect', () => {
  it('times a handshake with a loopback listener and closes the socket', async () => {
    const server = await loopbackServer();
    cleanup.push(() => server.close());
    const ms = await timeTcpConnect('127.0.0.1', server.port, new AbortController().signal);
    expect(ms).toBeGreaterThan(0);
    expect(ms).toBeLessThan(2000);
    await until(() => server.closed() === 1, 'the probe connection to be closed');
    expect(server.accepted()).toBe(1);
  });

  it('rejects for a refused port', async () => {
    const port = await refusedPort();
    await expect(timeTcpConnect('127.0.0.1', port, new AbortController().signal)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('does not connect once the signal has aborted', async () => {
    const server = await loopbackServer();
    cleanup.push(() => server.close());
    const controller = new AbortController();
    controller.abort(new Error('given up'));
    await expect(timeTcpConnect('127.0.0.1', server.port, controller.signal)).rejects.toThrow('given up');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(server.accepted()).toBe(0);
  });
});

describe('splitHostPort', () => {
  it.each([
    { target: '127.0.0.1:80', expected: { host: '127.0.0.1', port: 80 } },
    { target: 'probe.eu-west-1.example.com:443', expected: { host: 'probe.eu-west-1.example.com', port: 443 } },
    { target: '[::1]:8443', expected: { host: '::1', port: 8443 } },
  ])('$target', ({ target, expected }) => {
    expect(splitHostPort(target)).toEqual(expected);
  });
});

describe('RttProber', () => {
  it('measures each region over loopback with three connects, each closed again', async () => {
    const server = await loopbackServer();
    cleanup.push(() => server.close());
    const prober = new RttProber({ probes: { 'eu-west-3': `127.0.0.1:${server.port}` } });
    await prober.probeOnce();
    const rtt = prober.latest['eu-west-3'];
    expect(rtt).toBeGreaterThan(0);
    expect(rtt).toBeLessThan(2000);
    expect(server.accepted()).toBe(3);
    await until(() => server.closed() === 3, 'all probe connections to be closed');
  });

  it('keeps the median of the tries', async () => {
    const connect = scripted([5, 1, 3, 40, 20, 30]);
    const prober = new RttProber({ probes: { a: '127.0.0.1:1' }, connect });
    await prober.probeOnce();
    expect(prober.latest).toEqual({ a: 3 });
    await prober.probeOnce();
    expect(prober.latest).toEqual({ a: 30 });
    expect(connect.calls).toEqual(Array(6).fill('127.0.0.1:1'));
  });

  it('has no value for a refused port, says why at debug, and still measures the other regions', async () => {
    const server = await loopbackServer();
    cleanup.push(() => server.close());
    const port = await refusedPort();
    const log = debugLog();
    const prober = new RttProber({ probes: { up: `127.0.0.1:${server.port}`, down: `127.0.0.1:${port}` }, log });
    await prober.probeOnce();
    expect(Object.keys(prober.latest)).toEqual(['up']);
    expect(log.lines).toHaveLength(1);
    expect(log.lines[0]!.details).toEqual({ region: 'down', target: `127.0.0.1:${port}` });
    expect(log.lines[0]!.message).toMatch(/^round-trip probe failed: .*ECONNREFUSED/);
  });

  it('gives up on a connect that takes longer than the timeout', async () => {
    const { connect, counts } = hanging();
    const log = debugLog();
    const prober = new RttProber({ probes: { slow: '127.0.0.1:9' }, connect, timeoutMs: 20, log });
    await prober.probeOnce();
    expect(prober.latest).toEqual({});
    // One try timed out; the other two were not attempted.
    expect(counts).toEqual({ started: 1, aborted: 1 });
    expect(log.lines.map((l) => l.message)).toEqual(['round-trip probe failed: no connection within 20 ms']);
  });

  it('keeps the last good value for keepRounds failed rounds, then drops it', async () => {
    // A failed try ends its round, so each failed round takes one entry.
    const connect = scripted([7, 7, 7, -1, -1, 9, 9, 9, -1, -1, -1]);
    const changes: Record<string, number>[] = [];
    const prober = new RttProber({ probes: { r: '127.0.0.1:1' }, connect, keepRounds: 2, onChange: (rtt) => changes.push({ ...rtt }) });
    const seen: Record<string, number>[] = [];
    for (let round = 0; round < 7; round += 1) {
      await prober.probeOnce();
      seen.push({ ...prober.latest });
    }
    expect(seen).toEqual([{ r: 7 }, { r: 7 }, { r: 7 }, { r: 9 }, { r: 9 }, { r: 9 }, {}]);
    // Only rounds whose result differs from the previous one are reported.
    expect(changes).toEqual([{ r: 7 }, { r: 9 }, {}]);
  });

  it('survives a connect that throws and a listener that throws', async () => {
    const log = debugLog();
    const throwing: ConnectTimer = () => {
      throw new Error('boom');
    };
    const prober = new RttProber({ probes: { x: '127.0.0.1:1' }, connect: throwing, log });
    await expect(prober.probeOnce()).resolves.toBeUndefined();
    expect(prober.latest).toEqual({});

    const angry = new RttProber({ probes: { x: '127.0.0.1:1' }, connect: scripted([1, 1, 1]), log, onChange: () => {
      throw new Error('listener broke');
    } });
    await expect(angry.probeOnce()).resolves.toBeUndefined();
    expect(angry.latest).toEqual({ x: 1 });
    expect(log.lines.map((l) => l.message)).toEqual(['round-trip probe failed: boom', 'round-trip listener failed']);
  });

  it('runs a first round at start, repeats every interval, and stops', async () => {
    const server = await loopbackServer();
    cleanup.push(() => server.close());
    const changes: number[] = [];
    const prober = new RttProber({ probes: { here: `127.0.0.1:${server.port}` }, intervalMs: 30, onChange: () => changes.push(server.accepted()) });
    prober.start();
    await until(() => server.accepted() >= 3, 'the first round');
    await until(() => server.accepted() >= 9, 'two more rounds');
    await prober.stop();
    // Let connects made before stop() reach the server's accept before counting.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const after = server.accepted();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(server.accepted()).toBe(after);
    expect(changes.length).toBeGreaterThanOrEqual(1);
  });

  it('cuts a round in flight short when stopped, and reports nothing after', async () => {
    const { connect, counts } = hanging();
    const changes: unknown[] = [];
    const prober = new RttProber({ probes: { a: '127.0.0.1:1', b: '127.0.0.1:2' }, connect, timeoutMs: 60_000, onChange: (r) => changes.push(r) });
    prober.start();
    await until(() => counts.started === 2, 'both regions to be probed');
    await prober.stop();
    expect(counts).toEqual({ started: 2, aborted: 2 });
    expect(changes).toEqual([]);
    expect(prober.latest).toEqual({});
  });
});
