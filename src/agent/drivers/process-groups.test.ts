import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProcessGroupLedger } from './process-groups.js';

function isRunning(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    // No /proc entry: the process is gone.
    return false;
  }
}

const workRoot = () => mkdtempSync(join(tmpdir(), 'atoll-groups-'));

describe.runIf(process.platform === 'linux')('ProcessGroupLedger', () => {
  it('stops groups a previous agent left running, grandchildren included', async () => {
    const root = workRoot();
    const { ledger: first } = await ProcessGroupLedger.open(root);
    const child = spawn('sh', ['-c', 'sleep 30 & echo $!; wait'], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
    const grandchild = await new Promise<number>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
    first.started(child.pid!, 'job-1.0.1');
    const ended = spawn('true', { detached: true });
    first.started(ended.pid!, 'job-1.1.1');
    first.ended(ended.pid!);
    // The agent "dies" here: no ended() for job-1.0.1.

    const { ledger: second, reaped } = await ProcessGroupLedger.open(root);
    expect(reaped).toEqual(['job-1.0.1']);
    await new Promise((r) => setTimeout(r, 100));
    expect(isRunning(child.pid!)).toBe(false);
    expect(isRunning(grandchild)).toBe(false);
    // The new ledger starts empty: a third start has nothing to stop.
    second.close();
    expect((await ProcessGroupLedger.open(root)).reaped).toEqual([]);
  });

  it('leaves alone a pid that now belongs to a process started at another time', async () => {
    const root = workRoot();
    const other = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 50));
      writeFileSync(join(root, 'process-groups.log'), `+ ${other.pid} ${Date.now() - 3_600_000} job-2.0.1\n`);
      expect((await ProcessGroupLedger.open(root)).reaped).toEqual([]);
      expect(isRunning(other.pid!)).toBe(true);
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('ignores groups that already ended and torn lines', async () => {
    const root = workRoot();
    writeFileSync(join(root, 'process-groups.log'), '+ 999999 1 job-3.0.1\n- 999999\n+ 12');
    expect((await ProcessGroupLedger.open(root)).reaped).toEqual([]);
  });
});
