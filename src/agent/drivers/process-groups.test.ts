import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { recordGroup, reapOrphanedGroups } from './process-groups.js';

function isRunning(pid: number): boolean {
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    return state !== 'Z';
  } catch {
    // No /proc entry: the process is gone.
    return false;
  }
}

describe.runIf(process.platform === 'linux')('process groups left by a killed agent', () => {
  it('stops a recorded group, grandchildren included, and forgets it', async () => {
    const workRoot = mkdtempSync(join(tmpdir(), 'atoll-reap-'));
    const root = join(workRoot, 'job-1.0.1');
    mkdirSync(root);
    const child = spawn('sh', ['-c', 'sleep 30 & echo $!; wait'], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
    const grandchild = await new Promise<number>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
    await recordGroup(root, child.pid!);
    expect(readFileSync(join(root, 'pgid'), 'utf8')).toMatch(new RegExp(`^${child.pid} \\d+\\n$`));

    expect(await reapOrphanedGroups(workRoot)).toEqual(['job-1.0.1']);
    await new Promise((r) => setTimeout(r, 100));
    expect(isRunning(child.pid!)).toBe(false);
    expect(isRunning(grandchild)).toBe(false);
    expect(existsSync(join(root, 'pgid'))).toBe(false);
  });

  it('leaves alone a pid that now belongs to another process (start time differs)', async () => {
    const workRoot = mkdtempSync(join(tmpdir(), 'atoll-reap-'));
    const root = join(workRoot, 'job-2.0.1');
    mkdirSync(root);
    const other = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    try {
      writeFileSync(join(root, 'pgid'), `${other.pid} 1\n`);
      expect(await reapOrphanedGroups(workRoot)).toEqual([]);
      expect(isRunning(other.pid!)).toBe(true);
      expect(existsSync(join(root, 'pgid'))).toBe(false);
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('has nothing to do without a work root', async () => {
    expect(await reapOrphanedGroups(join(tmpdir(), 'atoll-no-such-dir-xyz'))).toEqual([]);
  });
});
