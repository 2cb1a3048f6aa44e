import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { JOURNAL_FILE } from './partition-index.js';
import { closingStores } from './testing/open-stores.js';

const openStore = closingStores();


const ref = (partition: string) => ({ namespace: 'default', dataset: 'readings', partition });
const sha = (data: string) => createHash('sha256').update(data).digest('hex');
const open = async () => {
  const dir = mkdtempSync(join(tmpdir(), 'atoll-store-'));
  return { dir, store: await openStore(dir) };
};
const options = { maxBytes: 1024, residencyClass: null };

describe('PartitionStore', () => {
  it('stores bytes under their sha256, indexes them durably, and shares equal content', async () => {
    const { dir, store } = await open();
    const a = await store.put(ref('a'), Readable.from(['hello ', 'world']), { ...options, residencyClass: 'eu-personal' });
    expect(a).toMatchObject({ sha256: sha('hello world'), bytes: 11, residencyClass: 'eu-personal' });
    await store.put(ref('b'), Readable.from(['hello world']), options);
    expect(readFileSync(store.objectPath(a.sha256), 'utf8')).toBe('hello world');
    const reopened = await openStore(dir);
    expect(reopened.list().map((p) => p.partition).sort()).toEqual(['a', 'b']);
    // The object is shared: removing one partition keeps it, removing both drops it.
    await reopened.remove(ref('a'));
    expect(existsSync(reopened.objectPath(a.sha256))).toBe(true);
    await reopened.remove(ref('b'));
    expect(existsSync(reopened.objectPath(a.sha256))).toBe(false);
    expect(await reopened.remove(ref('b'))).toBe(false);
  });

  it('drops the content a partition replaces once nothing uses it', async () => {
    const { store } = await open();
    const first = await store.put(ref('a'), Readable.from(['first']), options);
    await store.put(ref('a'), Readable.from(['second']), options);
    expect(existsSync(store.objectPath(first.sha256))).toBe(false);
    expect(readFileSync(store.objectPath(sha('second')), 'utf8')).toBe('second');
  });

  it('never loses an object shared by a put and a remove that run together', async () => {
    const { store } = await open();
    await store.put(ref('a'), Readable.from(['shared']), options);
    // The put of b hashes while a is removed: b must still find the object afterwards.
    await Promise.all([store.remove(ref('a')), store.put(ref('b'), Readable.from(['shared']), options)]);
    expect(store.get(ref('b'))).toMatchObject({ sha256: sha('shared') });
    expect(readFileSync(store.objectPath(sha('shared')), 'utf8')).toBe('shared');
  });

  it('keeps nothing from bytes that do not hash as expected', async () => {
    const { dir, store } = await open();
    await expect(store.put(ref('a'), Readable.from(['tampered']), { ...options, expectedSha256: sha('original') })).rejects.toMatchObject({ code: 'conflict', message: expect.stringContaining('checksum mismatch') });
    expect(store.get(ref('a'))).toBeUndefined();
    expect(existsSync(store.objectPath(sha('tampered')))).toBe(false);
    expect((await openStore(dir)).list()).toEqual([]);
  });

  it('refuses more bytes than allowed and keeps nothing', async () => {
    const { store } = await open();
    await expect(store.put(ref('big'), Readable.from([Buffer.alloc(2048)]), options)).rejects.toMatchObject({ code: 'payload_too_large' });
    expect(store.list()).toEqual([]);
  });

  it('keeps nothing when the source fails midway', async () => {
    const { store } = await open();
    const failing = new Readable({ read() {
      this.push('partial');
      this.destroy(new Error('connection reset'));
    } });
    await expect(store.put(ref('cut'), failing, options)).rejects.toThrow('connection reset');
    expect(store.get(ref('cut'))).toBeUndefined();
  });

  it('registers a file on disk, leaving the original, and says why it cannot', async () => {
    const { dir, store } = await open();
    const file = join(dir, 'born-here.csv');
    writeFileSync(file, 'a,b\n1,2\n');
    expect(await store.register(ref('local'), file, options)).toMatchObject({ sha256: sha('a,b\n1,2\n'), bytes: 8 });
    expect(readFileSync(file, 'utf8')).toBe('a,b\n1,2\n');
    await expect(store.register(ref('x'), join(dir, 'missing'), options)).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringContaining('ENOENT') });
    await expect(store.register(ref('y'), dir, options)).rejects.toMatchObject({ message: expect.stringContaining('not a regular file') });
  });

  it('sweeps objects no partition points at on open: a crash between the rename and the index line', async () => {
    const { dir, store } = await open();
    const kept = await store.put(ref('a'), Readable.from(['kept']), options);
    writeFileSync(store.objectPath(sha('orphan')), 'orphan');
    await store.close();
    const reopened = await openStore(dir);
    expect(readdirSync(join(dir, 'objects'))).toEqual([kept.sha256]);
    expect(reopened.get(ref('a'))).toMatchObject({ sha256: kept.sha256 });
  });

  it('keeps every partition across reopens while its journal is compacted', async () => {
    const { dir, store } = await open();
    const compacting = await openStore(dir, { compactAfterLines: 5 });
    await store.close();
    for (let i = 0; i < 12; i += 1) await compacting.put(ref(`p${i}`), Readable.from([`content ${i}`]), options);
    await compacting.remove(ref('p0'));
    await compacting.close();
    // Compactions ran: the journal holds only what came after the last one.
    expect(readFileSync(join(dir, JOURNAL_FILE), 'utf8').split('\n').length - 1).toBeLessThan(12);
    const reopened = await openStore(dir);
    expect(reopened.list().map((p) => p.partition).sort()).toEqual(Array.from({ length: 11 }, (_, i) => `p${i + 1}`).sort());
    expect(readdirSync(join(dir, 'objects'))).toHaveLength(11);
    expect(readFileSync(reopened.objectPath(sha('content 7')), 'utf8')).toBe('content 7');
  });

  it.each(['..', '.', 'a/b', '', '.hidden'])('refuses the partition name %j', async (name) => {
    const { store } = await open();
    await expect(store.put(ref(name), Readable.from(['x']), options)).rejects.toMatchObject({ code: 'invalid_request' });
  });
});
