import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AttemptAssignment, AttemptSecret } from '../../protocol/messages.js';
import type { DriverOutcome } from './driver.js';
import { attemptDirs, ExecDriver } from './exec-driver.js';
import { removeLeftoverSecrets } from './secret-files.js';

// Secrets reaching a real task process through the exec driver, and leaving no trace on disk
// once the attempt is over.

const DB_PASSWORD = 'pw-0b5e-only-for-the-task';
const TLS_KEY = 'line one of the key\nline two\n';
const SECRETS: AttemptSecret[] = [
  { name: 'db-password', value: DB_PASSWORD, env: 'DB_PASSWORD' },
  { name: 'tls-key', value: TLS_KEY, file: 'tls.key' },
];

let workRoot: string;
let sequence = 0;

beforeEach(async () => {
  workRoot = await mkdtemp(path.join(os.tmpdir(), 'atoll-secret-files-'));
});

afterEach(async () => {
  await rm(workRoot, { recursive: true, force: true });
});

async function run(script: string, secrets: AttemptSecret[] | undefined, keepWorkDirs = false): Promise<{ outcome: DriverOutcome; stdout: string; attemptId: string; warnings: string[] }> {
  sequence += 1;
  const attemptId = `secrets-job.0.${sequence}`;
  const assignment: AttemptAssignment = {
    attemptId, epoch: sequence, taskId: 'secrets-job.0', jobId: 'secrets-job', index: 0, stage: 'main', stageIndex: 0,
    command: ['sh', '-c', script], env: {}, cpuMillis: 100, memoryBytes: 64 * 2 ** 20, timeoutMs: null, killGraceMs: 200,
    ...(secrets === undefined ? {} : { secrets }),
  };
  const warnings: string[] = [];
  let stdout = '';
  const driver = new ExecDriver({ workRoot, nodeName: 'edge-1', keepWorkDirs, onWarning: (m) => warnings.push(m) });
  const outcome = await driver.start(assignment, { onStarted: () => {}, onLog: (stream, data) => (stream === 'stdout' ? (stdout += data) : undefined) }).result;
  return { outcome, stdout, attemptId, warnings };
}

describe('secrets in the exec driver', () => {
  it('gives env secrets as variables and file secrets as 0600 files in a 0700 ATOLL_SECRETS_DIR inside the attempt dir', async () => {
    const { outcome, stdout, attemptId } = await run(
      'printf "%s\\n" "$DB_PASSWORD" "$ATOLL_SECRETS_DIR" "$(stat -c %a "$ATOLL_SECRETS_DIR")" "$(stat -c %a "$ATOLL_SECRETS_DIR/tls.key")"; cat "$ATOLL_SECRETS_DIR/tls.key"',
      SECRETS,
    );
    expect(outcome).toMatchObject({ outcome: 'succeeded', exitCode: 0 });
    const dirs = attemptDirs(workRoot, attemptId);
    expect(stdout).toBe(`${DB_PASSWORD}\n${dirs.secrets}\n700\n600\n${TLS_KEY}`);
    expect(path.dirname(dirs.secrets)).toBe(dirs.root);
  });

  it('removes the secrets dir when the attempt ends, failed or not, even when work dirs are kept', async () => {
    for (const [script, keep] of [['exit 0', false], ['exit 3', false], ['exit 0', true]] as const) {
      const { outcome, attemptId } = await run(`test -f "$ATOLL_SECRETS_DIR/tls.key" && ${script}`, SECRETS, keep);
      expect(outcome.exitCode).toBe(script === 'exit 3' ? 3 : 0);
      const dirs = attemptDirs(workRoot, attemptId);
      expect(existsSync(dirs.secrets)).toBe(false);
      expect(existsSync(dirs.work)).toBe(keep);
    }
  });

  it('sets no ATOLL_SECRETS_DIR and makes no dir when the job has no file secrets', async () => {
    const { stdout, attemptId } = await run('echo "dir=${ATOLL_SECRETS_DIR-unset} pw=$DB_PASSWORD"', [SECRETS[0]!], true);
    expect(stdout).toBe(`dir=unset pw=${DB_PASSWORD}\n`);
    expect(await readdir(attemptDirs(workRoot, attemptId).root)).not.toContain('secrets');
    expect((await run('echo "${ATOLL_SECRETS_DIR-unset}"', undefined)).stdout).toBe('unset\n');
  });

  it('refuses a file name that would leave the secrets dir, without starting the task or quoting the value', async () => {
    const escaping = [{ name: 'evil', value: DB_PASSWORD, file: '../work/evil' }] as AttemptSecret[];
    const { outcome, attemptId, warnings } = await run('echo started', escaping);
    expect(outcome).toMatchObject({ outcome: 'failed', startedAt: null });
    expect(outcome.reason).toContain('secret evil has an unusable file name');
    expect(outcome.reason).not.toContain(DB_PASSWORD);
    expect(warnings.join('\n')).not.toContain(DB_PASSWORD);
    expect(existsSync(path.join(attemptDirs(workRoot, attemptId).root, 'work', 'evil'))).toBe(false);
  });
});

describe('removeLeftoverSecrets', () => {
  it('removes every attempt\'s secrets dir and nothing else', async () => {
    for (const attempt of ['a.0.1', 'b.0.1']) {
      await mkdir(path.join(workRoot, attempt, 'secrets'), { recursive: true });
      await writeFile(path.join(workRoot, attempt, 'secrets', 'tls.key'), TLS_KEY);
      await mkdir(path.join(workRoot, attempt, 'output'), { recursive: true });
    }
    await mkdir(path.join(workRoot, 'c.0.1', 'output'), { recursive: true });
    // The process-group ledger lives in the work root as a file, not a dir.
    await writeFile(path.join(workRoot, 'process-groups.log'), '');
    expect((await removeLeftoverSecrets(workRoot)).sort()).toEqual(['a.0.1', 'b.0.1']);
    for (const attempt of ['a.0.1', 'b.0.1', 'c.0.1']) {
      expect(await readdir(path.join(workRoot, attempt))).toEqual(['output']);
    }
    expect(await removeLeftoverSecrets(path.join(workRoot, 'missing'))).toEqual([]);
  });
});
