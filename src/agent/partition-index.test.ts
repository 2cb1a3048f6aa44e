import { appendFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JOURNAL_FILE, PartitionIndex, SNAPSHOT_FILE, type IndexEntry } from './partition-index.js';

// The index's files in a temp dir, read back by opening it again.

const dir = () => mkdtempSync(join(tmpdir(), 'atoll-index-'));
const entry = (partition: string, sha = 'a'): IndexEntry => ({ namespace: 'default', dataset: 'readings', partition, sha256: sha.repeat(64), bytes: 10, residencyClass: null, createdAt: 1 });
const names = (index: PartitionIndex) => [...index.values()].map((e) => e.partition).sort();
const journalLines = (at: string) => readFileSync(join(at, JOURNAL_FILE), 'utf8').split('\n').filter((line) => line !== '');

describe('PartitionIndex', () => {
  it('appends one line per change and replays them on open', async () => {
    const at = dir();
    const index = await PartitionIndex.open(at);
    await index.put(entry('a'));
    await index.put(entry('b', 'b'));
    await index.put(entry('a', 'c'));
    expect(await index.remove(entry('b'))).toBe(true);
    expect(await index.remove(entry('b'))).toBe(false);
    await index.close();
    expect(journalLines(at)).toHaveLength(4);
    expect(existsSync(join(at, SNAPSHOT_FILE))).toBe(false);
    const reopened = await PartitionIndex.open(at);
    expect(names(reopened)).toEqual(['a']);
    expect(reopened.get(entry('a'))).toEqual(entry('a', 'c'));
    expect(reopened.usesObject('c'.repeat(64))).toBe(true);
    expect(reopened.usesObject('a'.repeat(64))).toBe(false);
    expect(reopened.usesObject('b'.repeat(64))).toBe(false);
  });

  it('counts the entries sharing an object', async () => {
    const index = await PartitionIndex.open(dir());
    await index.put(entry('a'));
    await index.put(entry('b'));
    await index.remove(entry('a'));
    expect(index.usesObject('a'.repeat(64))).toBe(true);
    await index.remove(entry('b'));
    expect(index.usesObject('a'.repeat(64))).toBe(false);
  });

  it.each([
    ['half a line without its newline', '{"put":{"namespace":"default","datas'],
    ['a line that does not parse, newline and all', '\0\0\0\0\n'],
  ])('drops a torn last line (%s), cuts it off, and appends cleanly after it', async (_what, torn) => {
    const at = dir();
    const index = await PartitionIndex.open(at);
    await index.put(entry('a'));
    await index.close();
    // What a crash mid-append can leave.
    appendFileSync(join(at, JOURNAL_FILE), torn);
    const reopened = await PartitionIndex.open(at);
    expect(names(reopened)).toEqual(['a']);
    expect(journalLines(at)).toHaveLength(1);
    await reopened.put(entry('b'));
    await reopened.close();
    expect(names(await PartitionIndex.open(at))).toEqual(['a', 'b']);
  });

  it('refuses a journal corrupt before its last line, naming the file and line', async () => {
    const at = dir();
    writeFileSync(join(at, JOURNAL_FILE), `${JSON.stringify({ put: entry('a') })}\nnot json\n${JSON.stringify({ put: entry('b') })}\n`);
    await expect(PartitionIndex.open(at)).rejects.toMatchObject({ code: 'internal', message: expect.stringContaining(`${JOURNAL_FILE} is corrupt (line 2`) });
  });

  it('compacts into a snapshot once the journal grows, and reads the same after', async () => {
    const at = dir();
    const index = await PartitionIndex.open(at, { compactAfterLines: 4 });
    for (const name of ['a', 'b', 'c']) await index.put(entry(name));
    expect(index.pendingLines).toBe(3);
    await index.put(entry('d'));
    // Four lines, at least half the entries: compacted, the journal empty.
    expect(index.pendingLines).toBe(0);
    expect(journalLines(at)).toEqual([]);
    expect(JSON.parse(readFileSync(join(at, SNAPSHOT_FILE), 'utf8')).partitions).toHaveLength(4);
    await index.remove(entry('a'));
    await index.close();
    const reopened = await PartitionIndex.open(at, { compactAfterLines: 4 });
    expect(names(reopened)).toEqual(['b', 'c', 'd']);
    expect(reopened.pendingLines).toBe(1);
  });

  it('replays a journal left full by a crash after the snapshot was written: changes apply twice, harmlessly', async () => {
    const at = dir();
    const index = await PartitionIndex.open(at);
    await index.put(entry('a'));
    await index.put(entry('b'));
    await index.remove(entry('a'));
    const journal = readFileSync(join(at, JOURNAL_FILE));
    await index.compact();
    await index.close();
    writeFileSync(join(at, JOURNAL_FILE), journal);
    expect(names(await PartitionIndex.open(at))).toEqual(['b']);
  });

  it('reads an index.json from before the journal', async () => {
    const at = dir();
    writeFileSync(join(at, SNAPSHOT_FILE), JSON.stringify({ partitions: [entry('old')] }));
    const index = await PartitionIndex.open(at);
    expect(names(index)).toEqual(['old']);
    await index.put(entry('new'));
    await index.close();
    expect(names(await PartitionIndex.open(at))).toEqual(['new', 'old']);
  });

  it('refuses a snapshot that is not an index', async () => {
    const at = dir();
    writeFileSync(join(at, SNAPSHOT_FILE), '{"partitions":[{"partition":1}]}');
    await expect(PartitionIndex.open(at)).rejects.toMatchObject({ code: 'internal', message: expect.stringContaining(`${SNAPSHOT_FILE} is corrupt`) });
  });
});
