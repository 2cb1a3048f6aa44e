import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AttemptAssignment } from '../../protocol/messages.js';
import { attemptDirs, ExecDriver } from './exec-driver.js';
import { probeSandbox, type SandboxMode } from './sandbox-probe.js';

// The exec driver's sandbox modes with real processes: `refuse` never spawns, and `bwrap` (when
// this machine has it) keeps the driver's contract: reasons a user can act on, inputs readable.

let workRoot: string;
let sequence = 0;

beforeAll(async () => {
  workRoot = await mkdtemp(path.join(os.tmpdir(), 'atoll-sandboxed-driver-'));
});

afterAll(async () => {
  await rm(workRoot, { recursive: true, force: true });
});

function anAssignment(command: readonly string[], overrides: Partial<AttemptAssignment> = {}): AttemptAssignment {
  sequence += 1;
  return {
    attemptId: `boxed-job.0.${sequence}`, epoch: 1, taskId: 'boxed-job.0', jobId: 'boxed-job', index: 0, stage: 'main', stageIndex: 0,
    command: [...command], env: {}, cpuMillis: 100, memoryBytes: 64 * 2 ** 20, timeoutMs: null, killGraceMs: 500, ...overrides,
  };
}

async function run(sandbox: SandboxMode, command: readonly string[], overrides: Partial<AttemptAssignment> = {}) {
  const driver = new ExecDriver({ workRoot, nodeName: 'edge-1', sandbox });
  let stdout = '';
  let started = 0;
  const assignment = anAssignment(command, overrides);
  const attempt = driver.start(assignment, { onStarted: () => (started += 1), onLog: (stream, data) => (stream === 'stdout' ? (stdout += data) : undefined) });
  return { outcome: await attempt.result, stdout, started, assignment };
}

describe('an exec driver told to refuse', () => {
  it('fails every attempt with the reason, starting nothing and making no dirs', async () => {
    const reason = 'node edge-1 cannot sandbox tasks: bubblewrap (bwrap) is not on PATH';
    const { outcome, started, assignment } = await run({ kind: 'refuse', reason }, ['sh', '-c', 'echo ran']);
    expect(outcome).toMatchObject({ outcome: 'failed', reason, exitCode: null, startedAt: null });
    expect(started).toBe(0);
    expect(existsSync(attemptDirs(workRoot, assignment.attemptId).root)).toBe(false);
  });
});

const probe = process.platform === 'linux' ? await probeSandbox({ hide: [], scratchDir: path.join(os.tmpdir(), `atoll-probe-${process.pid}`) }) : null;

describe.skipIf(probe?.ok !== true)('an exec driver sandboxing with bwrap', () => {
  const sandbox = (): SandboxMode => (probe?.ok ? { kind: 'bwrap', host: probe.host } : { kind: 'none' });

  it('reports a missing program as without a sandbox', async () => {
    const { outcome } = await run(sandbox(), ['atoll-no-such-program-xyz']);
    expect(outcome).toMatchObject({ outcome: 'failed', startedAt: null, reason: 'executable not found: "atoll-no-such-program-xyz" (is it installed and on PATH?)' });
    const relative = await run(sandbox(), ['./missing.sh']);
    expect(relative.outcome.reason).toBe('executable not found: "./missing.sh" (check the path; relative paths start in the task\'s work directory)');
  });

  it('refuses a program name holding "=", which env inside the sandbox would take for a variable', async () => {
    const { outcome } = await run(sandbox(), ['A=b', 'x']);
    expect(outcome.reason).toBe('cannot run "A=b" in the sandbox: a program name may not hold "="');
  });

  it('names the signal behind an exit code above 128, and the limit for SIGXCPU', async () => {
    const killed = await run(sandbox(), ['sh', '-c', 'kill -SEGV $$']);
    expect(killed.outcome).toMatchObject({ outcome: 'failed', exitCode: 139, reason: 'exit code 139 (killed by signal SIGSEGV)' });
    const spun = await run(sandbox(), ['sh', '-c', 'while :; do :; done'], { limits: { cpuTime: 1000 } });
    expect(spun.outcome.reason).toBe('exit code 152 (killed by signal SIGXCPU: it used its CPU time limit of 1s (raise limits.cpuTime or timeout))');
  });

  it('lets the task read inputs staged before it started, even ones only the agent could read', async () => {
    const assignment = anAssignment(['sh', '-c', 'cat "$ATOLL_INPUT_DIR/d/p"']);
    const dirs = attemptDirs(workRoot, assignment.attemptId);
    await mkdir(path.join(dirs.input, 'd'), { recursive: true, mode: 0o700 });
    await writeFile(path.join(dirs.input, 'd', 'p'), 'staged bytes\n', { mode: 0o600 });
    const driver = new ExecDriver({ workRoot, nodeName: 'edge-1', sandbox: sandbox() });
    let stdout = '';
    const outcome = await driver.start(assignment, { onStarted: () => undefined, onLog: (_s, data) => (stdout += data) }).result;
    expect(outcome.outcome).toBe('succeeded');
    expect(stdout).toBe('staged bytes\n');
  });
});
