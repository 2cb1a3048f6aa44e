import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { connect } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateDataSigningKeys, signDataToken, type DataTokenClaims } from '../protocol/data-token.js';
import { DataServer } from './data-server.js';
import { PartitionAccess } from './partition-access.js';
import { PartitionStore } from './partition-store.js';

// The data server over real HTTP on loopback, with tokens signed by a real key.

const keys = generateDataSigningKeys();
const CONTENT = 'temperature,21.5\n'.repeat(100);
const SHA = createHash('sha256').update(CONTENT).digest('hex');

let store: PartitionStore;
let server: DataServer;
let base: string;
let refusals: { reason: string }[];
let stored: string[];
let keyKnown: boolean;

beforeEach(async () => {
  store = await PartitionStore.open(mkdtempSync(join(tmpdir(), 'atoll-data-')));
  await store.put({ namespace: 'default', dataset: 'readings', partition: 'berlin' }, Readable.from([CONTENT]), { maxBytes: 1e6, residencyClass: 'eu-personal' });
  refusals = [];
  stored = [];
  keyKnown = true;
  server = new DataServer({
    access: new PartitionAccess({
      store, nodeName: 'edge-berlin', maxUploadBytes: 4096,
      publicKey: () => (keyKnown ? keys.publicKey : undefined),
      residency: (c) => (c === 'eu-personal' ? { jurisdictions: new Set(['DE', 'FR']), policy: 'gdpr' } : undefined),
      onStored: (ref) => stored.push(ref.partition),
      onRefused: (r) => refusals.push(r),
    }),
    onInternalError: (error) => {
      throw error;
    },
    // Short, so the stalled-upload test below is quick; every other request here moves at once.
    idleTimeoutMs: 1000,
  });
  const { port } = await server.listen('127.0.0.1', 0);
  base = `http://127.0.0.1:${port}/v1/data`;
});

afterEach(async () => {
  await server.close();
  await store.close();
});

const token = (claims: Partial<DataTokenClaims> = {}, key = keys.privateKey) =>
  signDataToken({ op: 'read', namespace: 'default', dataset: 'readings', partition: 'berlin', node: 'edge-berlin', for: 'peer', forJurisdiction: 'FR', exp: Date.now() + 60_000, ...claims }, key);

/** A GET with the path sent as written: fetch would resolve `%2e%2e` before it left. */
const get = (path: string, bearer?: string): Promise<{ status: number; headers: { get(name: string): string | null }; text(): Promise<string>; json(): Promise<unknown> }> =>
  new Promise((resolve, reject) => {
    const url = new URL(base);
    const req = request({ host: url.hostname, port: url.port, path: `${url.pathname}/${path}`, headers: bearer === undefined ? {} : { authorization: `Bearer ${bearer}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: { get: (name) => (res.headers[name] as string | undefined) ?? null }, text: async () => body, json: async () => JSON.parse(body) as unknown });
      });
    });
    req.on('error', reject);
    req.end();
  });

describe('DataServer', () => {
  it('serves a partition to a reader inside its class, with its checksum', async () => {
    const response = await get('default/readings/berlin', token({ sha256: SHA }));
    expect(response.status).toBe(200);
    expect(response.headers.get('x-atoll-sha256')).toBe(SHA);
    expect(await response.text()).toBe(CONTENT);
  });

  it('refuses a reader outside the class even with a valid token, and reports it', async () => {
    const response = await get('default/readings/berlin', token({ forJurisdiction: 'US' }));
    expect(response.status).toBe(403);
    expect((await response.json()) as unknown).toMatchObject({ error: { code: 'forbidden', message: expect.stringContaining('may only be read in [DE, FR]') } });
    expect(refusals).toEqual([expect.objectContaining({ for: 'peer', forJurisdiction: 'US', policy: 'gdpr' })]);
  });

  it.each<{ name: string; path: string; bearer: () => string | undefined; status: number }>([
    { name: 'no token', path: 'default/readings/berlin', bearer: () => undefined, status: 401 },
    { name: 'a token from another key', path: 'default/readings/berlin', bearer: () => token({}, generateDataSigningKeys().privateKey), status: 401 },
    { name: 'an expired token', path: 'default/readings/berlin', bearer: () => token({ exp: Date.now() - 1 }), status: 401 },
    { name: 'a token for another partition', path: 'default/readings/berlin', bearer: () => token({ partition: 'paris' }), status: 403 },
    { name: 'a token for another node', path: 'default/readings/berlin', bearer: () => token({ node: 'edge-paris' }), status: 403 },
    { name: 'a token naming other content', path: 'default/readings/berlin', bearer: () => token({ sha256: 'f'.repeat(64) }), status: 409 },
    { name: 'a partition not here', path: 'default/readings/paris', bearer: () => token({ partition: 'paris' }), status: 404 },
    { name: 'a path with ..', path: 'default/readings/%2e%2e', bearer: () => token(), status: 400 },
    { name: 'a malformed path', path: 'default/readings', bearer: () => token(), status: 404 },
    { name: 'bad percent-encoding', path: 'default/readings/%E0%A4%A', bearer: () => token(), status: 400 },
  ])('answers $status to $name', async ({ path, bearer, status }) => {
    const response = await get(path, bearer());
    expect(response.status).toBe(status);
    expect(((await response.json()) as { error: { message: string } }).error.message.length).toBeGreaterThan(0);
  });

  it('answers 503 until the control plane\'s key is known', async () => {
    keyKnown = false;
    expect((await get('default/readings/berlin', token())).status).toBe(503);
  });

  it('stores an upload made with a write token, and refuses one over the size limit', async () => {
    const write = token({ op: 'write', partition: 'paris', for: 'client', forJurisdiction: null, residencyClass: null });
    const ok = await fetch(`${base}/default/readings/paris`, { method: 'PUT', headers: { authorization: `Bearer ${write}` }, body: 'x'.repeat(100) });
    expect(ok.status).toBe(201);
    expect(await ok.json()).toEqual({ sha256: createHash('sha256').update('x'.repeat(100)).digest('hex'), bytes: 100 });
    expect(stored).toEqual(['paris']);
    const big = await fetch(`${base}/default/readings/huge`, { method: 'PUT', headers: { authorization: `Bearer ${token({ op: 'write', partition: 'huge' })}` }, body: 'x'.repeat(5000) });
    expect(big.status).toBe(413);
    expect(store.get({ namespace: 'default', dataset: 'readings', partition: 'huge' })).toBeUndefined();
    // A read token cannot write, nor a write token read.
    expect((await fetch(`${base}/default/readings/berlin`, { method: 'PUT', headers: { authorization: `Bearer ${token()}` }, body: 'x' })).status).toBe(403);
    expect((await get('default/readings/paris', write)).status).toBe(403);
  });

  it('cuts off an upload that stalls, keeps nothing of it, and serves other clients meanwhile', async () => {
    const url = new URL(base);
    const write = token({ op: 'write', partition: 'stalled', for: 'client', forJurisdiction: null, residencyClass: null });
    const socket = connect(Number(url.port), '127.0.0.1');
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    // The server resets the connection when it gives up; the close above is what the test waits for.
    socket.on('error', () => undefined);
    socket.write(`PUT /v1/data/default/readings/stalled HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${write}\r\nContent-Length: 4000\r\n\r\n${'x'.repeat(10)}`);
    expect((await get('default/readings/berlin', token())).status).toBe(200);
    await closed;
    expect(store.get({ namespace: 'default', dataset: 'readings', partition: 'stalled' })).toBeUndefined();
    expect(stored).toEqual([]);
  });
});
