import { createHash, type KeyObject } from 'node:crypto';
import { mkdtempSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { generateDataSigningKeys, signDataToken, type DataTokenClaims } from '../../protocol/data-token.js';
import { DataServer, type DataRefusal } from './data-server.js';
import { PartitionStore, type PartitionEntry, type PartitionRef } from './partition-store.js';

// The data server over real HTTP on 127.0.0.1, with tokens signed by a real Ed25519 key.

const keys = generateDataSigningKeys();
const CONTENT = 'temperature,21.5\n'.repeat(100);
const SHA = createHash('sha256').update(CONTENT).digest('hex');
const NOW = Date.parse('2026-11-28T12:00:00Z');
const MAX_UPLOAD = 64 * 1024;
const ref = (partition: string, dataset = 'readings'): PartitionRef => ({ namespace: 'default', dataset, partition });
const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/** A read token for default/readings/berlin on edge-berlin, for a reader in FR, unless overridden. */
const token = (claims: Partial<DataTokenClaims> = {}, privateKey = keys.privateKey) =>
  signDataToken({
    op: 'read', namespace: 'default', dataset: 'readings', partition: 'berlin', node: 'edge-berlin',
    for: 'edge-paris', forJurisdiction: 'FR', exp: NOW + 60_000, ...claims,
  }, privateKey);
const writeToken = (partition: string, claims: Partial<DataTokenClaims> = {}) =>
  token({ op: 'write', partition, for: 'client', forJurisdiction: null, residencyClass: null, ...claims });

interface Answer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
  readonly error: { code: string; message: string } | undefined;
}

let dir: string;
let store: PartitionStore;
let server: DataServer;
let key: KeyObject | undefined;
let refusals: DataRefusal[];
let stored: { ref: PartitionRef; entry: PartitionEntry }[];
let errors: unknown[];

/** One request with the path sent byte for byte (fetch would resolve `..` and `%2e%2e` before sending). */
function send(path: string, options: { method?: string; bearer?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers = { ...(options.bearer === undefined ? {} : { authorization: `Bearer ${options.bearer}` }), ...options.headers };
    const req = request({ host: '127.0.0.1', port: server.address.port, method: options.method ?? 'GET', path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const isJson = String(res.headers['content-type']).startsWith('application/json');
        const error = isJson ? (JSON.parse(body.toString('utf8')) as { error?: Answer['error'] }).error : undefined;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, error });
      });
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

const storeFiles = () => ({ objects: readdirSync(join(dir, 'objects')).sort(), incoming: readdirSync(join(dir, 'incoming')) });

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'atoll-data-server-'));
  store = await PartitionStore.open(dir);
  await store.put(ref('berlin'), Readable.from([CONTENT]), { maxBytes: 1e6, residencyClass: 'eu-personal' });
  await store.put(ref('public'), Readable.from(['open data']), { maxBytes: 1e6, residencyClass: null });
  await store.put(ref('secret'), Readable.from(['classified']), { maxBytes: 1e6, residencyClass: 'no-such-class' });
  key = keys.publicKey;
  refusals = [];
  stored = [];
  errors = [];
  server = await DataServer.start({
    store, nodeName: 'edge-berlin', host: '127.0.0.1', port: 0, maxUploadBytes: MAX_UPLOAD, now: () => NOW,
    publicKey: () => key,
    allowedJurisdictions: (c) => (c === 'eu-personal' ? new Set(['DE', 'FR']) : undefined),
    policyOf: (c) => (c === 'eu-personal' ? 'gdpr' : null),
    onStored: (r, entry) => stored.push({ ref: r, entry }),
    onRefused: (refusal) => refusals.push(refusal),
    onError: (error) => errors.push(error),
  });
});

afterEach(async () => {
  await server.close();
  expect(errors).toEqual([]);
});

describe('DataServer reads', () => {
  it('binds the port it was given 0 for and says where', () => {
    expect(server.address.host).toBe('127.0.0.1');
    expect(server.address.port).toBeGreaterThan(0);
    expect(server.url).toBe(`http://127.0.0.1:${server.address.port}`);
  });

  it('serves a partition to a reader inside its class, with length and checksum', async () => {
    const answer = await send('/v1/data/default/readings/berlin', { bearer: token({ sha256: SHA }) });
    expect(answer.status).toBe(200);
    expect(answer.headers['content-length']).toBe(String(CONTENT.length));
    expect(answer.headers['x-atoll-sha256']).toBe(SHA);
    expect(answer.body.toString('utf8')).toBe(CONTENT);
    expect(refusals).toEqual([]);
  });

  it('serves a partition without a residency class to a reader anywhere', async () => {
    const answer = await send('/v1/data/default/readings/public', { bearer: token({ partition: 'public', forJurisdiction: 'US' }) });
    expect(answer.status).toBe(200);
    expect(answer.body.toString('utf8')).toBe('open data');
  });

  it.each<[string, string | null]>([['a reader in US', 'US'], ['a reader in no known jurisdiction', null]])(
    'refuses %s even with a valid signed token, and reports it',
    async (_name, forJurisdiction) => {
      const answer = await send('/v1/data/default/readings/berlin', { bearer: token({ forJurisdiction, sha256: SHA }) });
      expect(answer.status).toBe(403);
      expect(answer.error).toEqual({ code: 'forbidden', message: expect.stringContaining('may only be read in [DE, FR]') });
      expect(answer.body.toString('utf8')).not.toContain('temperature');
      expect(refusals).toEqual([{
        ref: ref('berlin'), for: 'edge-paris', forJurisdiction, residencyClass: 'eu-personal', policy: 'gdpr', reason: expect.stringContaining('eu-personal'),
      }]);
    },
  );

  it('refuses everyone a partition whose class it does not know', async () => {
    const answer = await send('/v1/data/default/readings/secret', { bearer: token({ partition: 'secret', forJurisdiction: 'DE' }) });
    expect(answer.status).toBe(403);
    expect(answer.error?.message).toContain('residency class no-such-class is not known');
    expect(refusals).toEqual([expect.objectContaining({ ref: ref('secret'), residencyClass: 'no-such-class', policy: null })]);
  });

  it('answers 503 until the control plane\'s key is known, then serves', async () => {
    key = undefined;
    const before = await send('/v1/data/default/readings/berlin', { bearer: token() });
    expect(before.status).toBe(503);
    expect(before.error?.code).toBe('unavailable');
    key = keys.publicKey;
    expect((await send('/v1/data/default/readings/berlin', { bearer: token() })).status).toBe(200);
  });

  it('takes the key through setPublicKey when started without one', async () => {
    const late = await DataServer.start({ store, nodeName: 'edge-berlin', host: '127.0.0.1', port: 0, maxUploadBytes: 10, now: () => NOW, allowedJurisdictions: () => new Set(['FR']) });
    try {
      const get = () => fetch(`${late.url}/v1/data/default/readings/berlin`, { headers: { authorization: `Bearer ${token()}` } });
      expect((await get()).status).toBe(503);
      late.setPublicKey(keys.publicKey);
      const answer = await get();
      expect(answer.status).toBe(200);
      expect(await answer.text()).toBe(CONTENT);
    } finally {
      await late.close();
    }
  });

  it.each<{ name: string; bearer?: () => string; headers?: Record<string, string>; status: number; code: string; says: string }>([
    { name: 'no token', status: 401, code: 'unauthorized', says: 'missing data token' },
    { name: 'a Basic header', headers: { authorization: 'Basic dXNlcjpwYXNz' }, status: 401, code: 'unauthorized', says: 'missing data token' },
    { name: 'a token of garbage', bearer: () => 'not-a-token', status: 401, code: 'unauthorized', says: 'claims.signature' },
    { name: 'a token with its claims edited', bearer: () => `${Buffer.from(JSON.stringify({ op: 'read' })).toString('base64url')}.${token().split('.')[1]}`, status: 401, code: 'unauthorized', says: 'signature' },
    { name: 'a token signed by another key', bearer: () => token({}, generateDataSigningKeys().privateKey), status: 401, code: 'unauthorized', says: 'signature' },
    { name: 'an expired token', bearer: () => token({ exp: NOW - 1 }), status: 401, code: 'unauthorized', says: 'expired' },
    { name: 'a token that expires now', bearer: () => token({ exp: NOW }), status: 401, code: 'unauthorized', says: 'expired' },
    { name: 'a token for another partition', bearer: () => token({ partition: 'paris' }), status: 403, code: 'forbidden', says: 'default/readings/paris' },
    { name: 'a token for another dataset', bearer: () => token({ dataset: 'other' }), status: 403, code: 'forbidden', says: 'default/other/berlin' },
    { name: 'a token for another namespace', bearer: () => token({ namespace: 'prod' }), status: 403, code: 'forbidden', says: 'prod/readings/berlin' },
    { name: 'a token for another node', bearer: () => token({ node: 'edge-paris' }), status: 403, code: 'forbidden', says: 'node edge-paris' },
    { name: 'a write token', bearer: () => writeToken('berlin'), status: 403, code: 'forbidden', says: 'needs a read token' },
    { name: 'a token naming other content', bearer: () => token({ sha256: 'f'.repeat(64) }), status: 409, code: 'conflict', says: 'other content' },
  ])('answers $status to a read with $name', async ({ bearer, headers, status, code, says }) => {
    const answer = await send('/v1/data/default/readings/berlin', { ...(bearer ? { bearer: bearer() } : {}), ...(headers ? { headers } : {}) });
    expect(answer.status).toBe(status);
    expect(answer.error).toEqual({ code, message: expect.stringContaining(says) });
    expect(answer.body.toString('utf8')).not.toContain('temperature');
  });

  it('answers 404 for a partition it does not hold, with a token for it', async () => {
    const answer = await send('/v1/data/default/readings/paris', { bearer: token({ partition: 'paris' }) });
    expect(answer.status).toBe(404);
    expect(answer.error?.code).toBe('not_found');
  });

  it.each([
    ['..', '/v1/data/default/readings/..'],
    ['%2e%2e', '/v1/data/default/readings/%2e%2e'],
    ['%2E%2E in the dataset', '/v1/data/default/%2E%2E/berlin'],
    ['an encoded slash', '/v1/data/default/readings/..%2F..%2Fetc'],
    ['an encoded backslash', '/v1/data/default/readings/..%5Cindex.json'],
    ['a leading dot', '/v1/data/default/readings/.hidden'],
    ['an extra segment', '/v1/data/default/readings/berlin/extra'],
    ['a missing segment', '/v1/data/default/readings'],
    ['an empty segment', '/v1/data/default//berlin'],
    ['a trailing slash', '/v1/data/default/readings/berlin/'],
    ['broken percent-encoding', '/v1/data/default/readings/%E0%A4%A'],
    ['an encoded NUL', '/v1/data/default/readings/a%00b'],
    ['an upper-case namespace', '/v1/data/Default/readings/berlin'],
  ])('answers 400 to a path with %s, before looking at the token', async (_name, path) => {
    const answer = await send(path, { bearer: token() });
    expect(answer.status).toBe(400);
    expect(answer.error?.code).toBe('invalid_request');
    expect(answer.body.toString('utf8')).not.toContain('temperature');
  });

  it('answers 404 outside /v1/data/ and 405 to other methods', async () => {
    expect((await send('/v1/other', { bearer: token() })).status).toBe(404);
    expect((await send('/', { bearer: token() })).status).toBe(404);
    const del = await send('/v1/data/default/readings/berlin', { method: 'DELETE', bearer: token() });
    expect(del.status).toBe(405);
    expect(del.headers.allow).toBe('GET, PUT');
    expect(store.get(ref('berlin'))).toBeDefined();
  });

  it('survives headers too large to parse and keeps serving', async () => {
    const answer = await send('/v1/data/default/readings/berlin', { bearer: token(), headers: { 'x-padding': 'a'.repeat(20_000) } });
    expect(answer.status).toBe(431);
    const garbage = await new Promise<string>((resolve) => {
      const socket = connect(server.address.port, '127.0.0.1', () => socket.end('NOT HTTP AT ALL\r\n\r\n'));
      let text = '';
      socket.on('data', (chunk) => (text += chunk.toString()));
      socket.on('close', () => resolve(text));
      socket.on('error', () => resolve(text));
    });
    expect(garbage).toMatch(/^HTTP\/1\.1 400/);
    expect((await send('/v1/data/default/readings/berlin', { bearer: token() })).status).toBe(200);
  });
});

describe('DataServer uploads', () => {
  it('stores an upload made with a write token, with the class the token names', async () => {
    const body = 'x,y\n1,2\n';
    const answer = await send('/v1/data/default/readings/paris', { method: 'PUT', bearer: writeToken('paris', { residencyClass: 'eu-personal' }), body });
    expect(answer.status).toBe(201);
    expect(JSON.parse(answer.body.toString('utf8'))).toEqual({ sha256: sha(body), bytes: body.length });
    expect(store.get(ref('paris'))).toMatchObject({ sha256: sha(body), bytes: body.length, residencyClass: 'eu-personal' });
    expect(stored).toEqual([{ ref: ref('paris'), entry: expect.objectContaining({ sha256: sha(body), residencyClass: 'eu-personal' }) }]);
    // Read back, and the class is enforced on it from now on.
    expect((await send('/v1/data/default/readings/paris', { bearer: token({ partition: 'paris' }) })).body.toString('utf8')).toBe(body);
    expect((await send('/v1/data/default/readings/paris', { bearer: token({ partition: 'paris', forJurisdiction: 'US' }) })).status).toBe(403);
  });

  it('stores a chunked upload (no Content-Length)', async () => {
    const parts = ['a'.repeat(1000), 'b'.repeat(1000)];
    const answer = await fetch(`${server.url}/v1/data/default/readings/chunked`, {
      method: 'PUT', headers: { authorization: `Bearer ${writeToken('chunked')}` }, body: Readable.toWeb(Readable.from(parts)) as ReadableStream, duplex: 'half',
    } as RequestInit);
    expect(answer.status).toBe(201);
    expect(store.get(ref('chunked'))).toMatchObject({ sha256: sha(parts.join('')), bytes: 2000 });
  });

  it.each<{ name: string; bearer: () => string; status: number; code: string }>([
    { name: 'a read token', bearer: () => token({ partition: 'new' }), status: 403, code: 'forbidden' },
    { name: 'a write token for another partition', bearer: () => writeToken('other'), status: 403, code: 'forbidden' },
    { name: 'a write token for another node', bearer: () => writeToken('new', { node: 'edge-paris' }), status: 403, code: 'forbidden' },
    { name: 'an expired write token', bearer: () => writeToken('new', { exp: NOW - 1 }), status: 401, code: 'unauthorized' },
    { name: 'a write token from another key', bearer: () => signDataToken({ ...JSON.parse(Buffer.from(writeToken('new').split('.')[0]!, 'base64url').toString()) as DataTokenClaims }, generateDataSigningKeys().privateKey), status: 401, code: 'unauthorized' },
    { name: 'a write token naming other content', bearer: () => writeToken('new', { sha256: 'e'.repeat(64) }), status: 409, code: 'conflict' },
  ])('answers $status to an upload with $name and stores nothing', async ({ bearer, status, code }) => {
    const answer = await send('/v1/data/default/readings/new', { method: 'PUT', bearer: bearer(), body: 'payload' });
    expect(answer.status).toBe(status);
    expect(answer.error?.code).toBe(code);
    expect(store.get(ref('new'))).toBeUndefined();
    expect(stored).toEqual([]);
    expect(storeFiles().objects).not.toContain(sha('payload'));
  });

  it('checks an upload against the sha256 the client sends in x-atoll-sha256', async () => {
    const bad = await send('/v1/data/default/readings/new', { method: 'PUT', bearer: writeToken('new'), headers: { 'x-atoll-sha256': sha('something else') }, body: 'payload' });
    expect(bad.status).toBe(409);
    expect(bad.error?.message).toContain('checksum mismatch');
    expect(store.get(ref('new'))).toBeUndefined();
    const good = await send('/v1/data/default/readings/new', { method: 'PUT', bearer: writeToken('new'), headers: { 'x-atoll-sha256': sha('payload') }, body: 'payload' });
    expect(good.status).toBe(201);
  });

  it('refuses an x-atoll-sha256 that is not a sha256', async () => {
    const answer = await send('/v1/data/default/readings/new', { method: 'PUT', bearer: writeToken('new'), headers: { 'x-atoll-sha256': 'not-a-hash' }, body: 'payload' });
    expect(answer.status).toBe(400);
    expect(store.get(ref('new'))).toBeUndefined();
  });

  it('cuts an upload that stalls, keeping nothing', async () => {
    const impatient = await DataServer.start({
      store, nodeName: 'edge-berlin', host: '127.0.0.1', port: 0, maxUploadBytes: MAX_UPLOAD, now: () => NOW, publicKey: keys.publicKey,
      allowedJurisdictions: () => undefined, idleTimeoutMs: 200,
    });
    try {
      const closed = new Promise<void>((resolve) => {
        const req = request({
          host: '127.0.0.1', port: impatient.address.port, method: 'PUT', path: '/v1/data/default/readings/stalled',
          headers: { authorization: `Bearer ${writeToken('stalled')}`, 'content-length': '1000' },
        });
        req.on('error', () => resolve());
        req.on('close', () => resolve());
        req.write('only the start');
      });
      await closed;
      await vi.waitFor(() => expect(storeFiles().incoming).toEqual([]));
      expect(store.get(ref('stalled'))).toBeUndefined();
    } finally {
      await impatient.close();
    }
  });

  it('refuses an upload declared larger than the limit with 413, storing nothing', async () => {
    const answer = await send('/v1/data/default/readings/huge', { method: 'PUT', bearer: writeToken('huge'), body: Buffer.alloc(MAX_UPLOAD + 1) });
    expect(answer.status).toBe(413);
    expect(answer.error?.code).toBe('payload_too_large');
    expect(store.get(ref('huge'))).toBeUndefined();
    expect(storeFiles()).toEqual({ objects: [SHA, sha('classified'), sha('open data')].sort(), incoming: [] });
  });

  it('refuses a chunked upload that runs past the limit, storing nothing', async () => {
    const answer = await new Promise<{ status: number; code?: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: server.address.port, method: 'PUT', path: '/v1/data/default/readings/huge', headers: { authorization: `Bearer ${writeToken('huge')}` } }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, code: (JSON.parse(text) as { error: { code: string } }).error.code }));
      });
      // The server may close the socket while we still write; the answer is what counts.
      req.on('error', (error) => (req.writableEnded ? undefined : reject(error)));
      for (let i = 0; i < 8; i += 1) req.write(Buffer.alloc(16 * 1024));
      req.end();
    });
    expect(answer).toEqual({ status: 413, code: 'payload_too_large' });
    expect(store.get(ref('huge'))).toBeUndefined();
    await vi.waitFor(() => expect(storeFiles().incoming).toEqual([]));
    expect(storeFiles().objects).toHaveLength(3);
  });

  it('keeps nothing when the client aborts mid-upload, and keeps serving', async () => {
    const req = request({
      host: '127.0.0.1', port: server.address.port, method: 'PUT', path: '/v1/data/default/readings/cut',
      headers: { authorization: `Bearer ${writeToken('cut')}`, 'content-length': '40000' },
    });
    req.on('error', () => undefined);
    req.write(Buffer.alloc(20_000, 1));
    // Wait until the partial bytes are in the store's incoming dir, then cut the connection.
    await vi.waitFor(() => expect(storeFiles().incoming).toHaveLength(1));
    req.destroy();
    await vi.waitFor(() => expect(storeFiles().incoming).toEqual([]));
    expect(store.get(ref('cut'))).toBeUndefined();
    expect(stored).toEqual([]);
    expect(storeFiles().objects).toHaveLength(3);
    expect((await PartitionStore.open(dir)).get(ref('cut'))).toBeUndefined();
    expect((await send('/v1/data/default/readings/berlin', { bearer: token() })).status).toBe(200);
  });

  it('refuses upload paths that try to leave the store', async () => {
    for (const path of ['/v1/data/default/readings/..', '/v1/data/default/readings/%2e%2e', '/v1/data/default/..%2F..%2Ftmp/x']) {
      const answer = await send(path, { method: 'PUT', bearer: writeToken('..'), body: 'evil' });
      expect(answer.status).toBe(400);
    }
    expect(readdirSync(dir).sort()).toEqual(['incoming', 'index.json', 'objects']);
    expect(storeFiles().objects).not.toContain(sha('evil'));
  });
});
