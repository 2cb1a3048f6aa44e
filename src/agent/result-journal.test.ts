import { appendFile, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AttemptResult } from '../protocol/messages.js';
import { JOURNAL_FILE, ResultJournal } from './result-journal.js';

let root: string;
/** Where the journal under test lives: `root` unless a test picks a subdirectory. */
let dir: string;
const open: ResultJournal[] = [];

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'atoll-result-journal-'));
  dir = root;
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((journal) => journal.close()));
  await rm(root, { recursive: true, force: true });
});

async function openJournal(options: Parameters<typeof ResultJournal.open>[1] = {}): Promise<ResultJournal> {
  const journal = await ResultJournal.open(dir, options);
  open.push(journal);
  return journal;
}

async function reopen(journal: ResultJournal, options: Parameters<typeof ResultJournal.open>[1] = {}): Promise<ResultJournal> {
  await journal.close();
  return openJournal(options);
}

function aResult(n: number, overrides: Partial<AttemptResult> = {}): AttemptResult {
  return {
    attemptId: `job-abc123.${n}.1`,
    epoch: 1,
    outcome: n % 3 === 0 ? 'failed' : 'succeeded',
    exitCode: n % 3 === 0 ? 2 : 0,
    reason: n % 3 === 0 ? 'exit code 2' : null,
    startedAt: 1_700_000_000_000 + n,
    finishedAt: 1_700_000_000_500 + n,
    ...overrides,
  };
}

async function fileLines(): Promise<readonly string[]> {
  const text = await readFile(path.join(dir, JOURNAL_FILE), 'utf8');
  return text.split('\n').filter((line) => line !== '');
}

describe('ResultJournal', () => {
  it('starts empty and creates its directory and file', async () => {
    dir = path.join(dir, 'nested', 'journal');
    const journal = await openJournal();
    expect(journal.pending()).toEqual([]);
    expect(await readdir(dir)).toEqual([JOURNAL_FILE]);
  });

  it('keeps appended results across a reopen, in order', async () => {
    const journal = await openJournal();
    const results = [aResult(1), aResult(2), aResult(3)];
    for (const result of results) await journal.append(result);
    expect(journal.pending()).toEqual(results);
    const again = await reopen(journal);
    expect(again.pending()).toEqual(results);
  });

  it('forgets acknowledged results, also across a reopen', async () => {
    const journal = await openJournal();
    for (let n = 1; n <= 4; n += 1) await journal.append(aResult(n));
    await journal.acknowledge([aResult(2).attemptId, aResult(4).attemptId, 'never-appended']);
    expect(journal.pending().map((r) => r.attemptId)).toEqual([aResult(1).attemptId, aResult(3).attemptId]);
    const again = await reopen(journal);
    expect(again.pending()).toEqual([aResult(1), aResult(3)]);
  });

  it('writes nothing for an acknowledgement of results it does not hold', async () => {
    const journal = await openJournal();
    await journal.append(aResult(1));
    await journal.acknowledge(['unknown.1.1']);
    await journal.acknowledge([]);
    expect(journal.stats.fileLines).toBe(1);
    expect(await fileLines()).toHaveLength(1);
  });

  it('ignores a torn last line and appends cleanly after it', async () => {
    const journal = await openJournal();
    await journal.append(aResult(1));
    await journal.append(aResult(2));
    await journal.close();
    // A crash mid-write: part of a line, no newline.
    await appendFile(path.join(dir, JOURNAL_FILE), '{"attemptId":"job-abc123.3.1","epo');

    const reopened = await openJournal();
    expect(reopened.pending()).toEqual([aResult(1), aResult(2)]);
    await reopened.append(aResult(4));
    const again = await reopen(reopened);
    expect(again.pending()).toEqual([aResult(1), aResult(2), aResult(4)]);
  });

  it('refuses to open with a corrupt line that is not the torn tail, naming file and line', async () => {
    const file = path.join(dir, JOURNAL_FILE);
    await writeFile(file, `${JSON.stringify(aResult(1))}\n{"attemptId": oops}\n${JSON.stringify(aResult(2))}\n`);
    await expect(ResultJournal.open(dir)).rejects.toThrow(`result journal ${file} line 2 is corrupt (not JSON`);
  });

  it('treats a complete last line that is not a result as corruption, not a torn write', async () => {
    const file = path.join(dir, JOURNAL_FILE);
    await writeFile(file, `${JSON.stringify(aResult(1))}\n{"attemptId":"x"}\n`);
    await expect(ResultJournal.open(dir)).rejects.toThrow(`result journal ${file} line 2 is corrupt (not a result`);
  });

  it('refuses a malformed ack line', async () => {
    const file = path.join(dir, JOURNAL_FILE);
    await writeFile(file, `${JSON.stringify(aResult(1))}\n{"ack":"job-abc123.1.1"}\n`);
    await expect(ResultJournal.open(dir)).rejects.toThrow(`result journal ${file} line 2 is corrupt (an ack line`);
  });

  it('refuses a result the schema rejects instead of poisoning the file', async () => {
    const journal = await openJournal();
    await expect(journal.append(aResult(1, { reason: 'x'.repeat(5000) }))).rejects.toThrow(/job-abc123\.1\.1.*not valid.*reason/);
    await journal.append(aResult(2));
    const again = await reopen(journal);
    expect(again.pending()).toEqual([aResult(2)]);
  });

  it('group-commits concurrent appends into few fsyncs and keeps their order', async () => {
    const journal = await openJournal();
    const results = Array.from({ length: 2000 }, (_, n) => aResult(n));
    await Promise.all(results.map((result) => journal.append(result)));
    expect(journal.pending()).toEqual(results);
    expect(journal.stats.syncs).toBeGreaterThan(0);
    expect(journal.stats.syncs).toBeLessThan(results.length / 10);
    const again = await reopen(journal);
    expect(again.pending()).toEqual(results);
  });

  it('batches appends that arrive while a write is in flight', async () => {
    const journal = await openJournal();
    const first = journal.append(aResult(0));
    // These arrive on later ticks, while the first write and fsync are under way.
    const later: Promise<void>[] = [];
    for (let n = 1; n <= 200; n += 1) {
      await new Promise((resolve) => setImmediate(resolve));
      later.push(journal.append(aResult(n)));
    }
    await Promise.all([first, ...later]);
    expect(journal.pending()).toHaveLength(201);
    expect(journal.stats.fileLines).toBe(201);
  });

  it('compacts automatically once acknowledged lines dominate, keeping only pending results', async () => {
    const journal = await openJournal({ compactAfterDeadLines: 4 });
    const results = Array.from({ length: 10 }, (_, n) => aResult(n));
    await Promise.all(results.map((result) => journal.append(result)));
    await journal.acknowledge(results.slice(0, 8).map((r) => r.attemptId));
    await journal.close();
    expect(journal.stats.compactions).toBe(1);
    expect((await fileLines()).map((line) => JSON.parse(line) as unknown)).toEqual(results.slice(8));
    expect(await readdir(dir)).toEqual([JOURNAL_FILE]);

    const again = await openJournal();
    expect(again.pending()).toEqual(results.slice(8));
    // The rewritten file takes appends and acks like the original.
    await again.append(aResult(99));
    await again.acknowledge([results[8]?.attemptId ?? '']);
    const third = await reopen(again);
    expect(third.pending()).toEqual([results[9], aResult(99)]);
  });

  it('does not compact while pending results outnumber dead lines', async () => {
    const journal = await openJournal({ compactAfterDeadLines: 1 });
    for (let n = 0; n < 10; n += 1) await journal.append(aResult(n));
    await journal.acknowledge([aResult(0).attemptId]);
    await journal.close();
    expect(journal.stats.compactions).toBe(0);
    expect(await fileLines()).toHaveLength(11);
  });

  it('compacts on request', async () => {
    const journal = await openJournal();
    for (let n = 0; n < 5; n += 1) await journal.append(aResult(n));
    await journal.acknowledge([aResult(1).attemptId, aResult(3).attemptId]);
    await journal.compact();
    expect(journal.stats).toMatchObject({ pending: 3, fileLines: 3, compactions: 1 });
    expect((await fileLines()).map((line) => JSON.parse(line) as unknown)).toEqual([aResult(0), aResult(2), aResult(4)]);
  });

  it('compacts a mostly-dead journal found at open', async () => {
    const lines = [0, 1, 2, 3, 4].map((n) => JSON.stringify(aResult(n)));
    lines.push(JSON.stringify({ ack: [0, 1, 2, 3].map((n) => aResult(n).attemptId) }));
    await writeFile(path.join(dir, JOURNAL_FILE), `${lines.join('\n')}\n`);
    const journal = await openJournal({ compactAfterDeadLines: 2 });
    expect(journal.pending()).toEqual([aResult(4)]);
    await journal.close();
    expect(journal.stats.compactions).toBe(1);
    expect(await fileLines()).toEqual([JSON.stringify(aResult(4))]);
  });

  it('rejects work after close', async () => {
    const journal = await openJournal();
    await journal.close();
    await expect(journal.append(aResult(1))).rejects.toThrow('is closed');
  });
});
