import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AttemptAssignment } from '../../protocol/messages.js';
import type { DriverOutcome, LogStream } from './driver.js';
import { ExecDriver, attemptDirs, formatTimeout, type ExecDriverOptions } from './exec-driver.js';

// Real processes in real temp dirs: the driver's whole job is talking to the OS.

let workRoot: string;
let sequence = 0;

beforeEach(async () => {
  workRoot = await mkdtemp(path.join(os.tmpdir(), 'atoll-exec-driver-'));
});

afterEach(async () => {
  await rm(workRoot, { recursive: true, force: true });
});

function anAssignment(command: readonly string[], overrides: Partial<AttemptAssignment> = {}): AttemptAssignment {
  sequence += 1;
  const jobId = 'hello-7k2m9q';
  const index = 3;
  return {
    attemptId: `${jobId}.${index}.${sequence}`,
    epoch: sequence,
    taskId: `${jobId}.${index}`,
    jobId,
    index,
    stage: 'main',
    stageIndex: index,
    command: [...command],
    env: {},
    cpuMillis: 100,
    memoryBytes: 64 * 2 ** 20,
    timeoutMs: null,
    killGraceMs: 200,
    ...overrides,
  };
}

interface Run {
  readonly outcome: DriverOutcome;
  readonly stdout: string;
  readonly stderr: string;
  readonly started: readonly number[];
  readonly warnings: readonly string[];
}

async function run(
  command: readonly string[],
  overrides: Partial<AttemptAssignment> = {},
  options: Partial<ExecDriverOptions> = {},
): Promise<Run> {
  const warnings: string[] = [];
  const driver = new ExecDriver({ workRoot, nodeName: 'edge-1', onWarning: (m) => warnings.push(m), ...options });
  const logs: Record<LogStream, string> = { stdout: '', stderr: '' };
  const started: number[] = [];
  const attempt = driver.start(anAssignment(command, overrides), {
    onStarted: (at) => started.push(at),
    onLog: (stream, data) => {
      logs[stream] += data;
    },
  });
  const outcome = await attempt.result;
  return { outcome, stdout: logs.stdout, stderr: logs.stderr, started, warnings };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
  // A killed process whose parent died may linger as a zombie until init reaps it: it is gone.
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

async function waitUntilDead(pid: number, withinMs = 3000): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return !isAlive(pid);
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

describe('ExecDriver', () => {
  it('succeeds with exit code 0, reports the start, removes work/ and keeps output/', async () => {
    const warnings: string[] = [];
    const driver = new ExecDriver({ workRoot, nodeName: 'edge-1', onWarning: (m) => warnings.push(m) });
    const assignment = anAssignment(['true']);
    const started: number[] = [];
    const attempt = driver.start(assignment, { onStarted: (at) => started.push(at), onLog: () => undefined });
    expect(attempt.attemptId).toBe(assignment.attemptId);
    const outcome = await attempt.result;

    expect(outcome).toMatchObject({ outcome: 'succeeded', exitCode: 0, reason: null });
    expect(started).toEqual([outcome.startedAt]);
    expect(outcome.finishedAt).toBeGreaterThanOrEqual(outcome.startedAt ?? Infinity);
    const dirs = attemptDirs(workRoot, assignment.attemptId);
    expect(await exists(dirs.work)).toBe(false);
    expect(await exists(dirs.tmp)).toBe(false);
    expect(await exists(dirs.output)).toBe(true);
    // Inputs are copies staged by the agent: they go with the scratch dirs.
    expect(await exists(dirs.input)).toBe(false);
    expect(warnings).toEqual([]);
  });

  it('gives the task its ids, directories and spec env, and nothing else from the agent', async () => {
    process.env['ATOLL_TEST_AGENT_SECRET'] = 'hunter2';
    try {
      const script = [
        'echo "job=$ATOLL_JOB_ID task=$ATOLL_TASK_ID index=$ATOLL_TASK_INDEX attempt=$ATOLL_ATTEMPT_ID node=$ATOLL_NODE"',
        'echo "stage=$ATOLL_STAGE stage-index=$ATOLL_STAGE_TASK_INDEX"',
        'echo "input=$ATOLL_INPUT_DIR output=$ATOLL_OUTPUT_DIR"',
        'echo "home=$HOME pwd=$(pwd) tmp=$TMPDIR greeting=$GREETING lang=$LANG"',
        'echo "secret=${ATOLL_TEST_AGENT_SECRET:-absent}"',
      ].join('; ');
      const { outcome, stdout } = await run(['sh', '-c', script], { env: { GREETING: 'hi there', LANG: 'de_DE.UTF-8' } });
      expect(outcome.outcome).toBe('succeeded');
      const attemptId = `hello-7k2m9q.3.${sequence}`;
      const dirs = attemptDirs(workRoot, attemptId);
      expect(stdout.split('\n')).toEqual([
        `job=hello-7k2m9q task=hello-7k2m9q.3 index=3 attempt=${attemptId} node=edge-1`,
        'stage=main stage-index=3',
        `input=${dirs.input} output=${dirs.output}`,
        `home=${dirs.work} pwd=${dirs.work} tmp=${dirs.tmp} greeting=hi there lang=de_DE.UTF-8`,
        'secret=absent',
        '',
      ]);
    } finally {
      delete process.env['ATOLL_TEST_AGENT_SECRET'];
    }
  });

  it('passes argv as is, without a shell', async () => {
    const { outcome, stdout } = await run(['echo', '$HOME;ls', '*', '`id`']);
    expect(outcome.outcome).toBe('succeeded');
    expect(stdout).toBe('$HOME;ls * `id`\n');
  });

  it('captures stdout and stderr separately', async () => {
    const { outcome, stdout, stderr } = await run(['sh', '-c', 'echo out; echo err >&2; echo more']);
    expect(outcome.outcome).toBe('succeeded');
    expect(stdout).toBe('out\nmore\n');
    expect(stderr).toBe('err\n');
  });

  it('decodes multi-byte characters split across pipe reads', async () => {
    // 3-byte characters: 64 KiB pipe reads cannot all end on a character boundary.
    const { stdout } = await run([process.execPath, '-e', "process.stdout.write('€'.repeat(100000))"]);
    expect(stdout.length).toBe(100_000);
    expect(stdout).toBe('€'.repeat(100_000));
  });

  it('forwards at most logCapBytes per stream, then one truncation line, and still drains the pipe', async () => {
    // 200 KiB is more than a pipe buffer: the task would hang if the driver stopped reading.
    const { outcome, stdout, stderr } = await run(
      ['sh', '-c', 'head -c 204800 /dev/zero | tr "\\0" a; echo small >&2'],
      {},
      { logCapBytes: 100 },
    );
    expect(outcome.outcome).toBe('succeeded');
    expect(stdout).toBe(`${'a'.repeat(100)}\n[atoll: output truncated after 100 bytes]\n`);
    expect(stderr).toBe('small\n');
  });

  it('does not emit a broken character when the cap falls inside one', async () => {
    const { stdout } = await run(['printf', 'ééé'], {}, { logCapBytes: 5 });
    expect(stdout).toBe('éé\n[atoll: output truncated after 5 bytes]\n');
  });

  it('does not report truncation when output exactly fills the cap', async () => {
    const { stdout } = await run(['printf', 'abcd'], {}, { logCapBytes: 4 });
    expect(stdout).toBe('abcd');
  });

  it('fails with the exit code', async () => {
    const { outcome } = await run(['sh', '-c', 'exit 3']);
    expect(outcome).toMatchObject({ outcome: 'failed', exitCode: 3, reason: 'exit code 3' });
    expect(outcome.startedAt).not.toBeNull();
  });

  it('fails with the signal that killed the process', async () => {
    const { outcome } = await run(['sh', '-c', 'kill -USR1 $$']);
    expect(outcome).toMatchObject({ outcome: 'failed', exitCode: null, reason: 'killed by signal SIGUSR1' });
  });

  it('reports a missing executable as a failure without starting', async () => {
    const { outcome, started } = await run(['atoll-no-such-command']);
    expect(outcome).toEqual({
      outcome: 'failed',
      exitCode: null,
      reason: 'executable not found: "atoll-no-such-command" (is it installed and on PATH?)',
      startedAt: null,
      finishedAt: expect.any(Number),
    });
    expect(started).toEqual([]);
  });

  it('reports a file without execute permission as a failure without starting', async () => {
    const script = path.join(workRoot, 'not-executable.sh');
    await writeFile(script, '#!/bin/sh\necho hi\n', { mode: 0o644 });
    const { outcome, started } = await run([script]);
    expect(outcome).toMatchObject({ outcome: 'failed', exitCode: null, startedAt: null });
    expect(outcome.reason).toBe(`not executable: "${script}" (check it is a file with execute permission)`);
    expect(started).toEqual([]);
  });

  it('refuses an attempt id that would escape the work root', async () => {
    const { outcome } = await run(['true'], { attemptId: '../escape' });
    expect(outcome).toMatchObject({ outcome: 'failed', exitCode: null, startedAt: null });
    expect(outcome.reason).toContain('invalid attempt id');
    expect(await readdir(workRoot)).toEqual([]);
  });

  it('times out: TERM to the whole process group, including grandchildren', async () => {
    const { outcome, stdout } = await run(['sh', '-c', 'sleep 300 & echo $!; sleep 300'], { timeoutMs: 200, killGraceMs: 200 });
    expect(outcome).toMatchObject({ outcome: 'failed', reason: 'timed out after 200ms' });
    const grandchild = Number(stdout.trim());
    expect(grandchild).toBeGreaterThan(0);
    expect(await waitUntilDead(grandchild)).toBe(true);
  });

  it('times out: SIGKILL after the grace period when TERM is ignored', async () => {
    // An ignored signal stays ignored across fork and exec, so the whole group shrugs off TERM.
    const startedAt = Date.now();
    const { outcome, stdout } = await run(['sh', '-c', 'trap "" TERM; sleep 300 & echo $!; wait'], {
      timeoutMs: 200,
      killGraceMs: 200,
    });
    expect(outcome).toMatchObject({ outcome: 'failed', exitCode: null, reason: 'timed out after 200ms' });
    expect(await waitUntilDead(Number(stdout.trim()))).toBe(true);
    // Well under the 300s sleep: it was killed, not waited for.
    expect(Date.now() - startedAt).toBeLessThan(20_000);
  });

  it('stops processes a finished task left behind holding its output pipe', async () => {
    const { outcome, stdout } = await run(['sh', '-c', 'sleep 300 & echo $!; echo done']);
    expect(outcome).toMatchObject({ outcome: 'succeeded', exitCode: 0 });
    const [leftover, done] = stdout.trim().split('\n');
    expect(done).toBe('done');
    expect(await waitUntilDead(Number(leftover))).toBe(true);
  });

  it('cancels a running attempt and its process group', async () => {
    const driver = new ExecDriver({ workRoot, nodeName: 'edge-1' });
    let out = '';
    let resolveGrandchild: (pid: number) => void = () => undefined;
    const grandchild = new Promise<number>((resolve) => (resolveGrandchild = resolve));
    const attempt = driver.start(anAssignment(['sh', '-c', 'sleep 300 & echo $!; sleep 300'], { killGraceMs: 200 }), {
      onStarted: () => undefined,
      onLog: (_stream, data) => {
        out += data;
        if (out.includes('\n')) resolveGrandchild(Number(out.trim()));
      },
    });
    const pid = await grandchild;
    attempt.cancel('job cancelled by alice');
    attempt.cancel('second cancel is ignored');
    const outcome = await attempt.result;
    expect(outcome).toMatchObject({ outcome: 'cancelled', reason: 'job cancelled by alice' });
    expect(outcome.startedAt).not.toBeNull();
    expect(await waitUntilDead(pid)).toBe(true);
  });

  it('cancels before the process starts without starting it', async () => {
    const driver = new ExecDriver({ workRoot, nodeName: 'edge-1' });
    const started: number[] = [];
    const attempt = driver.start(anAssignment(['sh', '-c', 'echo should-not-run']), {
      onStarted: (at) => started.push(at),
      onLog: () => undefined,
    });
    attempt.cancel('node draining');
    expect(await attempt.result).toMatchObject({ outcome: 'cancelled', reason: 'node draining', startedAt: null, exitCode: null });
    expect(started).toEqual([]);
  });

  it('ignores cancel after the attempt finished', async () => {
    const driver = new ExecDriver({ workRoot, nodeName: 'edge-1' });
    const attempt = driver.start(anAssignment(['true']), { onStarted: () => undefined, onLog: () => undefined });
    const outcome = await attempt.result;
    attempt.cancel('too late');
    expect(outcome.outcome).toBe('succeeded');
  });

  it('starts in an empty work dir even if a previous run of the attempt left files', async () => {
    const assignment = anAssignment(['ls', '-A']);
    const dirs = attemptDirs(workRoot, assignment.attemptId);
    await mkdir(dirs.work, { recursive: true });
    await writeFile(path.join(dirs.work, 'stale.txt'), 'old');
    await mkdir(dirs.input, { recursive: true });
    await writeFile(path.join(dirs.input, 'staged.csv'), 'a,b');
    let stdout = '';
    const driver = new ExecDriver({ workRoot, nodeName: 'edge-1', keepWorkDirs: true });
    const outcome = await driver.start(assignment, { onStarted: () => undefined, onLog: (_s, d) => (stdout += d) }).result;
    expect(outcome.outcome).toBe('succeeded');
    expect(stdout).toBe('');
    // Staged input survives the fresh start of work/ (and, with keepWorkDirs, the end of the attempt).
    expect(await readdir(dirs.input)).toEqual(['staged.csv']);
  });

  it('keeps work dirs when asked', async () => {
    const assignment = anAssignment(['sh', '-c', 'echo kept > result.txt; echo out > "$ATOLL_OUTPUT_DIR/o.txt"']);
    const driver = new ExecDriver({ workRoot, nodeName: 'edge-1', keepWorkDirs: true });
    await driver.start(assignment, { onStarted: () => undefined, onLog: () => undefined }).result;
    const dirs = attemptDirs(workRoot, assignment.attemptId);
    expect(await readdir(dirs.work)).toEqual(['result.txt']);
    expect(await readdir(dirs.output)).toEqual(['o.txt']);
  });

  it('reports a work dir it cannot remove through onWarning', async (context) => {
    const isRoot = process.getuid?.() === 0;
    // Root ignores permissions, so as root the file is made immutable instead (needs chattr and ext4 or similar).
    const script = isRoot ? 'touch stuck && chattr +i stuck' : 'mkdir locked && touch locked/stuck && chmod 555 locked';
    const assignment = anAssignment(['sh', '-c', script]);
    const dirs = attemptDirs(workRoot, assignment.attemptId);
    const stuck = isRoot ? path.join(dirs.work, 'stuck') : path.join(dirs.work, 'locked');
    const warnings: string[] = [];
    const driver = new ExecDriver({ workRoot, nodeName: 'edge-1', onWarning: (m) => warnings.push(m) });
    const outcome = await driver.start(assignment, { onStarted: () => undefined, onLog: () => undefined }).result;
    try {
      if (outcome.outcome !== 'succeeded') context.skip('cannot make an undeletable file on this machine');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(`could not remove ${dirs.work} after attempt ${assignment.attemptId}`);
    } finally {
      if (isRoot) spawnSync('chattr', ['-i', stuck]);
      else await chmod(stuck, 0o755).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
    }
  });

  it('formats timeouts in their shortest exact unit', () => {
    expect([200, 1500, 2000, 60_000, 90_000, 300_000].map(formatTimeout)).toEqual(['200ms', '1500ms', '2s', '1m', '90s', '5m']);
  });
});
