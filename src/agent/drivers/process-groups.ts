import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

// Each attempt's process group is recorded in `<attempt dir>/pgid` while it may be alive. An
// agent killed with SIGKILL cannot stop its tasks (they run in their own groups), so on the
// next start it reads these files and stops what is left: otherwise a task would run twice
// once the control plane places it again, and the node would run past its capacity.

const PGID_FILE = 'pgid';
const TERM_GRACE_MS = 2000;

interface ProcStat {
  readonly pid: number;
  readonly pgrp: number;
  readonly startTime: string;
  readonly zombie: boolean;
}

/** Fields of /proc/<pid>/stat after the command name (which may itself hold spaces or parens). */
function parseStat(pid: number, text: string): ProcStat | undefined {
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const pgrp = Number(fields[2]);
  if (!Number.isInteger(pgrp) || fields[19] === undefined) return undefined;
  return { pid, pgrp, startTime: fields[19], zombie: fields[0] === 'Z' };
}

async function readStat(pid: number): Promise<ProcStat | undefined> {
  try {
    return parseStat(pid, await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ESRCH') return undefined;
    throw error;
  }
}

async function liveMembers(pgid: number): Promise<ProcStat[]> {
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(Number);
  const stats = await Promise.all(pids.map(readStat));
  return stats.filter((s): s is ProcStat => s !== undefined && s.pgrp === pgid && !s.zombie);
}

/** Records the group of a task that just started (Linux; elsewhere there is nothing to read back). */
export async function recordGroup(attemptRoot: string, pid: number): Promise<void> {
  if (process.platform !== 'linux') return;
  const stat = await readStat(pid);
  if (stat) await writeFile(join(attemptRoot, PGID_FILE), `${pid} ${stat.startTime}\n`);
}

export async function forgetGroup(attemptRoot: string): Promise<void> {
  await rm(join(attemptRoot, PGID_FILE), { force: true });
}

/**
 * Stops process groups left by an earlier run of this agent. A group is ours if its leader is
 * alive with the recorded start time, or if the leader is gone but members remain (Linux does
 * not hand out a pid that is still some group's id). Returns the attempt ids it stopped.
 */
export async function reapOrphanedGroups(workRoot: string): Promise<string[]> {
  if (process.platform !== 'linux') return [];
  let attempts: string[];
  try {
    attempts = await readdir(workRoot);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const reaped: string[] = [];
  for (const attempt of attempts) {
    const root = join(workRoot, attempt);
    let record: string;
    try {
      record = await readFile(join(root, PGID_FILE), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') continue;
      throw error;
    }
    const [pidText, startTime] = record.trim().split(' ');
    const pgid = Number(pidText);
    if (!Number.isInteger(pgid) || pgid <= 1) continue;
    const members = await liveMembers(pgid);
    const leader = members.find((m) => m.pid === pgid);
    const ours = members.length > 0 && (leader === undefined || leader.startTime === startTime);
    if (ours) {
      await stopGroup(pgid);
      reaped.push(attempt);
    }
    await forgetGroup(root);
  }
  return reaped;
}

async function stopGroup(pgid: number): Promise<void> {
  signalGroup(pgid, 'SIGTERM');
  const deadline = Date.now() + TERM_GRACE_MS;
  while (Date.now() < deadline && (await liveMembers(pgid)).length > 0) await new Promise((r) => setTimeout(r, 50));
  if ((await liveMembers(pgid)).length > 0) signalGroup(pgid, 'SIGKILL');
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (error) {
    // ESRCH: the group ended on its own in the meantime, which is what we wanted.
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}
