import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateDataSigningKeys, signDataToken, type DataTokenClaims } from '../../protocol/data-token.js';
import { DataServer, type DataRefusal } from './data-server.js';
import { fetchPartition } from './fetch-partition.js';
import { PartitionStore, type PartitionRef } from './partition-store.js';

// Two nodes on 127.0.0.1, each with its own store: edge-berlin (DE) holds and serves, edge-paris
// (FR) or edge-virginia (US) fetch. Tokens are signed by a real control-plane key.

const keys = generateDataSigningKeys();
const CONTENT = Buffer.from('reading,42\n'.repeat(5000));
const SHA = createHash('sha256').update(CONTENT).digest('hex');
const REF: PartitionRef = { namespace: 'default', dataset: 'readings', partition: 'berlin' };
const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

const token = (claims: Partial<DataTokenClaims> = {}) =>
  signDataToken({
    op: 'read', namespace: 'default', dataset: 'readings', partition: 'berlin', node: 'edge-berlin',
    for: 'edge-paris', forJurisdiction: 'FR', sha256: SHA, exp: Date.now() + 60_000, ...claims,
  }, keys.privateKey);

const openStore = async () => {
  const dir = mkdtempSync(join(tmpdir(), 'atoll-fetch-'));
  return { dir, store: await PartitionStore.open(dir) };
};
const isEmpty = (dir: string, store: PartitionStore) => {
  expect(store.list()).toEqual([]);
  expect(readdirSync(join(dir, 'objects'))).toEqual([]);
  expect(readdirSync(join(dir, 'incoming'))).toEqual([]);
};

let holder: { dir: string; store: PartitionStore };
let reader: { dir: string; store: PartitionStore };
let server: DataServer;
let refusals: DataRefusal[];
let url: string;
const extraServers: Server[] = [];

/** Uploads the partition to the holder over HTTP, as a client would. */
async function upload(body: Buffer, residencyClass: string | null): Promise<void> {
  const write = signDataToken({ ...REF, op: 'write', node: 'edge-berlin', for: 'client', forJurisdiction: null, residencyClass, exp: Date.now() + 60_000 }, keys.privateKey);
  const answer = await fetch(url, { method: 'PUT', headers: { authorization: `Bearer ${write}` }, body });
  expect(answer.status).toBe(201);
}

/** A holder that misbehaves in a way the real one never would. */
async function fakeHolder(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const fake = createServer(handler);
  extraServers.push(fake);
  await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(fake.address() as AddressInfo).port}/v1/data/default/readings/berlin`;
}

const fetchInto = (overrides: Partial<Parameters<typeof fetchPartition>[0]> = {}) =>
  fetchPartition({ url, token: token(), store: reader.store, ref: REF, expectedSha256: SHA, residencyClass: 'eu-personal', maxBytes: 1e6, ...overrides });

beforeEach(async () => {
  holder = await openStore();
  reader = await openStore();
  refusals = [];
  server = await DataServer.start({
    store: holder.store, nodeName: 'edge-berlin', host: '127.0.0.1', port: 0, publicKey: keys.publicKey, maxUploadBytes: 1e6,
    allowedJurisdictions: (c) => (c === 'eu-personal' ? new Set(['DE', 'FR']) : undefined),
    onRefused: (refusal) => refusals.push(refusal),
  });
  url = `${server.url}/v1/data/default/readings/berlin`;
});

afterEach(async () => {
  await server.close();
  for (const fake of extraServers.splice(0)) {
    fake.closeAllConnections();
    await new Promise((resolve) => fake.close(resolve));
  }
});

describe('fetchPartition', () => {
  it('fetches an uploaded partition into another node\'s store, intact and with its class', async () => {
    await upload(CONTENT, 'eu-personal');
    const fetched = await fetchInto();
    expect(fetched).toEqual({ sha256: SHA, bytes: CONTENT.length, durationMs: expect.any(Number) });
    expect(fetched.durationMs).toBeGreaterThanOrEqual(0);
    expect(reader.store.get(REF)).toMatchObject({ sha256: SHA, bytes: CONTENT.length, residencyClass: 'eu-personal' });
    expect(Buffer.from(await text((await reader.store.open(REF)).stream))).toEqual(CONTENT);
    // Durable on the reader's side too.
    expect((await PartitionStore.open(reader.dir)).get(REF)).toMatchObject({ sha256: SHA });
  });

  it('refuses bytes tampered with on the holder\'s disk, and keeps nothing', async () => {
    await upload(CONTENT, 'eu-personal');
    const tampered = Buffer.from(CONTENT);
    tampered.write('READING', 0);
    writeFileSync(holder.store.objectPath(SHA), tampered);
    await expect(fetchInto()).rejects.toMatchObject({ code: 'conflict', message: expect.stringContaining(`checksum mismatch: expected ${SHA}, got ${sha(tampered)}`) });
    isEmpty(reader.dir, reader.store);
  });

  it('refuses when the holder serves other content than the catalog names (its header says so), and keeps nothing', async () => {
    await upload(Buffer.from('another version'), null);
    // A token without sha256, so the holder serves what it has.
    await expect(fetchInto({ token: token({ sha256: undefined }) })).rejects.toMatchObject({ code: 'conflict', message: expect.stringContaining(`expected ${SHA}`) });
    isEmpty(reader.dir, reader.store);
  });

  it('refuses substituted bytes from a holder that lies in its checksum header, and keeps nothing', async () => {
    const evil = Buffer.from('x'.repeat(CONTENT.length));
    const fake = await fakeHolder((_req, res) => {
      res.writeHead(200, { 'content-length': String(evil.length), 'x-atoll-sha256': SHA });
      res.end(evil);
    });
    await expect(fetchInto({ url: fake })).rejects.toMatchObject({ code: 'conflict', message: expect.stringContaining('checksum mismatch') });
    isEmpty(reader.dir, reader.store);
  });

  it('detects a transfer cut short, and keeps nothing', async () => {
    const fake = await fakeHolder((_req, res) => {
      res.writeHead(200, { 'content-length': String(CONTENT.length) });
      res.write(CONTENT.subarray(0, 1000), () => res.destroy());
    });
    await expect(fetchInto({ url: fake })).rejects.toMatchObject({ code: 'unavailable', message: expect.stringContaining('was cut') });
    isEmpty(reader.dir, reader.store);
  });

  it('detects a truncated body sent without a length, and keeps nothing', async () => {
    const fake = await fakeHolder((_req, res) => {
      res.writeHead(200);
      res.end(CONTENT.subarray(0, 1000));
    });
    await expect(fetchInto({ url: fake })).rejects.toMatchObject({ code: 'conflict', message: expect.stringContaining('checksum mismatch') });
    isEmpty(reader.dir, reader.store);
  });

  it('passes on the holder\'s residency refusal, even with a valid signed token', async () => {
    await upload(CONTENT, 'eu-personal');
    const outside = token({ for: 'edge-virginia', forJurisdiction: 'US' });
    await expect(fetchInto({ token: outside })).rejects.toMatchObject({ code: 'forbidden', message: expect.stringContaining('may only be read in [DE, FR]') });
    expect(refusals).toEqual([expect.objectContaining({ for: 'edge-virginia', forJurisdiction: 'US', residencyClass: 'eu-personal' })]);
    isEmpty(reader.dir, reader.store);
  });

  it.each<[string, () => string, string]>([
    ['an expired token', () => token({ exp: Date.now() - 1 }), 'unauthorized'],
    ['a token for another partition', () => token({ partition: 'paris' }), 'forbidden'],
  ])('passes on a refusal of %s', async (_name, bearer, code) => {
    await upload(CONTENT, 'eu-personal');
    await expect(fetchInto({ token: bearer() })).rejects.toMatchObject({ code, message: expect.stringContaining('the holder refused') });
    isEmpty(reader.dir, reader.store);
  });

  it('says not_found for a partition the holder does not have', async () => {
    await expect(fetchInto()).rejects.toMatchObject({ code: 'not_found', message: expect.stringContaining('is not on node edge-berlin') });
  });

  it('refuses a partition larger than this node accepts, and keeps nothing', async () => {
    await upload(CONTENT, 'eu-personal');
    await expect(fetchInto({ maxBytes: 1000 })).rejects.toMatchObject({ code: 'payload_too_large' });
    isEmpty(reader.dir, reader.store);
  });

  it('says unavailable when the holder cannot be reached', async () => {
    const closed = await fakeHolder(() => undefined);
    const fake = extraServers.pop()!;
    await new Promise((resolve) => fake.close(resolve));
    await expect(fetchInto({ url: closed })).rejects.toMatchObject({ code: 'unavailable', message: expect.stringContaining('could not reach') });
  });

  it('stops when cancelled mid-transfer, and keeps nothing', async () => {
    const cancel = new AbortController();
    const fake = await fakeHolder((_req, res) => {
      res.writeHead(200, { 'content-length': String(CONTENT.length) });
      // Half the bytes, then silence until the reader gives up.
      res.write(CONTENT.subarray(0, CONTENT.length / 2), () => cancel.abort(new Error('task cancelled')));
    });
    await expect(fetchInto({ url: fake, signal: cancel.signal })).rejects.toThrow('task cancelled');
    isEmpty(reader.dir, reader.store);
  });

  it('fetches equal content twice into one object', async () => {
    await upload(CONTENT, null);
    await fetchInto({ token: token(), residencyClass: null });
    await fetchInto({ token: token(), ref: { ...REF, partition: 'copy' }, residencyClass: null });
    expect(reader.store.list().map((p) => p.partition).sort()).toEqual(['berlin', 'copy']);
    expect(readdirSync(join(reader.dir, 'objects'))).toEqual([SHA]);
  });

  it('fetches a body of many chunks intact', async () => {
    const big = Buffer.alloc(900_000);
    for (let i = 0; i < big.length; i += 1) big[i] = (i * 31) % 251;
    await upload(big, null);
    const fetched = await fetchInto({ token: token({ sha256: sha(big) }), expectedSha256: sha(big), residencyClass: null });
    expect(fetched.bytes).toBe(big.length);
    const chunks: Buffer[] = [];
    for await (const chunk of (await reader.store.open(REF)).stream) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(big)).toBe(true);
  });
});
