import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AtollError } from '../core/errors.js';

const LOCK_FILE = 'server.pid';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else, which still means "in use".
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One control plane per data dir: two writers on one SQLite file would each trust their own
 * in-memory state. A lock left by a process that died is taken over.
 */
export function lockDataDir(dataDir: string): () => void {
  const file = join(dataDir, LOCK_FILE);
  for (let tries = 0; tries < 2; tries += 1) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return () => {
        if (readFileSync(file, 'utf8').trim() === String(process.pid)) unlinkSync(file);
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && alive(holder)) {
        throw new AtollError('conflict', `data dir ${dataDir} is in use by another control plane (pid ${holder}); stop it or pass another --data-dir`);
      }
      unlinkSync(file);
    }
  }
  throw new AtollError('conflict', `could not lock data dir ${dataDir}`);
}
