import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BodySink, HttpGet } from './http-get.js';
import { nodeHttpGet } from './node-http-get.js';
import { plainHttpGet } from './plain-http-get.js';

// One suite for both HTTP clients, against a real node:http server on loopback.

const BIG = randomBytes(3 * 1024 * 1024 + 17);
const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
  '/big': (req, res) => {
    res.writeHead(200, { 'content-length': String(BIG.length), 'x-seen-authorization': req.headers.authorization ?? '' });
    res.end(BIG);
  },
  '/echo-auth': (req, res) => {
    const body = Buffer.from(req.headers.authorization ?? 'none');
    res.writeHead(200, { 'content-length': String(body.length) }).end(body);
  },
  '/empty': (_req, res) => res.writeHead(200, { 'content-length': '0' }).end(),
  '/cut': (_req, res) => {
    // Promises more than it sends, then hangs up.
    res.writeHead(200, { 'content-length': String(BIG.length) });
    res.write(BIG.subarray(0, 100_000), () => res.destroy());
  },
  '/redirect': (_req, res) => res.writeHead(302, { location: 'http://127.0.0.2:9/elsewhere', 'content-length': '0' }).end(),
  '/huge-error': (_req, res) => {
    res.writeHead(500, { 'content-type': 'text/plain', 'content-length': String(BIG.length) });
    res.end(BIG.toString('hex').slice(0, BIG.length));
  },
  '/stall': (_req, res) => {
    res.writeHead(200, { 'content-length': String(BIG.length) });
    res.write(BIG.subarray(0, 1000));
  },
};

let server: Server;
let base: string;
const stalled = new Set<ServerResponse>();

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/stall') stalled.add(res);
    (routes[req.url ?? ''] ?? ((_q, r: ServerResponse) => r.writeHead(404, { 'content-length': '0' }).end()))(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** Keeps copies of what it is given; with `slowMs`, makes the client wait after each chunk. */
function collector(slowMs = 0): BodySink & { readonly body: () => Buffer } {
  const chunks: Buffer[] = [];
  return {
    write(chunk) {
      chunks.push(Buffer.from(chunk));
      return slowMs > 0 ? new Promise((resolve) => setTimeout(resolve, slowMs)) : undefined;
    },
    body: () => Buffer.concat(chunks),
  };
}

const never = new AbortController().signal;

describe.each([
  ['node:http', nodeHttpGet],
  ['plain', plainHttpGet],
] as [string, HttpGet][])('%s GET', (_name, get) => {
  it('reads the body with the headers given, and says its length', async () => {
    const response = await get(new URL(`${base}/big`), { authorization: 'Bearer t' }, never);
    expect(response).toMatchObject({ status: 200, contentLength: BIG.length });
    const sink = collector();
    expect(await response.readBody(sink)).toBe(BIG.length);
    response.close();
    expect(sink.body().equals(BIG)).toBe(true);
    const auth = await get(new URL(`${base}/echo-auth`), { authorization: 'Bearer secret' }, never);
    expect(await auth.readText(100)).toBe('Bearer secret');
  });

  it('waits for a sink that asks it to', async () => {
    const response = await get(new URL(`${base}/big`), {}, never);
    const sink = collector(1);
    await response.readBody(sink);
    response.close();
    expect(sink.body().equals(BIG)).toBe(true);
  });

  it('reads an empty body', async () => {
    const response = await get(new URL(`${base}/empty`), {}, never);
    expect(await response.readBody(collector())).toBe(0);
    response.close();
  });

  it('fails a body cut short', async () => {
    const response = await get(new URL(`${base}/cut`), {}, never);
    await expect(response.readBody(collector())).rejects.toMatchObject({ code: 'unavailable', message: expect.stringMatching(/ended after \d+ of 3145745 bytes/) });
    response.close();
  });

  it('does not follow a redirect, and says where it pointed', async () => {
    const response = await get(new URL(`${base}/redirect`), { authorization: 'Bearer t' }, never);
    expect(response).toMatchObject({ status: 302, location: 'http://127.0.0.2:9/elsewhere' });
    response.close();
  });

  it('reads no more of an error body than asked', async () => {
    const response = await get(new URL(`${base}/huge-error`), {}, never);
    expect(response.status).toBe(500);
    const text = await response.readText(4096);
    expect(text).toHaveLength(4096);
    expect(text).toBe(BIG.toString('hex').slice(0, 4096));
  });

  it('passes on the sink refusing a chunk', async () => {
    const response = await get(new URL(`${base}/big`), {}, never);
    const refusing: BodySink = {
      write: () => {
        throw new Error('more than catalogued');
      },
    };
    await expect(response.readBody(refusing)).rejects.toThrow('more than catalogued');
    response.close();
  });

  it('stops mid-body when the signal aborts', async () => {
    const halt = new AbortController();
    const response = await get(new URL(`${base}/stall`), {}, halt.signal);
    const reading = response.readBody(collector());
    setTimeout(() => halt.abort(new Error('job cancelled')), 20);
    await expect(reading).rejects.toThrow();
    response.close();
    // The connection is let go: the server sees it close with its body unfinished.
    const [served] = [...stalled];
    stalled.clear();
    await new Promise((resolve) => (served!.destroyed ? resolve(undefined) : served!.once('close', resolve)));
    expect(served!.writableFinished).toBe(false);
  });

  it('says when nothing listens', async () => {
    await expect(get(new URL('http://127.0.0.1:9/x'), {}, never)).rejects.toMatchObject({ code: 'unavailable', message: expect.stringContaining('could not fetch from http://127.0.0.1:9') });
  });
});
