import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MAX_MESSAGE_BYTES } from '../../src/protocol/messages.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { createCsr, newKeyPair } from '../../src/protocol/certificate-request.js';
import { tempDir, trustGlobally } from '../harness/processes.js';

// A node certificate in hostile hands: whatever it sends over the agent WebSocket (garbage bytes,
// broken JSON, mutated protocol messages, oversized or non-UTF-8 frames), the control plane
// refuses it with a close, keeps serving, and nothing but that node's own record may change.

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 60);
const NODE = 'fuzzed';

const hello = {
  type: 'hello', protocol: 1, agentVersion: '0.1.0', running: [], finished: [],
  node: { name: NODE, provider: 'local', region: 'local', zone: '', site: '', kind: 'edge', cpu: 2000, memory: 2 ** 30, priceHour: 0, labels: {} },
};

const usage = { runningAttempts: 0, cpuMillis: 0, memoryBytes: 0, loadAvg1: 0 };
/** Well-formed messages of every kind an agent sends, to be mutated. */
const validMessages: readonly Record<string, unknown>[] = [
  { type: 'heartbeat', usage },
  { type: 'heartbeat', usage, rttMs: { 'eu-west-1': 12 } },
  { type: 'attempts.started', attempts: [{ attemptId: 'a-1', epoch: 1, startedAt: 1 }] },
  { type: 'attempts.logs', chunks: [{ attemptId: 'a-1', stream: 'stdout', time: 1, data: 'hi' }] },
  { type: 'attempts.results', results: [{ attemptId: 'a-1', epoch: 1, outcome: 'succeeded', exitCode: 0, reason: null, startedAt: 1, finishedAt: 2 }] },
  { type: 'leaving' },
  { type: 'relay.credit', stream: 1, bytes: 1024 },
  { type: 'relay.end', stream: 1 },
  { type: 'relay.cancel', stream: 1, reason: 'x' },
];

const hostileLeaf = fc.oneof(
  fc.constantFrom<unknown>(1e308, -0, 2 ** 60, -1, '', '\ud800', 'x'.repeat(3000), null, [], {}, JSON.parse('{"__proto__":{"polluted":"yes"}}'), 'hello', 'heartbeat'),
  fc.jsonValue({ maxDepth: 3 }),
);

/** A valid message with one top-level or nested field replaced; keys defined, so `__proto__` stays own. */
const mutated = fc.tuple(fc.constantFrom(...validMessages), fc.constantFrom('type', 'usage', 'attempts', 'chunks', 'results', 'stream', 'bytes', 'rttMs', '__proto__', 'extra'), hostileLeaf).map(([message, key, leaf]) => {
  const copy = { ...message };
  Object.defineProperty(copy, key, { value: leaf, enumerable: true, writable: true, configurable: true });
  return JSON.stringify(copy);
});

type Frame = { readonly text: string } | { readonly bytes: Uint8Array; readonly binary: boolean };

const frame: fc.Arbitrary<Frame> = fc.oneof(
  mutated.map((text) => ({ text })),
  fc.jsonValue({ maxDepth: 4 }).map((v) => ({ text: JSON.stringify(v) })),
  fc.string({ maxLength: 200 }).map((text) => ({ text })),
  fc.constantFrom('['.repeat(50_000), '{"type":"heartbeat"', 'null', '{"type":"hello"}', JSON.stringify(hello)).map((text) => ({ text })),
  fc.record({ bytes: fc.uint8Array({ maxLength: 300 }), binary: fc.boolean() }),
);

describe('agent protocol under generated hostile frames', () => {
  let server: RunningServer;
  /** The fuzzed node's certificate and key, as an agent gets them on join, and the cluster CA. */
  let identity: { cert: string; key: string; ca: string };

  beforeAll(async () => {
    server = await startServer({ host: '127.0.0.1', port: 0, dataDir: tempDir('protocol-fuzz'), logLevel: 'silent' });
    const ca = readFileSync(server.caFile, 'utf8');
    trustGlobally(ca);
    const joinToken = readFileSync(server.tokens.joinTokenFile, 'utf8').trim();
    const keys = newKeyPair();
    const joined = await fetch(`${server.url}/v1/agents/join`, { method: 'POST', headers: { authorization: `Bearer ${joinToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ node: NODE, csr: createCsr(NODE, keys) }) });
    expect(joined.status).toBe(201);
    identity = { cert: ((await joined.json()) as { certificate: string }).certificate, key: keys.privateKeyPem, ca };
  });

  afterAll(async () => {
    await server?.close();
  });

  /** An open agent connection; `greet` sends a valid hello first. */
  const connectAgent = (): Promise<{ ws: WebSocket; closed: Promise<number> }> =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(`${server.url.replace('http', 'ws')}/v1/agents/connect`, identity);
      const closed = new Promise<number>((done) => ws.on('close', (code) => done(code)));
      ws.on('error', () => undefined);
      ws.once('open', () => resolve({ ws, closed }));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    });

  const send = (ws: WebSocket, f: Frame) => {
    if (ws.readyState !== WebSocket.OPEN) return;
    if ('text' in f) ws.send(f.text);
    else ws.send(f.bytes, { binary: f.binary });
  };

  const healthy = async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  };

  it('survives any sequence of generated frames, before and after a hello', async () => {
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.array(frame, { minLength: 1, maxLength: 5 }), async (greet, frames) => {
        const { ws, closed } = await connectAgent();
        if (greet) ws.send(JSON.stringify(hello));
        for (const f of frames) send(ws, f);
        // A refusal closes the connection; a frame that was valid leaves it open, and we close it.
        const code = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(0), 150))]);
        if (code === 0) {
          ws.close();
          await closed;
        }
        await healthy();
      }),
      { numRuns: RUNS },
    );
    expect(Object.keys(Object.prototype)).toEqual([]);
  }, 300_000);

  it('closes a connection that sends a frame over the size limit (1009) or text that is not UTF-8 (1007)', async () => {
    const big = await connectAgent();
    big.ws.send(Buffer.alloc(MAX_MESSAGE_BYTES + 1, 0x20), { binary: false });
    expect(await big.closed).toBe(1009);
    const bad = await connectAgent();
    bad.ws.send(JSON.stringify(hello));
    bad.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    expect(await bad.closed).toBe(1007);
    await healthy();
  });

  it('refuses a hello with a __proto__ label with a protocol error naming the field', async () => {
    const { ws, closed } = await connectAgent();
    const messages: string[] = [];
    ws.on('message', (data) => messages.push(data.toString()));
    const node = JSON.parse(JSON.stringify(hello.node)) as Record<string, unknown>;
    ws.send(JSON.stringify({ ...hello, node }).replace('"labels":{}', '"labels":{"__proto__":"x"}'));
    expect(await closed).toBe(1008);
    expect(messages.join('\n')).toContain('node.labels.__proto__');
    await healthy();
  });
});
