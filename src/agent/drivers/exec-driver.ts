import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { AttemptAssignment } from '../../protocol/messages.js';
import type { Driver, DriverHooks, DriverOutcome, LogStream, RunningAttempt } from './driver.js';
import type { GroupRecorder } from './process-groups.js';
import { removeSecretFiles, secretEnvironment, SECRETS_DIR_NAME, writeSecretFiles } from './secret-files.js';

// Runs a task's command as a plain process in its own process group and working directory.
// See README.md in this folder for the lifecycle and why it is built this way.

/** Output forwarded per stream per attempt before the rest is dropped. */
export const DEFAULT_LOG_CAP_BYTES = 2 ** 20;

// Used only when the agent itself runs without PATH (e.g. started by a bare init system).
const FALLBACK_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
// setTimeout fires at once for delays above this (they overflow a 32-bit int).
const MAX_TIMER_MS = 2 ** 31 - 1;
// The attempt id becomes a directory name: it must not climb out of workRoot or hide as a dotfile.
const SAFE_ATTEMPT_ID = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$/;

export interface ExecDriverOptions {
  /** Directory (under the agent's data dir) that holds one directory per attempt. */
  readonly workRoot: string;
  /** This node's name, given to tasks as ATOLL_NODE. */
  readonly nodeName: string;
  /** Per stream per attempt; default DEFAULT_LOG_CAP_BYTES. */
  readonly logCapBytes?: number;
  /** Keep each attempt's work/ and tmp/ after it ends (for debugging). */
  readonly keepWorkDirs?: boolean;
  /** Told when each task's process group starts and ends, so a restarted agent can stop leftovers. */
  readonly groups?: GroupRecorder;
  /** Problems that do not change an attempt's outcome (a work dir that could not be removed). Default: process.emitWarning. */
  readonly onWarning?: (message: string) => void;
}

/** The directories of one attempt. */
export interface AttemptDirs {
  readonly root: string;
  /** The task's cwd and HOME; removed when the attempt ends unless keepWorkDirs. */
  readonly work: string;
  readonly input: string;
  /** Kept after the attempt ends so its files can be collected. */
  readonly output: string;
  /** The task's TMPDIR; removed with work/, so temp files never pile up on the node. */
  readonly tmp: string;
  /** ATOLL_SECRETS_DIR: the job's file secrets; always removed when the attempt ends. */
  readonly secrets: string;
}

/** Where an attempt's directories live: `<workRoot>/<attemptId>/{work,input,output,tmp}`. */
export function attemptDirs(workRoot: string, attemptId: string): AttemptDirs {
  const root = path.join(path.resolve(workRoot), attemptId);
  return {
    root,
    work: path.join(root, 'work'),
    input: path.join(root, 'input'),
    output: path.join(root, 'output'),
    tmp: path.join(root, 'tmp'),
    secrets: path.join(root, SECRETS_DIR_NAME),
  };
}

/** `200ms`, `2s`, `5m`: the shortest exact form, for `timed out after …` reasons. */
export function formatTimeout(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms >= 1000 && ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

export class ExecDriver implements Driver {
  private readonly settings: DriverSettings;

  constructor(options: ExecDriverOptions) {
    const logCapBytes = options.logCapBytes ?? DEFAULT_LOG_CAP_BYTES;
    if (!Number.isSafeInteger(logCapBytes) || logCapBytes < 0) {
      throw new RangeError(`logCapBytes must be a whole number of bytes >= 0, got ${logCapBytes}`);
    }
    this.settings = {
      workRoot: path.resolve(options.workRoot),
      nodeName: options.nodeName,
      logCapBytes,
      keepWorkDirs: options.keepWorkDirs ?? false,
      groups: options.groups,
      onWarning: options.onWarning ?? ((message) => process.emitWarning(message, { code: 'ATOLL_EXEC_DRIVER' })),
      // Read once: process.env lookups are slow-ish and the agent's env does not change.
      basePath: process.env['PATH'] ?? FALLBACK_PATH,
      baseLang: process.env['LANG'] ?? 'C.UTF-8',
    };
  }

  start(assignment: AttemptAssignment, hooks: DriverHooks): RunningAttempt {
    return new ExecAttempt(this.settings, assignment, hooks);
  }
}

interface DriverSettings {
  readonly workRoot: string;
  readonly nodeName: string;
  readonly logCapBytes: number;
  readonly keepWorkDirs: boolean;
  readonly groups: GroupRecorder | undefined;
  readonly onWarning: (message: string) => void;
  readonly basePath: string;
  readonly baseLang: string;
}

interface StreamState {
  readonly name: LogStream;
  readonly decoder: StringDecoder;
  forwardedBytes: number;
  truncated: boolean;
  endsWithNewline: boolean;
}

interface Timer {
  clear(): void;
}

class ExecAttempt implements RunningAttempt {
  readonly attemptId: string;
  readonly result: Promise<DriverOutcome>;

  private child: ChildProcess | null = null;
  private startedAt: number | null = null;
  private cancelReason: string | null = null;
  private timedOut = false;
  private leaderExited = false;
  private settled = false;
  private terminating = false;
  private timeoutTimer: Timer | null = null;

  constructor(
    private readonly settings: DriverSettings,
    private readonly assignment: AttemptAssignment,
    private readonly hooks: DriverHooks,
  ) {
    this.attemptId = assignment.attemptId;
    this.result = this.run();
  }

  cancel(reason: string): void {
    // Once the main process has exited the outcome is decided by how it exited.
    if (this.settled || this.leaderExited || this.cancelReason !== null || this.timedOut) return;
    this.cancelReason = reason;
    // Before spawn, run() sees cancelReason after preparing directories and never starts the process.
    if (this.child?.pid !== undefined) this.terminate();
  }

  private async run(): Promise<DriverOutcome> {
    const { attemptId, command } = this.assignment;
    if (!SAFE_ATTEMPT_ID.test(attemptId)) {
      return notStarted('failed', `invalid attempt id ${JSON.stringify(attemptId)}: it must be usable as a directory name`);
    }
    if (command.length === 0) return notStarted('failed', 'the command is empty: expected at least the program to run');
    const dirs = attemptDirs(this.settings.workRoot, attemptId);
    let outcome: DriverOutcome;
    try {
      await prepareDirs(dirs);
      await writeSecretFiles(dirs.secrets, this.assignment.secrets);
      outcome = this.cancelReason !== null ? notStarted('cancelled', this.cancelReason) : await this.runProcess(dirs);
    } catch (error) {
      // Only prepareDirs can reject (runProcess never does): a full disk or a read-only data dir.
      outcome = notStarted('failed', `could not prepare the working directory ${dirs.root}: ${errorText(error)}`);
    }
    if (!this.settings.keepWorkDirs) await this.removeScratchDirs(dirs);
    // Secrets go even when work dirs are kept for debugging: a kept dir must not hold one.
    await removeSecretFiles(dirs.secrets).catch((error: unknown) => this.warn(`could not remove the secrets of attempt ${this.attemptId} (${dirs.secrets}): ${errorText(error)}; remove it by hand`));
    return outcome;
  }

  private runProcess(dirs: AttemptDirs): Promise<DriverOutcome> {
    return new Promise<DriverOutcome>((resolve) => {
      const [program, ...args] = this.assignment.command as [string, ...string[]];
      const finish = (outcome: DriverOutcome): void => {
        if (this.settled) return;
        this.settled = true;
        this.timeoutTimer?.clear();
        resolve(outcome);
      };

      let child: ChildProcess;
      try {
        child = spawn(program, args, {
          cwd: dirs.work,
          env: this.environment(dirs),
          shell: false,
          // Its own process group, so a timeout or cancel reaches everything the task started.
          detached: true,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      } catch (error) {
        // spawn throws synchronously for arguments it cannot pass to the OS (e.g. a NUL byte).
        finish(notStarted('failed', `could not start ${JSON.stringify(program)}: ${errorText(error)}`));
        return;
      }
      this.child = child;

      const stdout = this.streamState('stdout');
      const stderr = this.streamState('stderr');
      // Always read both pipes, even past the cap: a task blocked on a full pipe would never finish.
      child.stdout?.on('data', (chunk: Buffer) => this.onData(stdout, chunk));
      child.stderr?.on('data', (chunk: Buffer) => this.onData(stderr, chunk));
      for (const stream of [child.stdout, child.stderr]) {
        stream?.on('error', (error) => this.warn(`reading output of attempt ${this.attemptId} failed: ${errorText(error)}`));
      }

      child.once('spawn', () => {
        const startedAt = Date.now();
        this.startedAt = startedAt;
        if (child.pid !== undefined) this.settings.groups?.started(child.pid, this.attemptId);
        const { timeoutMs } = this.assignment;
        if (timeoutMs !== null && !this.terminating) {
          this.timeoutTimer = longTimeout(timeoutMs, () => {
            if (this.leaderExited || this.cancelReason !== null) return;
            this.timedOut = true;
            this.terminate();
          });
        }
        this.hooks.onStarted(startedAt);
      });

      child.on('error', (error: NodeJS.ErrnoException) => {
        if (child.pid === undefined) {
          finish(notStarted('failed', spawnFailureReason(program, error)));
        } else {
          // After a successful spawn only signalling can fail, and we signal via process.kill.
          this.warn(`attempt ${this.attemptId}: ${errorText(error)}`);
        }
      });

      child.once('exit', () => {
        this.leaderExited = true;
        this.timeoutTimer?.clear();
        // Whatever the task left running in its group would hold node capacity (and maybe our
        // pipes, delaying 'close' forever): the attempt is over, so they are stopped too.
        this.terminate();
      });

      // 'close' comes after the process exited and both pipes were drained, so every log line
      // has been passed to onLog before the result is known.
      child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
        if (child.pid !== undefined) this.settings.groups?.ended(child.pid);
        if (this.settled) return; // spawn failure, already reported from 'error'
        this.flush(stdout);
        this.flush(stderr);
        finish(this.outcome(code, signal));
      });
    });
  }

  private outcome(code: number | null, signal: NodeJS.Signals | null): DriverOutcome {
    const base = { exitCode: code, startedAt: this.startedAt, finishedAt: Date.now() };
    if (this.cancelReason !== null) return { ...base, outcome: 'cancelled', reason: this.cancelReason };
    if (this.timedOut) {
      return { ...base, outcome: 'failed', reason: `timed out after ${formatTimeout(this.assignment.timeoutMs ?? 0)}` };
    }
    if (code === 0) return { ...base, outcome: 'succeeded', reason: null };
    if (code !== null) return { ...base, outcome: 'failed', reason: `exit code ${code}` };
    return { ...base, outcome: 'failed', reason: `killed by signal ${signal ?? 'unknown'}` };
  }

  /** SIGTERM to the whole process group now, SIGKILL after the grace period. Idempotent. */
  private terminate(): void {
    if (this.terminating) return;
    this.terminating = true;
    if (!this.signalGroup('SIGTERM')) return; // nothing left in the group
    // Deliberately not cleared on 'close': a straggler that closed its pipes still gets killed.
    longTimeout(this.assignment.killGraceMs, () => this.signalGroup('SIGKILL'));
  }

  /** False when the group no longer exists. */
  private signalGroup(signal: NodeJS.Signals): boolean {
    const pid = this.child?.pid;
    if (pid === undefined) return false;
    try {
      process.kill(-pid, signal);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
      this.warn(`could not send ${signal} to the process group of attempt ${this.attemptId}: ${errorText(error)}`);
      return false;
    }
  }

  private environment(dirs: AttemptDirs): NodeJS.ProcessEnv {
    const { assignment, settings } = this;
    // Deliberately not process.env: the agent's environment may hold credentials.
    return {
      PATH: settings.basePath,
      HOME: dirs.work,
      LANG: settings.baseLang,
      TMPDIR: dirs.tmp,
      ATOLL_JOB_ID: assignment.jobId,
      ATOLL_TASK_ID: assignment.taskId,
      ATOLL_TASK_INDEX: String(assignment.index),
      ATOLL_STAGE: assignment.stage,
      ATOLL_STAGE_TASK_INDEX: String(assignment.stageIndex),
      ATOLL_ATTEMPT_ID: assignment.attemptId,
      ATOLL_NODE: settings.nodeName,
      ATOLL_INPUT_DIR: dirs.input,
      ATOLL_OUTPUT_DIR: dirs.output,
      ...assignment.env,
      // The spec refuses a secret whose variable is also in env or is an ATOLL_* one.
      ...secretEnvironment(assignment.secrets, dirs.secrets),
    };
  }

  private streamState(name: LogStream): StreamState {
    return { name, decoder: new StringDecoder('utf8'), forwardedBytes: 0, truncated: false, endsWithNewline: true };
  }

  private onData(state: StreamState, chunk: Buffer): void {
    if (state.truncated) return;
    const room = this.settings.logCapBytes - state.forwardedBytes;
    if (chunk.length <= room) {
      state.forwardedBytes += chunk.length;
      this.emit(state, state.decoder.write(chunk));
      return;
    }
    state.forwardedBytes += room;
    // A character split by the cap stays in the decoder and is never flushed, so no U+FFFD appears.
    this.emit(state, state.decoder.write(chunk.subarray(0, room)));
    state.truncated = true;
    const notice = `[atoll: output truncated after ${this.settings.logCapBytes} bytes]\n`;
    this.emit(state, state.endsWithNewline ? notice : `\n${notice}`);
  }

  private flush(state: StreamState): void {
    if (!state.truncated) this.emit(state, state.decoder.end());
  }

  private emit(state: StreamState, text: string): void {
    if (text.length === 0) return;
    state.endsWithNewline = text.endsWith('\n');
    this.hooks.onLog(state.name, text);
  }

  private async removeScratchDirs(dirs: AttemptDirs): Promise<void> {
    // input/ holds copies the agent staged (the originals stay in its partition store).
    const scratch = [dirs.work, dirs.tmp, dirs.input];
    const removals = await Promise.allSettled(scratch.map((dir) => rm(dir, { recursive: true, force: true })));
    removals.forEach((removal, i) => {
      if (removal.status === 'rejected') {
        const dir = scratch[i]!;
        this.warn(`could not remove ${dir} after attempt ${this.attemptId}: ${errorText(removal.reason)}; remove it by hand to free disk space`);
      }
    });
  }

  private warn(message: string): void {
    this.settings.onWarning(message);
  }
}

async function prepareDirs(dirs: AttemptDirs): Promise<void> {
  // work/ first: its recursive mkdir also creates workRoot and the attempt dir for the others.
  await freshDir(dirs.work);
  // input/ and output/ may already hold files staged for this attempt, so they are not emptied.
  await Promise.all([freshDir(dirs.tmp), mkdir(dirs.input, { recursive: true }), mkdir(dirs.output, { recursive: true })]);
}

/** Create an empty directory, emptying one left by an earlier run of the same attempt (agent restart). */
async function freshDir(dir: string): Promise<void> {
  // mkdir reports the first directory it created; undefined means the directory already existed.
  if ((await mkdir(dir, { recursive: true })) !== undefined) return;
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir);
}

export function notStarted(outcome: 'failed' | 'cancelled', reason: string): DriverOutcome {
  return { outcome, exitCode: null, reason, startedAt: null, finishedAt: Date.now() };
}

function spawnFailureReason(program: string, error: NodeJS.ErrnoException): string {
  const name = JSON.stringify(program);
  switch (error.code) {
    case 'ENOENT':
      return program.includes('/')
        ? `executable not found: ${name} (check the path; relative paths start in the task's work directory)`
        : `executable not found: ${name} (is it installed and on PATH?)`;
    case 'EACCES':
      return `not executable: ${name} (check it is a file with execute permission)`;
    default:
      return `could not start ${name}: ${errorText(error)}`;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** setTimeout that also works for delays above ~24.8 days. */
function longTimeout(ms: number, callback: () => void): Timer {
  let handle: NodeJS.Timeout;
  const arm = (remaining: number): void => {
    handle = setTimeout(() => (remaining > MAX_TIMER_MS ? arm(remaining - MAX_TIMER_MS) : callback()), Math.min(remaining, MAX_TIMER_MS));
  };
  arm(Math.max(0, ms));
  return { clear: () => clearTimeout(handle) };
}
