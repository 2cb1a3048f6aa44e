import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lockDataDir } from './data-dir-lock.js';

describe('lockDataDir', () => {
  const dir = () => mkdtempSync(join(tmpdir(), 'atoll-lock-'));

  it('refuses a second lock while the first is held, and allows it after release', () => {
    const d = dir();
    const release = lockDataDir(d);
    expect(readFileSync(join(d, 'server.pid'), 'utf8').trim()).toBe(String(process.pid));
    // Pretend another live process holds it: our parent is alive and is not us.
    writeFileSync(join(d, 'server.pid'), `${process.ppid}\n`);
    expect(() => lockDataDir(d)).toThrow(`in use by another control plane (pid ${process.ppid})`);
    writeFileSync(join(d, 'server.pid'), `${process.pid}\n`);
    release();
    expect(existsSync(join(d, 'server.pid'))).toBe(false);
    lockDataDir(d)();
  });

  it('takes over a lock left by a process that no longer exists', () => {
    const d = dir();
    // Pid numbers this high are not in use on Linux's default pid_max (4194304 at most).
    writeFileSync(join(d, 'server.pid'), '99999999\n');
    const release = lockDataDir(d);
    expect(readFileSync(join(d, 'server.pid'), 'utf8').trim()).toBe(String(process.pid));
    release();
  });
});
