import { spawn, type ChildProcess } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, chown, lchown, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { availableParallelism, constants as osConstants } from 'node:os';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { AttemptAssignment } from '../../protocol/messages.js';
import type { Driver, DriverHooks, DriverOutcome, LogStream, RunningAttempt } from './driver.js';
import { hostPathOf, SANDBOX_DIRS, sandboxArgv, TASK_GID, TASK_UID, type SandboxedRun } from './bwrap-sandbox.js';
import type { GroupRecorder } from './process-groups.js';
import { hasFileSecrets, removeSecretFiles, secretEnvironment, SECRETS_DIR_NAME, writeSecretFiles } from './secret-files.js';
import type { SandboxMode } from './sandbox-probe.js';
import { StartGate } from './start-gate.js';
import { resolveLimits, signalMeaning, type ResolvedLimits } from './task-limits.js';

// Runs a task's command in its own process group and working directory: under bubblewrap with
// resource limits when the agent found it (bwrap-sandbox.ts), else as a plain process.
// See README.md in this folder for the lifecycle and why it is built this way.

/** The descriptor (after stdin, stdout, stderr) on which bwrap says its namespaces exist. */
const SANDBOX_INFO_FD = 3;

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
  /** How tasks run (sandbox-probe.ts); default plain processes, as the driver's own tests want. */
  readonly sandbox?: SandboxMode;
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
      sandbox: options.sandbox ?? { kind: 'none' },
      // Two per core: enough to keep the cores busy making sandboxes, few enough to leave the agent some.
      startGate: new StartGate(Math.max(2, 2 * availableParallelism())),
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
  readonly sandbox: SandboxMode;
  readonly startGate: StartGate;
}

/** How one attempt's process is started: the argv to spawn and the paths the task is told. */
interface Launch {
  readonly file: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** Set when sandboxed: what an exit code above 128 means is then told in the reason. */
  readonly limits: ResolvedLimits | null;
  /** Sandboxed: hold a place at the start gate until bwrap reports on SANDBOX_INFO_FD. */
  readonly gated: boolean;
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
    const { sandbox } = this.settings;
    if (sandbox.kind === 'refuse') return notStarted('failed', sandbox.reason);
    const dirs = attemptDirs(this.settings.workRoot, attemptId);
    let outcome: DriverOutcome;
    try {
      await prepareDirs(dirs);
      await writeSecretFiles(dirs.secrets, this.assignment.secrets);
      // Root hands sandboxed tasks to TASK_UID, which must be able to write its own dirs and read
      // its inputs (staged as the store's 0600 copies; the store itself is never touched) and its
      // secret files (0600, for the task's user alone).
      if (sandbox.kind === 'bwrap' && sandbox.host.setpriv !== null) {
        await Promise.all([dirs.work, dirs.tmp, dirs.output].map((dir) => chown(dir, TASK_UID, TASK_GID)));
        await chownTree(dirs.input, TASK_UID, TASK_GID);
        if (hasFileSecrets(this.assignment.secrets)) await chownTree(dirs.secrets, TASK_UID, TASK_GID);
      }
    } catch (error) {
      // A full disk, a read-only data dir.
      if (!this.settings.keepWorkDirs) await this.removeScratchDirs(dirs);
      return notStarted('failed', `could not prepare the working directory ${dirs.root}: ${errorText(error)}`);
    }
    // A lookup that fails for another reason than a missing file (EIO, ELOOP) fails the attempt with it.
    const launch = await this.launch(dirs).catch((error: unknown) => `could not look up ${JSON.stringify(command[0])} for the sandbox: ${errorText(error)}`);
    if (typeof launch === 'string') outcome = notStarted('failed', launch);
    else {
      const release = launch.gated ? await this.settings.startGate.acquire() : () => undefined;
      if (this.cancelReason !== null) {
        release();
        outcome = notStarted('cancelled', this.cancelReason);
      } else {
        outcome = await this.runProcess(dirs, launch, release);
      }
    }
    if (!this.settings.keepWorkDirs) await this.removeScratchDirs(dirs);
    // Secrets go even when work dirs are kept for debugging: a kept dir must not hold one.
    await removeSecretFiles(dirs.secrets).catch((error: unknown) => this.warn(`could not remove the secrets of attempt ${this.attemptId} (${dirs.secrets}): ${errorText(error)}; remove it by hand`));
    return outcome;
  }

  /** What to spawn, or why the task cannot start. */
  private async launch(dirs: AttemptDirs): Promise<Launch | string> {
    const { sandbox } = this.settings;
    const [program, ...args] = this.assignment.command as [string, ...string[]];
    if (sandbox.kind !== 'bwrap') return { file: program, args, env: this.environment(dirs), limits: null, gated: false };
    const env = this.environment(SANDBOX_DIRS);
    const run: SandboxedRun = {
      dirs, network: this.assignment.network === true, limits: resolveLimits(this.assignment),
      ...(hasFileSecrets(this.assignment.secrets) ? { secrets: dirs.secrets } : {}),
      command: [program, ...args], infoFd: SANDBOX_INFO_FD,
    };
    // `env` runs the program inside the sandbox and would take a name with `=` for a variable.
    if (program.includes('=')) return `cannot run ${JSON.stringify(program)} in the sandbox: a program name may not hold "="`;
    // Looked up here, as the sandbox will see it, so a missing program gets the same reason as
    // without a sandbox instead of the exit code 127 of the `env` inside it.
    const missing = await missingProgramReason(program, env['PATH'] ?? '', (p) => hostPathOf(sandbox.host, run, p));
    if (missing !== null) return missing;
    const { file, args: wrapped } = sandboxArgv(sandbox.host, run);
    return { file, args: wrapped, env, limits: run.limits, gated: true };
  }

  /** `release` gives the start gate's place back; called once bwrap made the sandbox, or the process is gone. */
  private runProcess(dirs: AttemptDirs, launch: Launch, release: () => void): Promise<DriverOutcome> {
    return new Promise<DriverOutcome>((resolve) => {
      const program = this.assignment.command[0]!;
      const finish = (outcome: DriverOutcome): void => {
        if (this.settled) return;
        this.settled = true;
        this.timeoutTimer?.clear();
        resolve(outcome);
      };

      let child: ChildProcess;
      try {
        child = spawn(launch.file, launch.args, {
          cwd: dirs.work,
          env: launch.env,
          shell: false,
          // Its own process group, so a timeout or cancel reaches everything the task started.
          detached: true,
          stdio: launch.gated ? ['ignore', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'],
        });
      } catch (error) {
        release();
        // spawn throws synchronously for arguments it cannot pass to the OS (e.g. a NUL byte).
        finish(notStarted('failed', `could not start ${JSON.stringify(program)}: ${errorText(error)}`));
        return;
      }
      this.child = child;
      // bwrap writes a line of JSON and closes the descriptor once the namespaces exist; whatever
      // comes first of that, an error or the exit gives the place back (release is idempotent).
      const info = child.stdio[SANDBOX_INFO_FD];
      if (info) {
        info.on('data', release);
        info.on('close', release);
        info.on('error', release);
      } else {
        release();
      }
      child.once('exit', release);
      child.once('error', release);

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
        finish(this.outcome(code, signal, launch.limits));
      });
    });
  }

  private outcome(code: number | null, signal: NodeJS.Signals | null, limits: ResolvedLimits | null): DriverOutcome {
    const base = { exitCode: code, startedAt: this.startedAt, finishedAt: Date.now() };
    if (this.cancelReason !== null) return { ...base, outcome: 'cancelled', reason: this.cancelReason };
    if (this.timedOut) {
      return { ...base, outcome: 'failed', reason: `timed out after ${formatTimeout(this.assignment.timeoutMs ?? 0)}` };
    }
    if (code === 0) return { ...base, outcome: 'succeeded', reason: null };
    if (code !== null) return { ...base, outcome: 'failed', reason: `exit code ${code}${limits === null ? '' : sandboxedExitMeaning(code, limits)}` };
    // Sandboxed, only bwrap itself can be killed by a signal: a SIGKILL after the kill grace.
    return { ...base, outcome: 'failed', reason: `killed by signal ${signal === null ? 'unknown' : limits === null ? signal : signalMeaning(signal, limits)}` };
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

  /** The task's environment, naming its directories as the task sees them. */
  private environment(dirs: Pick<AttemptDirs, 'work' | 'tmp' | 'input' | 'output' | 'secrets'>): NodeJS.ProcessEnv {
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

/** lchown a directory and everything under it (links themselves, never what they point to). */
async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  const entries = await readdir(dir, { recursive: true });
  await lchown(dir, uid, gid);
  for (const entry of entries) await lchown(path.join(dir, entry), uid, gid);
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

/** bwrap exits 128+N when the task was killed by signal N (as shells do): say which, and why if it was a limit. */
function sandboxedExitMeaning(code: number, limits: ResolvedLimits): string {
  if (code <= 128) return '';
  const name = Object.entries(osConstants.signals).find(([, n]) => n === code - 128)?.[0];
  return name === undefined ? '' : ` (killed by signal ${signalMeaning(name, limits)})`;
}

/** The reason a spawn of `program` would fail with ENOENT or EACCES, looked up through `hostPath`; null when it can start. */
async function missingProgramReason(program: string, pathEnv: string, hostPath: (sandboxPath: string) => string | null): Promise<string | null> {
  const candidates = program.includes('/') ? [program] : pathEnv.split(':').filter((dir) => dir.startsWith('/')).map((dir) => path.posix.join(dir, program));
  let notExecutable = false;
  for (const candidate of candidates) {
    const onHost = hostPath(candidate);
    if (onHost === null) continue;
    const info = await stat(onHost).catch((error: NodeJS.ErrnoException) => {
      // Not here, or in a dir this agent may not enter: try the next PATH entry, as execvp does.
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR' || error.code === 'EACCES') return null;
      throw error;
    });
    if (info === null || !info.isFile()) continue;
    try {
      await access(onHost, fsConstants.X_OK);
      return null;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EACCES') throw error;
      notExecutable = true; // there but not executable: execvp would go on looking, then say EACCES
    }
  }
  return spawnFailureReason(program, { code: notExecutable ? 'EACCES' : 'ENOENT' } as NodeJS.ErrnoException);
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
