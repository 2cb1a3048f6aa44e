import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AttemptAssignment, AttemptInput } from '../protocol/messages.js';
import type { RunningAttempt } from './drivers/driver.js';
import { fetchTo, stageInputs, withStagedInputs, type Transfer } from './input-staging.js';
import { PartitionStore } from './partition-store.js';
import { closingStores } from './testing/open-stores.js';

const openStore = closingStores();


// Staging against a real HTTP holder on loopback that serves whatever a test tells it to.

const GOOD = Buffer.from('temperature,21.5\n'.repeat(1000));
const SHA = createHash('sha256').update(GOOD).digest('hex');

let holder: Server;
let url: string;
let serve: Buffer;
let status: number;

beforeEach(async () => {
  serve = GOOD;
  status = 200;
  holder = createServer((req, res) => {
    if (req.headers.authorization !== 'Bearer t') {
      res.writeHead(401).end('{"error":{"message":"missing data token"}}');
      return;
    }
    if (status !== 200) {
      res.writeHead(status, { 'content-type': 'application/json' }).end('{"error":{"message":"residency class eu-personal may only be read in [DE]"}}');
      return;
    }
    res.writeHead(200, { 'content-length': String(serve.length) }).end(serve);
  });
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', () => resolve()));
  const address = holder.address();
  url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/v1/data/default/readings/berlin`;
});

afterEach(async () => {
  await new Promise<void>((resolve) => holder.close(() => resolve()));
});

const remote = (overrides: Partial<AttemptInput> = {}): AttemptInput => ({
  namespace: 'default', dataset: 'readings', partition: 'berlin', sha256: SHA, bytes: GOOD.length, node: 'edge-berlin', url, token: 't', ...overrides,
});

async function stage(inputs: AttemptInput[], store?: PartitionStore) {
  const inputDir = mkdtempSync(join(tmpdir(), 'atoll-input-'));
  const transfers: Transfer[] = [];
  const run = stageInputs({
    inputs, inputDir, nodeName: 'reader', serverUrl: new URL(url).origin, store: store ?? (await openStore(mkdtempSync(join(tmpdir(), 'atoll-store-')))),
    signal: new AbortController().signal, onTransfer: (t) => transfers.push(t),
  });
  return { inputDir, transfers, run };
}

describe('stageInputs', () => {
  it('fetches a relayed input from its path on the control plane', async () => {
    const { inputDir, run } = await stage([remote({ url: new URL(url).pathname })]);
    await run;
    expect(readFileSync(join(inputDir, 'readings', 'berlin')).equals(GOOD)).toBe(true);
  });

  it('fetches a partition from its holder into <input>/<dataset>/<partition> and reports the transfer', async () => {
    const { inputDir, transfers, run } = await stage([remote()]);
    await run;
    expect(readFileSync(join(inputDir, 'readings', 'berlin')).equals(GOOD)).toBe(true);
    expect(transfers).toEqual([expect.objectContaining({ bytes: GOOD.length, input: expect.objectContaining({ node: 'edge-berlin' }) })]);
  });

  it('copies a partition this node holds, without the network', async () => {
    const store = await openStore(mkdtempSync(join(tmpdir(), 'atoll-store-')));
    await store.put({ namespace: 'default', dataset: 'readings', partition: 'berlin' }, Readable.from([GOOD]), { maxBytes: 1e6, residencyClass: null });
    const { inputDir, transfers, run } = await stage([remote({ node: 'reader', url: null, token: null })], store);
    await run;
    expect(readFileSync(join(inputDir, 'readings', 'berlin')).equals(GOOD)).toBe(true);
    expect(transfers).toEqual([]);
  });

  it('refuses altered bytes and leaves nothing behind', async () => {
    serve = Buffer.concat([GOOD.subarray(0, 10), Buffer.from('X'), GOOD.subarray(11)]);
    const { inputDir, run } = await stage([remote()]);
    await expect(run).rejects.toThrow(/checksum mismatch: expected sha256/);
    expect(readdirSync(join(inputDir, 'readings'))).toEqual([]);
  });

  it('stops a holder that sends more than the catalogued size', async () => {
    serve = Buffer.concat([GOOD, Buffer.alloc(1e6)]);
    const { inputDir, run } = await stage([remote()]);
    await expect(run).rejects.toThrow(/sent more than the \d+ bytes catalogued/);
    expect(readdirSync(join(inputDir, 'readings'))).toEqual([]);
  });

  it('refuses partition names that would leave the input dir', async () => {
    const { run } = await stage([remote({ partition: '../../escaped' })]);
    await expect(run).rejects.toMatchObject({ code: 'invalid_request' });
  });

  it('says what the holder said when it refuses', async () => {
    status = 403;
    const { run } = await stage([remote()]);
    await expect(run).rejects.toMatchObject({ code: 'forbidden', message: 'the holder refused: residency class eu-personal may only be read in [DE]' });
  });

  it('refuses a local partition the store does not hold as catalogued', async () => {
    const { run } = await stage([remote({ node: 'reader', url: null, token: null })]);
    await expect(run).rejects.toThrow(/not in this node's store as catalogued/);
  });
});

describe('withStagedInputs', () => {
  const assignment = { attemptId: 'j.0.1' } as AttemptAssignment;
  const neverStarted = (): RunningAttempt => {
    throw new Error('test: the driver must not start');
  };

  it('fails the attempt, never started, when staging fails', async () => {
    const attempt = withStagedInputs(assignment, async () => {
      throw new Error('checksum mismatch');
    }, neverStarted);
    expect(await attempt.result).toMatchObject({ outcome: 'failed', startedAt: null, reason: "could not stage the task's inputs: checksum mismatch" });
  });

  it('stops staging on cancel and reports the attempt cancelled', async () => {
    let seen: AbortSignal | undefined;
    const attempt = withStagedInputs(assignment, (signal) => {
      seen = signal;
      return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error)));
    }, neverStarted);
    attempt.cancel('job cancelled');
    expect(await attempt.result).toMatchObject({ outcome: 'cancelled', reason: 'job cancelled' });
    expect(seen?.aborted).toBe(true);
  });

  it('starts the driver once the inputs are in place', async () => {
    const started: RunningAttempt = { attemptId: 'j.0.1', result: Promise.resolve({ outcome: 'succeeded', exitCode: 0, reason: null, startedAt: 1, finishedAt: 2 }), cancel: () => undefined };
    const attempt = withStagedInputs(assignment, async () => undefined, () => started);
    expect(await attempt.result).toMatchObject({ outcome: 'succeeded' });
  });
});


// fetchTo on its three paths: a small partition (node:http, checked in memory, written whole), a
// medium one (node:http, block writer, inline hash) and a large one (the lean client, hashed and
// written on the worker thread), against a holder whose answer each test sets.
describe.each([
  ['small', 20_000],
  ['medium', 1024 * 1024 + 1],
  ['large', 9 * 1024 * 1024],
])('fetchTo, %s partition', (_name, size) => {
  const content = randomBytes(size);
  const expected = { sha256: createHash('sha256').update(content).digest('hex'), bytes: size };
  type Handler = (req: IncomingMessage, res: ServerResponse) => void;
  let handler: Handler;
  let source: Server;
  let sourceUrl: string;
  let seen: IncomingMessage[];
  let dir: string;

  beforeEach(async () => {
    seen = [];
    handler = (_req, res) => res.writeHead(200, { 'content-length': String(size) }).end(content);
    source = createServer((req, res) => {
      seen.push(req);
      handler(req, res);
    });
    await new Promise<void>((resolve) => source.listen(0, '127.0.0.1', () => resolve()));
    const address = source.address();
    sourceUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/v1/data/default/readings/berlin`;
    dir = mkdtempSync(join(tmpdir(), 'atoll-fetch-'));
  });

  afterEach(async () => {
    source.closeAllConnections();
    await new Promise<void>((resolve) => source.close(() => resolve()));
  });

  const fetch = (signal = new AbortController().signal) => fetchTo(sourceUrl, 't', join(dir, 'berlin'), expected, signal);

  it('puts the bytes at dest, sends the token, and says how many came', async () => {
    expect(await fetch()).toBe(size);
    expect(readFileSync(join(dir, 'berlin')).equals(content)).toBe(true);
    expect(readdirSync(dir)).toEqual(['berlin']);
    expect(seen[0]?.headers.authorization).toBe('Bearer t');
  });

  it('detects altered bytes and leaves nothing', async () => {
    const altered = Buffer.from(content);
    altered[size - 1] = altered[size - 1]! ^ 1;
    handler = (_req, res) => res.writeHead(200, { 'content-length': String(size) }).end(altered);
    await expect(fetch()).rejects.toMatchObject({ code: 'conflict', message: expect.stringContaining('checksum mismatch') });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('stops a body longer than catalogued, with or without a Content-Length, and leaves nothing', async () => {
    const longer = Buffer.concat([content, Buffer.alloc(2 * 1024 * 1024)]);
    handler = (_req, res) => res.writeHead(200, { 'content-length': String(longer.length) }).end(longer);
    await expect(fetch()).rejects.toMatchObject({ code: 'conflict', message: expect.stringContaining(`more than the ${size} bytes catalogued`) });
    expect(readdirSync(dir)).toEqual([]);
    // Chunked, so only counting the bytes can tell (the lean client refuses such a body outright).
    handler = (_req, res) => {
      res.writeHead(200);
      res.end(longer);
    };
    await expect(fetch()).rejects.toMatchObject({ message: expect.stringMatching(/more than the \d+ bytes catalogued|chunked/) });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('fails a body cut short and leaves nothing', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-length': String(size) });
      res.write(content.subarray(0, size >> 1), () => res.destroy());
    };
    await expect(fetch()).rejects.toMatchObject({ code: 'unavailable', message: expect.stringMatching(/ended after \d+ of \d+ bytes/) });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses a redirect: the token goes nowhere else', async () => {
    let elsewhere = 0;
    const other = createServer((_req, res) => {
      elsewhere += 1;
      res.writeHead(200, { 'content-length': String(size) }).end(content);
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', () => resolve()));
    const address = other.address();
    const location = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/stolen`;
    try {
      handler = (_req, res) => res.writeHead(307, { location, 'content-length': '0' }).end();
      await expect(fetch()).rejects.toMatchObject({ message: expect.stringContaining(`redirect (HTTP 307 to ${location})`) });
      expect(elsewhere).toBe(0);
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });

  it("reads at most 4 KiB of a refusal's body", async () => {
    let sent = 0;
    let closed = false;
    handler = (_req, res) => {
      const huge = 64 * 1024 * 1024;
      const piece = Buffer.alloc(64 * 1024, 'x');
      res.on('close', () => (closed = true));
      res.writeHead(500, { 'content-length': String(huge) });
      // Written as the client takes it, so `sent` says how much it took before it hung up.
      const more = (): void => {
        while (sent < huge && !closed) {
          sent += piece.length;
          if (!res.write(piece)) {
            res.once('drain', more);
            return;
          }
        }
      };
      more();
    };
    await expect(fetch()).rejects.toMatchObject({ code: 'unavailable', message: `the holder refused: ${'x'.repeat(500)}` });
    await vi.waitFor(() => expect(closed).toBe(true));
    // Socket buffers take a few MiB; the client read none of the rest.
    expect(sent).toBeLessThan(16 * 1024 * 1024);
  });

  it("says forbidden with the holder's message on 403, its body framed either way", async () => {
    const body = '{"error":{"message":"residency class eu-personal may only be read in [DE]"}}';
    const refused = { code: 'forbidden', message: 'the holder refused: residency class eu-personal may only be read in [DE]' };
    handler = (_req, res) => res.writeHead(403, { 'content-type': 'application/json', 'content-length': String(body.length) }).end(body);
    await expect(fetch()).rejects.toMatchObject(refused);
    handler = (_req, res) => {
      res.writeHead(403, { 'content-type': 'application/json' });
      res.write(body.slice(0, 10));
      res.end(body.slice(10));
    };
    await expect(fetch()).rejects.toMatchObject(refused);
  });

  it('stops mid-transfer on abort, with the reason, and leaves nothing', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-length': String(size) });
      // Part of the body, then nothing: only the abort ends the transfer.
      res.write(content.subarray(0, 10_000));
    };
    const halt = new AbortController();
    const fetching = fetch(halt.signal);
    await vi.waitFor(() => expect(seen).toHaveLength(1));
    await new Promise((resolve) => setTimeout(resolve, 20));
    halt.abort(new Error('job cancelled'));
    await expect(fetching).rejects.toThrow('job cancelled');
    expect(readdirSync(dir)).toEqual([]);
  });
});
