import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

// Tasks run in their own process groups, so an agent killed with SIGKILL cannot stop them: they
// would run on next to their replacements once the control plane places them again, and the
// node would run past its capacity. The agent therefore keeps a ledger of the groups it started
// (`+ pgid spawn-time attempt` / `- pgid`), and on its next start stops every group the ledger
// says may still be alive. Appends are small synchronous writes without fsync: the ledger only
// has to outlive the agent process, not the machine (a machine crash ends the tasks too).

const LEDGER_FILE = 'process-groups.log';
const TERM_GRACE_MS = 2000;
/** How far the kernel's start time of a leader may be from the recorded spawn time. */
const START_TOLERANCE_MS = 2000;
/** Ledger size at which it is emptied the next time no task runs. */
const TRUNCATE_AFTER_BYTES = 1024 * 1024;
/** Linux clock ticks per second for /proc start times (USER_HZ, 100 on every mainstream arch). */
const CLOCK_TICKS = 100;

interface ProcStat {
  readonly pid: number;
  readonly pgrp: number;
  readonly startTicks: number;
  readonly zombie: boolean;
}

/** Fields of /proc/<pid>/stat after the command name (which may itself hold spaces or parens). */
function parseStat(pid: number, text: string): ProcStat | undefined {
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const pgrp = Number(fields[2]);
  const startTicks = Number(fields[19]);
  if (!Number.isInteger(pgrp) || !Number.isFinite(startTicks)) return undefined;
  return { pid, pgrp, startTicks, zombie: fields[0] === 'Z' };
}

async function readStat(pid: number): Promise<ProcStat | undefined> {
  try {
    return parseStat(pid, await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return undefined;
    throw error;
  }
}

async function liveMembers(pgid: number): Promise<ProcStat[]> {
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(Number);
  const stats = await Promise.all(pids.map(readStat));
  return stats.filter((s): s is ProcStat => s !== undefined && s.pgrp === pgid && !s.zombie);
}

async function bootTimeMs(): Promise<number> {
  const btime = /^btime (\d+)$/m.exec(await readFile('/proc/stat', 'utf8'))?.[1];
  if (btime === undefined) throw new Error('no btime in /proc/stat');
  return Number(btime) * 1000;
}

/** Groups the ledger says were started and not seen to end: pgid -> { spawnedAt, attempt }. */
function liveEntries(text: string): Map<number, { spawnedAt: number; attempt: string }> {
  const live = new Map<number, { spawnedAt: number; attempt: string }>();
  for (const line of text.split('\n')) {
    const [op, pid, spawnedAt, attempt] = line.split(' ');
    if (op === '+' && pid && spawnedAt && attempt) live.set(Number(pid), { spawnedAt: Number(spawnedAt), attempt });
    else if (op === '-' && pid) live.delete(Number(pid));
  }
  return live;
}

export interface GroupRecorder {
  started(pid: number, attemptId: string): void;
  ended(pid: number): void;
}

export class ProcessGroupLedger implements GroupRecorder {
  private bytes = 0;
  private running = 0;

  private constructor(private readonly fd: number) {}

  /**
   * Stops the groups a previous agent process left running, then starts a fresh ledger.
   * A group is ours if its leader is alive and started when we recorded, or if the leader is
   * gone but members remain (Linux hands out no pid that is still some group's id).
   * Returns the ledger and the attempt ids whose tasks it stopped.
   */
  static async open(workRoot: string): Promise<{ ledger: ProcessGroupLedger; reaped: string[] }> {
    const file = join(workRoot, LEDGER_FILE);
    const reaped: string[] = [];
    if (process.platform === 'linux') {
      let text = '';
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
      const entries = liveEntries(text);
      const boot = entries.size > 0 ? await bootTimeMs() : 0;
      for (const [pgid, entry] of entries) {
        const members = await liveMembers(pgid);
        const leader = members.find((m) => m.pid === pgid);
        const leaderStartedAt = leader ? boot + (leader.startTicks * 1000) / CLOCK_TICKS : undefined;
        const ours = members.length > 0 && (leaderStartedAt === undefined || Math.abs(leaderStartedAt - entry.spawnedAt) <= START_TOLERANCE_MS);
        if (!ours) continue;
        await stopGroup(pgid);
        reaped.push(entry.attempt);
      }
    }
    const fd = openSync(file, 'w', 0o600);
    return { ledger: new ProcessGroupLedger(fd), reaped };
  }

  started(pid: number, attemptId: string): void {
    this.running += 1;
    this.append(`+ ${pid} ${Date.now()} ${attemptId}\n`);
  }

  ended(pid: number): void {
    this.running = Math.max(0, this.running - 1);
    this.append(`- ${pid}\n`);
    if (this.running === 0 && this.bytes > TRUNCATE_AFTER_BYTES) {
      ftruncateSync(this.fd, 0);
      this.bytes = 0;
    }
  }

  close(): void {
    closeSync(this.fd);
  }

  private append(line: string): void {
    this.bytes += writeSync(this.fd, line);
  }
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
