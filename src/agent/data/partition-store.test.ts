import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { text } from 'node:stream/consumers';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { PartitionStore, type PartitionRef } from './partition-store.js';

const ref = (partition: string, dataset = 'readings', namespace = 'default'): PartitionRef => ({ namespace, dataset, partition });
const sha = (data: string) => createHash('sha256').update(data).digest('hex');
const opts = { maxBytes: 1024, residencyClass: null };
const newStore = async () => {
  const dir = mkdtempSync(join(tmpdir(), 'atoll-pstore-'));
  return { dir, store: await PartitionStore.open(dir) };
};
const objects = (dir: string) => readdirSync(join(dir, 'objects')).sort();
const incoming = (dir: string) => readdirSync(join(dir, 'incoming'));
const read = async (store: PartitionStore, r: PartitionRef) => text((await store.open(r)).stream);

describe('PartitionStore', () => {
  it('stores bytes under their sha256 and finds them again after a restart', async () => {
    const { dir, store } = await newStore();
    const entry = await store.put(ref('a'), Readable.from(['hello ', 'world']), { ...opts, residencyClass: 'eu-personal' });
    expect(entry).toMatchObject({ sha256: sha('hello world'), bytes: 11, residencyClass: 'eu-personal' });
    expect(objects(dir)).toEqual([sha('hello world')]);
    expect(readFileSync(store.objectPath(entry.sha256), 'utf8')).toBe('hello world');

    const reopened = await PartitionStore.open(dir);
    expect(reopened.get(ref('a'))).toEqual(entry);
    expect(reopened.list()).toEqual([{ ...ref('a'), ...entry }]);
    const opened = await reopened.open(ref('a'));
    expect({ bytes: opened.bytes, sha256: opened.sha256 }).toEqual({ bytes: 11, sha256: sha('hello world') });
    expect(await text(opened.stream)).toBe('hello world');
    expect(incoming(dir)).toEqual([]);
  });

  it('keeps one object for equal content, and removing one partition keeps the object the other shares', async () => {
    const { dir, store } = await newStore();
    await store.put(ref('a'), Readable.from(['same bytes']), opts);
    await store.put(ref('b', 'other-dataset'), Readable.from(['same ', 'bytes']), opts);
    expect(objects(dir)).toEqual([sha('same bytes')]);

    expect(await store.remove(ref('a'))).toBe(true);
    expect(objects(dir)).toEqual([sha('same bytes')]);
    expect(await read(store, ref('b', 'other-dataset'))).toBe('same bytes');

    expect(await store.remove(ref('b', 'other-dataset'))).toBe(true);
    expect(objects(dir)).toEqual([]);
    expect(await store.remove(ref('b', 'other-dataset'))).toBe(false);
    expect((await PartitionStore.open(dir)).list()).toEqual([]);
  });

  it('replacing a partition\'s content drops the old object unless it is shared', async () => {
    const { dir, store } = await newStore();
    await store.put(ref('a'), Readable.from(['v1']), opts);
    await store.put(ref('keep'), Readable.from(['v2']), opts);
    await store.put(ref('a'), Readable.from(['v2']), opts);
    expect(objects(dir)).toEqual([sha('v2')]);
    await store.put(ref('a'), Readable.from(['v3']), opts);
    expect(objects(dir)).toEqual([sha('v2'), sha('v3')].sort());
    expect(await read(store, ref('a'))).toBe('v3');
  });

  it('keeps nothing from bytes that do not hash as expected, and says what it got', async () => {
    const { dir, store } = await newStore();
    const put = store.put(ref('a'), Readable.from(['tampered']), { ...opts, expectedSha256: sha('original') });
    await expect(put).rejects.toMatchObject({ code: 'conflict', message: expect.stringContaining(`checksum mismatch: expected ${sha('original')}, got ${sha('tampered')}`) });
    expect(store.get(ref('a'))).toBeUndefined();
    expect(objects(dir)).toEqual([]);
    expect(incoming(dir)).toEqual([]);
    expect((await PartitionStore.open(dir)).list()).toEqual([]);
    // The matching hash is accepted.
    await expect(store.put(ref('a'), Readable.from(['original']), { ...opts, expectedSha256: sha('original') })).resolves.toMatchObject({ bytes: 8 });
  });

  it('refuses an expected sha256 that is not one', async () => {
    const { store } = await newStore();
    await expect(store.put(ref('a'), Readable.from(['x']), { ...opts, expectedSha256: 'ABC' })).rejects.toMatchObject({ code: 'invalid_request' });
  });

  it('accepts exactly maxBytes and refuses one byte more, keeping nothing', async () => {
    const { dir, store } = await newStore();
    await expect(store.put(ref('fits'), Readable.from([Buffer.alloc(1024)]), opts)).resolves.toMatchObject({ bytes: 1024 });
    await expect(store.put(ref('big'), Readable.from([Buffer.alloc(1000), Buffer.alloc(25)]), opts)).rejects.toMatchObject({ code: 'payload_too_large' });
    expect(store.get(ref('big'))).toBeUndefined();
    expect(objects(dir)).toHaveLength(1);
    expect(incoming(dir)).toEqual([]);
  });

  it('keeps nothing when the source fails midway', async () => {
    const { dir, store } = await newStore();
    const failing = new Readable({
      read() {
        this.push('partial');
        this.destroy(new Error('connection reset'));
      },
    });
    await expect(store.put(ref('cut'), failing, opts)).rejects.toThrow('connection reset');
    expect(store.get(ref('cut'))).toBeUndefined();
    expect(objects(dir)).toEqual([]);
    expect(incoming(dir)).toEqual([]);
  });

  it('registers a file on disk by copying it, leaving the original, and says why it cannot', async () => {
    const { dir, store } = await newStore();
    const file = join(dir, 'born-here.csv');
    writeFileSync(file, 'a,b\n1,2\n');
    expect(await store.register(ref('local'), file, { ...opts, residencyClass: 'eu-personal' })).toMatchObject({ sha256: sha('a,b\n1,2\n'), bytes: 8, residencyClass: 'eu-personal' });
    writeFileSync(file, 'changed later');
    expect(await read(store, ref('local'))).toBe('a,b\n1,2\n');
    await expect(store.register(ref('x'), join(dir, 'missing'), opts)).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringContaining('ENOENT') });
    await expect(store.register(ref('y'), dir, opts)).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringContaining('not a regular file') });
    writeFileSync(file, Buffer.alloc(2000));
    await expect(store.register(ref('z'), file, opts)).rejects.toMatchObject({ code: 'payload_too_large' });
  });

  it('opening a partition that is not here is not_found', async () => {
    const { store } = await newStore();
    await expect(store.open(ref('nope'))).rejects.toMatchObject({ code: 'not_found' });
  });

  it('an object changed on disk to another length is refused rather than served', async () => {
    const { store } = await newStore();
    const entry = await store.put(ref('a'), Readable.from(['twelve bytes']), opts);
    writeFileSync(store.objectPath(entry.sha256), 'longer than twelve bytes');
    await expect(store.open(ref('a'))).rejects.toMatchObject({ code: 'internal', message: expect.stringContaining('changed by hand') });
  });

  it('an open stream survives a removal of its partition', async () => {
    const { store } = await newStore();
    await store.put(ref('a'), Readable.from(['still readable']), opts);
    const opened = await store.open(ref('a'));
    await store.remove(ref('a'));
    expect(await text(opened.stream)).toBe('still readable');
  });

  it('never loses an object to a removal racing a put of equal content', async () => {
    const { store } = await newStore();
    for (let round = 0; round < 25; round += 1) {
      await store.put(ref('a'), Readable.from(['shared']), opts);
      await Promise.all([store.remove(ref('a')), store.put(ref(`b${round}`), Readable.from(['shared']), opts)]);
      expect(await read(store, ref(`b${round}`))).toBe('shared');
    }
  });

  it('clears what a crash left behind when it opens', async () => {
    const { dir, store } = await newStore();
    await store.put(ref('a'), Readable.from(['kept']), opts);
    writeFileSync(join(dir, 'objects', sha('orphan')), 'orphan');
    writeFileSync(join(dir, 'incoming', 'half.tmp'), 'half');
    writeFileSync(join(dir, 'index.json.tmp'), '{"partitions":[');
    const reopened = await PartitionStore.open(dir);
    expect(objects(dir)).toEqual([sha('kept')]);
    expect(incoming(dir)).toEqual([]);
    expect(readdirSync(dir).sort()).toEqual(['incoming', 'index.json', 'objects']);
    expect(await read(reopened, ref('a'))).toBe('kept');
  });

  it('refuses to open a corrupt index, saying what to do', async () => {
    const { dir } = await newStore();
    writeFileSync(join(dir, 'index.json'), '{"partitions":[{"namespace":"default"}]}');
    await expect(PartitionStore.open(dir)).rejects.toMatchObject({ code: 'internal', message: expect.stringContaining('move it aside') });
  });

  it.each<[string, PartitionRef]>([
    ['partition ..', ref('..')],
    ['partition .', ref('.')],
    ['a slash', ref('a/b')],
    ['a backslash', ref('a\\b')],
    ['an empty name', ref('')],
    ['a leading dot', ref('.hidden')],
    ['a traversal', ref('../../etc/passwd')],
    ['a NUL byte', ref('a\u0000b')],
    ['a name of 201 characters', ref('x'.repeat(201))],
    ['dataset ..', ref('a', '..')],
    ['an upper-case namespace', ref('a', 'readings', 'Default')],
    ['namespace ..', ref('a', 'readings', '..')],
  ])('refuses %s', async (_name, bad) => {
    const { dir, store } = await newStore();
    await expect(store.put(bad, Readable.from(['x']), opts)).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(store.register(bad, join(dir, 'index.json'), opts)).rejects.toMatchObject({ code: 'invalid_request' });
    expect(objects(dir)).toEqual([]);
  });

  it('accepts the longest and most varied valid names', async () => {
    const { store } = await newStore();
    const names = ref(`A${'z'.repeat(199)}`, 'Data_set-1.v2', 'ns-1');
    await store.put(names, Readable.from(['ok']), opts);
    expect(store.get(names)).toMatchObject({ bytes: 2 });
  });
});
