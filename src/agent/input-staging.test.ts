import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AttemptAssignment, AttemptInput } from '../protocol/messages.js';
import type { RunningAttempt } from './drivers/driver.js';
import { stageInputs, withStagedInputs, type Transfer } from './input-staging.js';
import { PartitionStore } from './partition-store.js';

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
    inputs, inputDir, nodeName: 'reader', serverUrl: new URL(url).origin, store: store ?? (await PartitionStore.open(mkdtempSync(join(tmpdir(), 'atoll-store-')))),
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
    const store = await PartitionStore.open(mkdtempSync(join(tmpdir(), 'atoll-store-')));
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

